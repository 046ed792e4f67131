"""Every bad input we know of, through the real ``seqlab`` command in a process of its own:
each one ends as one ``Error: ...`` line on standard error that names the parameter or file,
with exit status 2 (bad input) or 1 (a run that failed), and never a Python traceback.

The module trains one tiny classifier and one tiny language model (a few steps each), then
damages copies of their run folders; every other input is a small file written here. Each
command runs in a child forked from one interpreter that imported the command line once
(``_forked_cli``): a process with its own exit status and standard error, without the
seconds of importing torch again for each of the 50 commands.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from _forked_cli import ForkedCli
from _toy_reviews import ROWS

SRC = str(Path(__file__).resolve().parents[1] / "src")
CORPUS = "the will to truth, the will to power, the will to live. " * 20
VECTORS = "king 0.1 0.2 0.3\nqueen 0.1 0.25 0.3\nman 0.3 0.1 0.0\nwoman 0.3 0.15 0.0\n"
TINY_LM = ["--hidden-size", "16", "--num-layers", "1", "--batch-size", "4", "--seq-len", "16"]


Seqlab = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def seqlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seqlab]:
    """``seqlab(*args, cwd=...)``: the command run in the folder ``cwd``, its SEQLAB_CACHE."""
    cli = ForkedCli({**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"},
                    tmp_path_factory.mktemp("bad-cli-output"))  # fmt: skip

    def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
        return cli(*args, cwd=cwd, env={"SEQLAB_CACHE": str(cwd)}, timeout=timeout)

    yield run
    cli.close()


def _damaged(good: Path, name: str, **files: bytes | Path) -> Path:
    """A copy of the run folder ``good`` whose files ``files`` (dots as underscores) are
    replaced by the bytes given, or by a copy of the file given."""
    copy = good.parent / name
    shutil.copytree(good, copy)
    for file, content in files.items():
        target = copy / file.replace("_", ".", 1)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_bytes(content)
    return copy


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, seqlab: Seqlab) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "tiny.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8"
    )
    (d / "one.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\tpos\n" for t, _ in ROWS), encoding="utf-8"
    )
    (d / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    train = seqlab("classify", "train", "--data", "tiny.tsv", "--epochs", "1", "--batch-size",
                   "4", "--out", "crun", "--quiet", "--device", "cpu", "--threads", "1", cwd=d)  # fmt: skip
    assert train.returncode == 0, train.stderr
    train = seqlab("lm", "train", "--corpus", "corpus.txt", "--steps", "2", "--out", "lrun",
                   *TINY_LM, "--set", "eval_tokens=200", "--device", "cpu", "--quiet",
                   "--threads", "1", cwd=d)  # fmt: skip
    assert train.returncode == 0, train.stderr
    crun, lrun = d / "crun", d / "lrun"
    weights = (crun / "model.safetensors").read_bytes()
    lm_weights = (lrun / "model.safetensors").read_bytes()
    _damaged(crun, "c-trunc", model_safetensors=weights[: len(weights) // 2])
    _damaged(crun, "c-garbage", model_safetensors=b"\x00garbage, not safetensors" * 8)
    _damaged(crun, "c-misfit", model_safetensors=lrun / "model.safetensors")
    _damaged(crun, "c-config", config_json=b'{"task": "classify", ')
    _damaged(crun, "c-vocab", vocab_json=b"[1, 2")
    _damaged(lrun, "l-trunc", model_safetensors=lm_weights[: len(lm_weights) // 3])
    _damaged(lrun, "l-misfit", model_safetensors=crun / "model.safetensors")
    (d / "vec.txt").write_text(VECTORS, encoding="utf-8")
    (d / "malformed.txt").write_text(VECTORS + "bad 0.1 x 0.3\n", encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    (d / "nan.txt").write_text(VECTORS + "odd nan 0.1 0.2\n", encoding="utf-8")
    packed = gzip.compress((VECTORS * 400).encode())
    (d / "cut.txt.gz").write_bytes(packed[: len(packed) // 2])
    (d / "random.bin").write_bytes(bytes(range(256)) * 64)
    (d / "latin.tsv").write_bytes(b"text\tlabel\ncaf\xe9 bon\tpos\nmauvais\tneg\n")
    shutil.copyfile(d / "tiny.tsv", d / "reviews.dat")
    (d / "short.txt").write_text("hello\n", encoding="utf-8")
    (d / "text-value.csv").write_text("value\n1.0\n2.0\nabc\n4.0\n", encoding="utf-8")
    (d / "blank-row.csv").write_text(
        "value\n" + "".join(f"{i % 7}.5\n" for i in range(20)) + "\n" + "3.5\n" * 20,
        encoding="utf-8",
    )
    return d


# (id, arguments, exit status, words the one-line message must hold)
CASES = [
    # damaged or foreign run folders
    ("predict-truncated-weights", ["classify", "predict", "c-trunc", "good"], 2,
     ["c-trunc/model.safetensors", "damaged"]),
    ("evaluate-truncated-weights", ["classify", "evaluate", "c-trunc", "--data", "tiny.tsv"], 2,
     ["c-trunc/model.safetensors", "damaged"]),
    ("explain-truncated-weights", ["classify", "explain", "c-trunc", "good film"], 2,
     ["c-trunc/model.safetensors", "damaged"]),
    ("predict-garbage-weights", ["classify", "predict", "c-garbage", "good"], 2,
     ["c-garbage/model.safetensors", "damaged"]),
    ("generate-truncated-weights", ["lm", "generate", "l-trunc", "--length", "5"], 2,
     ["l-trunc/model.safetensors", "damaged"]),
    ("serve-truncated-weights", ["serve", "c-trunc", "--port", "0"], 2,
     ["c-trunc/model.safetensors", "damaged"]),
    ("predict-weights-of-another-model", ["classify", "predict", "c-misfit", "good"], 2,
     ["c-misfit/model.safetensors", "do not fit"]),
    ("generate-weights-of-another-model", ["lm", "generate", "l-misfit", "--length", "5"], 2,
     ["l-misfit/model.safetensors", "do not fit"]),
    ("predict-broken-config", ["classify", "predict", "c-config", "good"], 2,
     ["c-config/config.json", "not valid JSON"]),
    ("predict-broken-vocab", ["classify", "predict", "c-vocab", "good"], 2,
     ["c-vocab/vocab.json"]),
    ("predict-on-a-language-model", ["classify", "predict", "lrun", "good"], 2,
     ["lrun", "'lm'", "seqlab lm generate"]),
    ("explain-on-a-language-model", ["classify", "explain", "lrun", "good"], 2, ["lrun", "'lm'"]),
    ("predict-missing-run", ["classify", "predict", "nowhere", "good"], 2, ["nowhere"]),
    ("generate-on-a-classifier", ["lm", "generate", "crun", "--length", "5"], 2,
     ["crun", "'classify'"]),
    # training arguments
    ("train-lm-model-as-classifier", ["classify", "train", "--data", "tiny.tsv", "--model",
     "lm-lstm", "--out", "x"], 2, ["'--model'", "'lm-lstm' is a language model", "bow-mlp"]),
    ("train-unknown-model", ["classify", "train", "--data", "tiny.tsv", "--model", "bert",
     "--out", "x"], 2, ["'--model'", "'bert' is not a model", "kim-cnn"]),
    ("train-char-lm-as-classifier", ["classify", "train", "--data", "tiny.tsv", "--model",
     "char-lstm", "--out", "x"], 2, ["--model", "char-lstm"]),
    ("set-hidden-size-text", ["classify", "train", "--data", "tiny.tsv", "--model", "lstm",
     "--set", "hidden_size=abc", "--out", "x"], 2, ["hidden_size", "abc"]),
    ("set-hidden-size-float", ["classify", "train", "--data", "tiny.tsv", "--model", "lstm",
     "--set", "hidden_size=3.5", "--out", "x"], 2, ["hidden_size", "3.5"]),
    ("set-hidden-size-huge", ["classify", "train", "--data", "tiny.tsv", "--model", "lstm",
     "--set", "hidden_size=100000000", "--out", "x", "--device", "cpu"], 1,
     ["not enough memory", "--set hidden_size=100000000"]),
    ("lr-inf", ["classify", "train", "--data", "tiny.tsv", "--lr", "inf", "--out", "x"], 2,
     ["'--lr'", "'inf'", "1e-3"]),
    ("lr-overflows-float32", ["lm", "train", "--corpus", "corpus.txt", "--lr", "1e300",
     "--out", "x"], 2, ["'--lr'", "'1e300'", "float32"]),
    ("set-lr-overflows-float32", ["lm", "train", "--corpus", "corpus.txt", *TINY_LM, "--steps",
     "2", "--set", "lr=1e300", "--out", "x", "--quiet", "--device", "cpu"], 2,
     ["float32", "--set lr=1e300"]),
    ("lr-diverges", ["lm", "train", "--corpus", "corpus.txt", *TINY_LM, "--steps", "4",
     "--lr", "3e38", "--set", "optimizer=rmsprop", "--set", "eval_tokens=200", "--out",
     "diverged", "--quiet", "--device", "cpu"], 1, ["loss became", "--lr 3e+38", "lower --lr"]),
    ("lr-1e6-classifier-explodes", ["classify", "train", "--data", "tiny.tsv", "--model",
     "embedding-dense", "--lr", "1e6", "--epochs", "3", "--out", "exploded", "--quiet",
     "--device", "cpu"], 1, ["loss became", "(from 0.", "--lr 1000000.0", "lower --lr"]),
    ("single-class-data", ["classify", "train", "--data", "one.tsv", "--out", "x"], 2,
     ["'--data'", "same label ('pos')", "--label-column"]),
    ("resume-with-another-model", ["classify", "train", "--data", "tiny.tsv", "--model", "lstm",
     "--batch-size", "4", "--out", "crun", "--resume", "--epochs", "2"], 2,
     ["--resume", "--model", "LSTMClassifier", "--overwrite"]),
    ("train-unknown-table-suffix", ["classify", "train", "--data", "reviews.dat", "--out", "x"],
     2, ["reviews.dat", "name the file *.csv, *.tsv or *.jsonl"]),
    ("train-latin-1-table", ["classify", "train", "--data", "latin.tsv", "--out", "x"], 2,
     ["latin.tsv", "convert the file to UTF-8"]),
    ("train-into-a-finished-run", ["classify", "train", "--data", "tiny.tsv", "--out", "crun"],
     2, ["crun", "pass --overwrite to replace it"]),
    ("lm-corpus-too-short", ["lm", "train", "--corpus", "short.txt", "--out", "y", "--steps",
     "1"], 2, ["use a smaller --batch-size"]),
    ("generate-unknown-characters", ["lm", "generate", "lrun", "--prompt", "ZZZ", "--length",
     "3"], 2, ["'Z'", "remove them from the text"]),
    # word vectors
    ("embed-malformed", ["embed", "neighbors", "malformed.txt", "king"], 2,
     ["malformed.txt, line 5", "--skip-bad-lines"]),
    ("embed-empty", ["embed", "neighbors", "empty.txt", "king"], 2, ["empty.txt"]),
    ("embed-missing", ["embed", "neighbors", "missing.txt", "king"], 2, ["missing.txt"]),
    ("embed-limit-0", ["embed", "neighbors", "vec.txt", "king", "--limit", "0"], 2,
     ["--limit", "0"]),
    ("embed-nan-vectors", ["embed", "neighbors", "nan.txt", "king"], 2, ["nan.txt", "odd"]),
    ("embed-truncated-gzip", ["embed", "neighbors", "cut.txt.gz", "king"], 2,
     ["cut.txt.gz", "truncated"]),
    ("embed-topn-0", ["embed", "neighbors", "vec.txt", "king", "--topn", "0"], 2,
     ["--topn", "0"]),
    ("embed-unknown-word", ["embed", "neighbors", "vec.txt", "zebra"], 2, ["zebra"]),
    ("embed-train-binary", ["embed", "train", "random.bin", "--out", "v.safetensors",
     "--min-count", "1", "--epochs", "1", "--quiet"], 2, ["random.bin", "not UTF-8 text", "NUL"]),
    # series
    ("series-text-value", ["series", "fit", "--data", "text-value.csv", "--out", "s"], 2,
     ["text-value.csv", "column 'value' holds 'abc' on line 4"]),
    ("series-blank-row", ["series", "fit", "--data", "blank-row.csv", "--out", "s"], 2,
     ["blank-row.csv, line 22 is blank", "--skip-blank-rows"]),
    ("series-blank-row-evaluate", ["series", "evaluate", "--data", "blank-row.csv"], 2,
     ["blank-row.csv, line 22 is blank", "--skip-blank-rows"]),
]  # fmt: skip


@pytest.mark.parametrize(("args", "status", "needles"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_cli_bad_input_is_one_line(
    seqlab: Seqlab, work: Path, args: list[str], status: int, needles: list[str]
):
    result = seqlab(*args, cwd=work)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert result.returncode == status, result.stderr


@pytest.mark.parametrize(
    ("args", "printed"),
    [
        (["embed", "neighbors", "malformed.txt", "king", "--skip-bad-lines", "--topn", "1"],
         "queen"),
        (["series", "fit", "--data", "blank-row.csv", "--skip-blank-rows", "--out", "skipped",
          "--units", "10", "--warmup", "5"], "saved to skipped"),
    ],
    ids=["skip-bad-lines", "skip-blank-rows"],
)  # fmt: skip
def test_cli_bad_input_the_flag_a_message_names_works(
    seqlab: Seqlab, work: Path, args: list[str], printed: str
):
    result = seqlab(*args, cwd=work)
    assert result.returncode == 0, result.stderr
    assert printed in result.stdout


def test_cli_bad_input_run_files_follow_the_umask(work: Path):
    mask = os.umask(0o022)
    os.umask(mask)
    expected = 0o666 & ~mask
    for name in ("config.json", "model.safetensors", "checkpoint/state.json"):
        assert (work / "crun" / name).stat().st_mode & 0o777 == expected, name


def test_cli_bad_input_a_diverged_run_leaves_a_folder_the_next_run_can_use(
    seqlab: Seqlab, work: Path
):
    args = ["lm", "train", "--corpus", "corpus.txt", *TINY_LM, "--set", "eval_tokens=200",
            "--out", "rediverged", "--quiet", "--device", "cpu", "--threads", "1"]  # fmt: skip
    failed = seqlab(*args, "--steps", "4", "--lr", "3e38", "--set", "optimizer=rmsprop", cwd=work)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr
    # no lock, no half-written file: the same --out takes a sane run without --overwrite
    assert not any(p.name.endswith((".lock", ".tmp")) for p in (work / "rediverged").iterdir())
    result = seqlab(*args, "--steps", "2", cwd=work)
    assert result.returncode == 0, result.stderr
    assert (work / "rediverged" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("made with batch_size=4; pass resume=False to start over",
         "made with --batch-size 4; pass --overwrite to start over"),
        ("use head='softmax' (--head softmax)", "use --head softmax"),
        ("use truncate=N (--truncate)", "use --truncate N"),
        ("lower lr or set clip_grad_norm", "lower --lr or set --set clip_grad_norm=..."),
        ("a.csv: not valid utf-8 (x); pass encoding= (e.g. 'latin-1')",
         "a.csv: not valid utf-8 (x); convert the file to UTF-8 first (e.g. iconv -f latin1 -t "
         "utf-8)"),
        ("fix the file or pass on_bad_lines='skip' to leave such lines out",
         "fix the file or pass --skip-bad-lines to leave such lines out"),
        ("num_classes=3 is not a flag here", "num_classes=3 is not a flag here"),
    ],
)  # fmt: skip
def test_cli_bad_input_python_arguments_become_flags(message: str, expected: str):
    import click

    from seqlab.cli.errors import cli_message

    flags = ["--batch-size", "--head", "--truncate", "--lr", "--set", "--overwrite"]
    command = click.Command("x", params=[click.Option([f]) for f in flags])
    assert cli_message(message, command) == expected
