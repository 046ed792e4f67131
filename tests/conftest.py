"""Shared fixtures.

`make test` runs the tests on two pytest-xdist workers with ``--dist loadscope``: the tests of
one module stay on one worker, so a module-scoped fixture (a trained run, the docs site, the
executed notebooks) is still built once; a session-scoped one (``serve_runs``,
``real_imdb_cache``) is built once by each worker whose modules use it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Each pytest-xdist worker (`make test` runs two) keeps torch on one thread, and so do
    the processes its tests start (they inherit OMP_NUM_THREADS): two workers of two threads
    each would fight over the test machine's two cores. A value the user set is kept. The
    worker sets it here, before any test module imports torch."""
    if hasattr(config, "workerinput"):  # an xdist worker, not the controller or a plain run
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder `<repo>/../shared/data`; skips the test when it is absent."""
    path = (REPO.parent / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (CI has ../shared/data beside the clone)")
    return path


@pytest.fixture(scope="session")
def real_imdb_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SEQLAB_CACHE folder shared by the slow real-IMDB tests, so the archive is parsed once
    (once per pytest-xdist worker that runs one of them)."""
    return tmp_path_factory.mktemp("real-imdb-cache")


@pytest.fixture(scope="session")
def serve_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny real runs for the `seqlab serve` tests, trained once per session (seconds):
    a folder of two classifier runs laid out like `seqlab demo`'s (`demo/bow`, `demo/lstm`),
    a character language model (`nz`), word2vec vectors saved by `seqlab embed train`
    (`vectors.safetensors`) and the same vectors as a GloVe text file (`glove.txt`)."""
    from click.testing import CliRunner

    import seqlab
    import seqlab.data.datasets as ds
    from seqlab.cli.main import cli
    from seqlab.embeddings import KeyedVectors, save_glove
    from seqlab.models.dense import BagOfWordsMLP
    from seqlab.models.rnn import LSTMClassifier
    from seqlab.text import TextVectorizer

    root = tmp_path_factory.mktemp("serve-runs")
    full = ds.snippets()
    train, _ = ds.train_test_split(full, test_size=0.6, seed=0)
    common = {"seed": 0, "device": "cpu", "progress": False, "val_split": 0.1}
    vec = TextVectorizer(output_mode="multi_hot").fit(train.texts)
    seqlab.fit(BagOfWordsMLP(vec.vocab_size), vec, train, epochs=1, batch_size=128, lr=1e-2,
               out=root / "demo" / "bow", **common)  # fmt: skip
    vec = TextVectorizer(output_mode="int", max_tokens=3000).fit(train.texts)
    model = LSTMClassifier(vocab_size=vec.vocab_size, embedding_dim=8, hidden_size=8, seed=0)
    seqlab.fit(model, vec, train, epochs=1, max_steps=3, batch_size=64, out=root / "demo" / "lstm",
               **common)  # fmt: skip
    (root / "demo" / "summary.json").write_text("{}")
    seqlab.lm.train(text=ds.corpus("nietzsche")[:12000], steps=3, hidden_size=32, embedding_dim=16,
                    num_layers=1, batch_size=8, seq_len=32, out=root / "nz", device="cpu",
                    progress=False, seed=0)  # fmt: skip
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(full.texts[:3000]), encoding="utf-8")
    vectors = root / "vectors.safetensors"
    args = ["embed", "train", str(corpus), "--out", str(vectors), "--dim", "16", "--epochs", "1",
            "--min-count", "3", "--standardize", "keras", "--quiet", "--device", "cpu"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    save_glove(KeyedVectors.load(vectors), root / "glove.txt")
    return {
        "demo": root / "demo",
        "bow": root / "demo" / "bow",
        "lstm": root / "demo" / "lstm",
        "nz": root / "nz",
        "vectors": vectors,
        "glove": root / "glove.txt",
    }


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module's tests: tiny models run fastest that way, and the
    test machine's cores are shared. Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
