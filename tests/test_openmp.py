"""`import seqlab` makes idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE) unless the user
chose, or torch was imported first; and libgomp, loaded with torch, reads it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqlab._openmp import USER_VARIABLES, prefer_passive_wait

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter whose environment has neither OpenMP wait
    variable, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in USER_VARIABLES}
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


def test_import_seqlab_sets_the_passive_default():
    assert _python(READ).stdout.strip() == "PASSIVE"


@pytest.mark.parametrize("value", ["ACTIVE", "passive"])
def test_a_users_wait_policy_is_kept(value):
    assert _python(READ, OMP_WAIT_POLICY=value).stdout.strip() == value


def test_a_users_spin_count_leaves_the_policy_unset():
    assert _python(READ, GOMP_SPINCOUNT="300000").stdout.strip() == "None"


def test_nothing_is_set_once_torch_is_imported():
    # libgomp has read the environment already: setting it then would only mislead
    env: dict[str, str] = {}
    assert not prefer_passive_wait(env, modules={"torch"})
    assert env == {}
    assert prefer_passive_wait(env, modules={"numpy"})
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}


def _spin_count(stderr: str) -> int:
    found = re.search(r"GOMP_SPINCOUNT = '(\d+)'", stderr)
    if found is None:  # torch built on another OpenMP runtime (LLVM's, Intel's)
        pytest.skip("torch's OpenMP runtime is not GNU libgomp (no GOMP_SPINCOUNT shown)")
    return int(found.group(1))


def test_torchs_libgomp_waits_passively_after_import_seqlab():
    """OMP_DISPLAY_ENV=VERBOSE makes libgomp print the settings it read when torch loaded
    it: a spin count of 0 is a passive wait (libgomp's own default is 300,000 spins)."""
    seqlab_first = _python("import seqlab, torch", OMP_DISPLAY_ENV="VERBOSE")
    assert _spin_count(seqlab_first.stderr) == 0
    torch_first = _python("import torch, seqlab", OMP_DISPLAY_ENV="VERBOSE")
    assert _spin_count(torch_first.stderr) == 300_000
