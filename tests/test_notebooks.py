"""The lecture notebooks (``notebooks/*.ipynb``) run from top to bottom on the bundled data
in quick mode, show what their text says they show, and are committed without outputs.

Each notebook is executed once, in a fresh kernel on this interpreter, with
``SEQLAB_NOTEBOOK_QUICK=1``, ``SEQLAB_DATA`` unset (bundled data only) and a temporary
working directory and cache. The checks read the displayed result of cells tagged in the
notebook (``metadata.tags``), so they test what a reader sees.
"""

from __future__ import annotations

import ast
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

import seqlab  # noqa: E402  (after the skips: the kernel must import this same seqlab)

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
LECTURE = [
    "01-sequences-and-tokens",
    "02-one-hot-bags-frequencies",
    "03-embeddings-and-glove",
    "04-1d-convnets",
    "05-simplernn-lstm-carry",
    "06-text-generation-temperature",
    "07-esn-and-tdnn-series",
]
CELL_TIMEOUT = 120  # seconds per cell; generous for a shared, loaded machine
KERNEL = "seqlab-notebook-test"


def _kernel_spec(root: Path) -> None:
    """A kernel spec that runs this very interpreter (not whatever "python3" is installed)."""
    folder = root / "kernels" / KERNEL
    folder.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "seqlab tests",
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


def _execute(path: Path, work: Path) -> Any:
    """``path`` executed in quick mode on bundled data, in ``work`` (cwd, cache, kernel spec)."""
    nb = nbformat.read(path, as_version=4)
    src = str(Path(seqlab.__file__).resolve().parent.parent)  # the seqlab under test
    cwd = work / path.stem
    cwd.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQLAB_NOTEBOOK_QUICK", "1")
        mp.delenv("SEQLAB_DATA", raising=False)
        mp.setenv("SEQLAB_CACHE", str(work / "cache"))
        mp.setenv("OMP_NUM_THREADS", "1")
        mp.setenv(
            "PYTHONPATH", os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
        )
        mp.setenv("JUPYTER_PATH", str(work / "jupyter"))  # finds the kernel spec above
        mp.setenv("JUPYTER_RUNTIME_DIR", str(work / "runtime"))  # connection files
        mp.setenv("IPYTHONDIR", str(work / "ipython"))  # the kernel's history database
        mp.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws the figures
        client = nbclient.NotebookClient(
            nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, resources={"metadata": {"path": str(cwd)}}
        )
        client.execute()
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    """``executed(name)``: the notebook run once per test session (on first request)."""
    work = tmp_path_factory.mktemp("notebooks")
    _kernel_spec(work / "jupyter")
    done: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in done:
            done[name] = _execute(NOTEBOOKS / f"{name}.ipynb", work)
        return done[name]

    return get


def _cell(nb: Any, tag: str) -> Any:
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def shown(nb: Any, tag: str) -> Any:
    """The value the cell tagged ``tag`` displays as its result, read back as a literal."""
    results = [o for o in _cell(nb, tag).outputs if o.output_type == "execute_result"]
    assert results, f"the cell tagged {tag!r} displays no result"
    return ast.literal_eval(results[-1].data["text/plain"])


def printed(nb: Any, tag: str) -> str:
    """Everything the cell tagged ``tag`` printed to stdout."""
    outputs = _cell(nb, tag).outputs
    return "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")


def _figures(nb: Any) -> int:
    return sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


# --------------------------------------------------------------------------- the files


def test_notebooks_one_per_part_of_the_lecture() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == LECTURE


@pytest.mark.parametrize("name", LECTURE)
def test_notebooks_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.outputs for c in code] == [[]] * len(code), "clear the outputs before committing"
    assert {c.execution_count for c in code} == {None}
    # the first code cell holds the parameters, so papermill (or a reader) can change them
    first = code[0]
    assert first.metadata.get("tags") == ["parameters"]
    assert 'QUICK = os.environ.get("SEQLAB_NOTEBOOK_QUICK") == "1"' in first.source
    assert 'DATA = os.environ.get("SEQLAB_DATA")' in first.source
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


# --------------------------------------------------------------------------- each notebook


def _top_level() -> list[str]:
    """The repository's top-level names, less the caches that the test session itself keeps
    there: Hypothesis's examples and pytest's cache, which under pytest-xdist the other worker
    may create while the notebooks run."""
    return sorted(p.name for p in REPO.iterdir() if p.name not in {".hypothesis", ".pytest_cache"})


def test_notebooks_leave_the_repository_alone(executed: Callable[[str], Any]) -> None:
    before = {p: p.stat().st_mtime_ns for p in NOTEBOOKS.iterdir()}
    top = _top_level()
    for name in LECTURE:
        executed(name)
    assert {p: p.stat().st_mtime_ns for p in NOTEBOOKS.iterdir()} == before
    assert _top_level() == top


@pytest.mark.parametrize("name", LECTURE)
def test_notebooks_draw_their_figures(executed: Callable[[str], Any], name: str) -> None:
    assert _figures(executed(name)) >= 1


def test_notebooks_01_sequences_and_tokens(executed: Callable[[str], Any]) -> None:
    nb = executed("01-sequences-and-tokens")
    assert shown(nb, "words") == ["the", "cat", "sat", "on", "the", "mat", "the", "dog", "didn't"]
    assert shown(nb, "chars") == ["t", "h", "e", " ", "c", "a", "t"]
    assert shown(nb, "ngrams") == ["the", "cat", "sat", "the cat", "cat sat"]
    vocab = ["", "[UNK]", "the", "sat", "on", "cat", "mat", "dog", "log", "cats", "and", "dogs"]
    assert shown(nb, "vocab") == vocab
    assert shown(nb, "ids") == [[2, 5, 3, 4, 1, 8]]  # "a" was never seen: [UNK] = 1
    assert shown(nb, "pad") == {
        "pre": [[2, 3], [4, 5], [0, 6]],
        "post": [[1, 2], [4, 5], [6, 0]],
    }
    oov = shown(nb, "oov")
    assert list(oov) == [100, 1000, 5000, 20000]
    rates = list(oov.values())
    assert all(0 < r < 1 for r in rates) and rates == sorted(rates, reverse=True)
    assert "600,901 characters, 85 distinct" in printed(nb, "chars-vocab")
    ids = shown(nb, "chars-vocab")[0]
    assert len(ids) == 5 and len(set(ids)) == 5 and min(ids) >= 2  # "Truth": 5 known chars


def test_notebooks_02_one_hot_bags_frequencies(executed: Callable[[str], Any]) -> None:
    nb = executed("02-one-hot-bags-frequencies")
    one_hot = np.zeros((3, 12), dtype=int)
    one_hot[[0, 1, 2], [2, 5, 3]] = 1  # the, cat, sat
    assert shown(nb, "one-hot") == one_hot.tolist()
    # "the cat sat on the cat" against the vocabulary above: the=2, sat=3, on=4, cat=5
    bags = shown(nb, "bags")
    counts = np.zeros(12)
    counts[[2, 3, 4, 5]] = [2, 1, 1, 2]
    assert bags["multi_hot"] == (counts > 0).astype(float).tolist()
    assert bags["count"] == counts.tolist()
    np.testing.assert_allclose(bags["freq"], counts / 6, atol=1e-3)
    # smooth idf ln((1 + n) / (1 + df)) + 1 with n = 3 texts; "cat" is in 1, the rest in 2
    idf = np.ones(12)
    idf[[2, 3, 4]] = math.log(4 / 3) + 1
    idf[5] = math.log(4 / 2) + 1
    tf_idf = counts * idf
    np.testing.assert_allclose(bags["tf_idf"], tf_idf / np.linalg.norm(tf_idf), atol=1e-3)
    assert shown(nb, "order") == {"words": True, "words + bigrams": False}
    accuracy = shown(nb, "bag-accuracy")
    assert list(accuracy) == ["multi-hot words", "multi-hot + bigrams", "tf-idf + bigrams"]
    # a few dozen steps already put a linear model on multi-hot bags well above chance
    assert accuracy["multi-hot words"] > 0.6 and accuracy["multi-hot + bigrams"] > 0.6
    assert 0.5 < accuracy["tf-idf + bigrams"] <= 1.0


def test_notebooks_03_embeddings_and_glove(executed: Callable[[str], Any]) -> None:
    nb = executed("03-embeddings-and-glove")
    assert shown(nb, "lookup") is True
    assert "[[1.2 1.3 1.4 1.5]\n [0.4 0.5 0.6 0.7]]" in printed(nb, "lookup")  # rows 3 and 1
    assert shown(nb, "dense-params") == 80_161  # Keras: Embedding(10000, 8), Dense(1) on 160
    coverage = shown(nb, "coverage")
    assert coverage["shape"] == [10_000, 50]
    assert 0.5 < coverage["coverage"] <= 1.0  # word2vec trained on the same reviews
    accuracy = shown(nb, "embedding-accuracy")
    assert list(accuracy) == ["learned", "pretrained, frozen", "pretrained, fine-tuned"]
    assert all(0.0 <= a <= 1.0 for a in accuracy.values())


def test_notebooks_04_1d_convnets(executed: Callable[[str], Any]) -> None:
    nb = executed("04-1d-convnets")
    # the hand-made "not good" filter fires at the 4th window only ("not", "good")
    assert shown(nb, "conv") == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert shown(nb, "cnn-params") == 1_315_937
    assert "conv2 (Conv1d)                    (None, 32, 92)" in printed(nb, "cnn-params")
    accuracy = shown(nb, "cnn-accuracy")
    assert list(accuracy) == ["cnn", "kim-cnn"]
    assert all(0.0 <= a <= 1.0 for a in accuracy.values())


def test_notebooks_05_simplernn_lstm_carry(executed: Callable[[str], Any]) -> None:
    nb = executed("05-simplernn-lstm-carry")
    assert shown(nb, "numpy-rnn") == (6, 3)
    assert shown(nb, "same-as-numpy") is True
    assert shown(nb, "rnn-params") == {"rnn": 322_113, "lstm": 328_353}  # Keras's counts
    ratio = shown(nb, "first-to-last")
    # the SimpleRNN's gradient all but vanishes by the first token; the LSTM's carry keeps it
    assert 0 < ratio["rnn"] < 1e-3
    assert ratio["lstm"] > 100 * ratio["rnn"]


def test_notebooks_06_text_generation_temperature(executed: Callable[[str], Any]) -> None:
    nb = executed("06-text-generation-temperature")
    p = np.array([0.5, 0.3, 0.15, 0.05])
    reweighted = shown(nb, "reweight")
    assert list(reweighted) == [0.2, 0.5, 1.0, 2.0]
    for t, q in reweighted.items():
        expected = p ** (1 / t) / (p ** (1 / t)).sum()
        np.testing.assert_allclose(q, expected, atol=1e-3)
    assert shown(nb, "seeds") == {"same seed, same text": True, "greedy ignores the seed": True}


def test_notebooks_07_esn_and_tdnn_series(executed: Callable[[str], Any]) -> None:
    nb = executed("07-esn-and-tdnn-series")
    assert shown(nb, "mackey-glass") == [1.2, 1.1375, 1.0617]
    assert shown(nb, "esn-one-step") < 0.1
    assert shown(nb, "closed-loop") < 0.05  # 100 generated steps stay on the series
    test_nrmse = shown(nb, "forecast-table")
    assert set(test_nrmse) == {"esn", "tdnn", "persistence", "linear-ar"}
    # what the notebook says: the ESN beats persistence, the linear AR beats both
    assert test_nrmse["linear-ar"] < test_nrmse["esn"] < test_nrmse["persistence"]
    accuracy = shown(nb, "classify")
    assert list(accuracy) == ["esn", "tdnn"]
    assert accuracy["esn"] >= 0.9 and accuracy["tdnn"] >= 0.9  # 3 periods, 100 test waves
