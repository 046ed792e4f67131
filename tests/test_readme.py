"""The README's Python tour runs as written (small settings, bundled data and ../shared/data)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


def test_readme_has_python_blocks_starting_with_the_classifier():
    blocks = _python_blocks()
    assert len(blocks) >= 2
    assert "sl.training.classify.train_classifier(" in blocks[0]


@pytest.mark.slow
def test_readme_python_tour_runs(shared_data: Path, tmp_path: Path) -> None:
    # The README's paths are relative to the repository root, beside ../shared/data: the tour
    # runs in a fresh folder laid out the same way, so its runs/ go to tmp_path.
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared_data)
    cwd = tmp_path / "repo"
    cwd.mkdir()
    # The streaming example reads reviews.jsonl: a small labelled file in the tour's folder.
    rows = [{"text": f"a {w} film, truly {w}", "label": lab} for w, lab in
            [("wonderful", "pos"), ("dreadful", "neg")] * 40]  # fmt: skip
    (cwd / "reviews.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code = "\n".join(_python_blocks())
    env = {**os.environ, "SEQLAB_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert (cwd / "runs" / "snippets-nbsvm" / "model.safetensors").is_file()
    assert (cwd / "runs" / "big" / "config.json").is_file()
