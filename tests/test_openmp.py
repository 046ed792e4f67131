"""`import seqlab` leaves libgomp's wait policy alone unless SEQLAB_PASSIVE_WAIT=1 asks idle
OpenMP threads to sleep (OMP_WAIT_POLICY=PASSIVE); a user's own setting, or torch imported
first, wins; libgomp, loaded with torch, reads it. `threads="auto"` counts other work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqlab._openmp import OPT_IN, USER_VARIABLES, prefer_passive_wait
from seqlab.training.runtime import auto_threads

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter whose environment has neither OpenMP wait
    variable, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in (*USER_VARIABLES, OPT_IN)}
    base["PYTHONPATH"] = SRC + os.pathsep + base.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


READ = "import os, seqlab; print(os.environ.get('OMP_WAIT_POLICY'))"


def test_import_seqlab_leaves_the_wait_policy_alone_by_default():
    assert _python(READ).stdout.strip() == "None"
    assert _python(READ, SEQLAB_PASSIVE_WAIT="1").stdout.strip() == "PASSIVE"


@pytest.mark.parametrize("value", ["ACTIVE", "passive"])
def test_a_users_wait_policy_is_kept(value):
    assert _python(READ, OMP_WAIT_POLICY=value, SEQLAB_PASSIVE_WAIT="1").stdout.strip() == value


def test_a_users_spin_count_leaves_the_policy_unset():
    out = _python(READ, GOMP_SPINCOUNT="300000", SEQLAB_PASSIVE_WAIT="1")
    assert out.stdout.strip() == "None"


def test_nothing_is_set_once_torch_is_imported():
    # libgomp has read the environment already: setting it then would only mislead
    env: dict[str, str] = {OPT_IN: "1"}
    assert not prefer_passive_wait(env, modules={"torch"})
    assert env == {OPT_IN: "1"}
    assert prefer_passive_wait(env, modules={"numpy"})
    assert env == {OPT_IN: "1", "OMP_WAIT_POLICY": "PASSIVE"}


def test_auto_threads_gives_up_the_cores_other_work_uses():
    readings = iter([3, 2, 2, 3, 2])  # the smallest reading counts: 1 other runnable task
    assert auto_threads(default=2, cpus=2, running=lambda: next(readings)) == 1
    assert auto_threads(default=2, cpus=2, running=lambda: 1, samples=1) == 2
    assert auto_threads(default=4, cpus=2, running=lambda: 9, samples=1) == 1  # never 0
    assert auto_threads(default=1, cpus=8, running=lambda: 1, samples=1) == 1


def _spin_count(stderr: str) -> int:
    found = re.search(r"GOMP_SPINCOUNT = '(\d+)'", stderr)
    if found is None:  # torch built on another OpenMP runtime (LLVM's, Intel's)
        pytest.skip("torch's OpenMP runtime is not GNU libgomp (no GOMP_SPINCOUNT shown)")
    return int(found.group(1))


def test_torchs_libgomp_waits_passively_when_asked():
    """OMP_DISPLAY_ENV=VERBOSE makes libgomp print the settings it read when torch loaded
    it: a spin count of 0 is a passive wait (libgomp's own default is 300,000 spins)."""
    env = {"OMP_DISPLAY_ENV": "VERBOSE", OPT_IN: "1"}
    seqlab_first = _python("import seqlab, torch", **env)
    assert _spin_count(seqlab_first.stderr) == 0
    torch_first = _python("import torch, seqlab", **env)
    assert _spin_count(torch_first.stderr) == 300_000
    default = _python("import seqlab, torch", OMP_DISPLAY_ENV="VERBOSE")
    assert _spin_count(default.stderr) == 300_000
