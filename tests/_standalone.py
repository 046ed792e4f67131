"""Run exported ``predict.py`` scripts the way a user without seqlab would: one isolated
interpreter (``python -I``: no PYTHONPATH, no user site) in which ``import seqlab`` fails,
running each script as ``__main__`` with its own arguments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

# seqlab is installed (editable) in the test environment, so -I alone would still find it:
# sys.modules["seqlab"] = None makes every `import seqlab...` raise ImportError.
_RUNNER = r"""
import contextlib, io, json, runpy, sys
sys.modules["seqlab"] = None
results = {}
for key, script, args in json.loads(sys.stdin.read()):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [script, *args]
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            code = exc.code or 0
    results[key] = {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
loaded = sorted(m for m, v in sys.modules.items() if m.startswith("seqlab") and v is not None)
print(json.dumps({"results": results, "seqlab_modules": loaded}))
"""


def run_predict_scripts(jobs: dict[str, tuple[Path, list[str]]]) -> dict[str, dict]:
    """``{key: (export folder, arguments)}`` -> ``{key: {"code", "stdout", "stderr"}}``, all run
    in one isolated interpreter that cannot import seqlab (asserted)."""
    payload = json.dumps([[k, str(Path(f) / "predict.py"), args] for k, (f, args) in jobs.items()])
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _RUNNER],
        input=payload,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["seqlab_modules"] == [], report["seqlab_modules"]
    return report["results"]


def probabilities(stdout: str, labels: list[str]) -> np.ndarray:
    """The ``--json`` output of a classifier's predict.py as a (texts, classes) array."""
    rows = [json.loads(line) for line in stdout.splitlines()]
    return np.array([[row["probabilities"][label] for label in labels] for row in rows])
