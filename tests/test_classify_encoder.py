"""A classifier started from a word-level language model (ULMFiT): ``--encoder RUN``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import seqlab
import seqlab.lm
from seqlab.cli.main import cli
from seqlab.data.base import TextDataset
from seqlab.text.tokenize import strip_html_breaks
from seqlab.training._encoder import ENCODER_DEFAULTS
from seqlab.training.classify import train_classifier

pytestmark = pytest.mark.usefixtures("one_thread")

GOOD = ["Great", "superb", "WONDERFUL", "a joy"]
BAD = ["Awful", "boring", "DULL", "a mess"]
FILLER = ["The film", "its plot", "the cast's acting", "this story", "the ending"]
# Texts with what the LM's tokenizer keeps apart: case, punctuation, apostrophes, HTML breaks.
ODD = [
    "Don't miss it!<br /><br />The CAST's work -- superb, really.",
    "a mess... (honestly) I'd skip it; 3/10",
]


def reviews(n: int, seed: int = 0) -> TextDataset:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        cue = str(rng.choice(GOOD if i % 2 else BAD))
        parts = [f"{rng.choice(FILLER)} was {cue}!", f"{rng.choice(FILLER)}, I'd say."]
        if rng.random() < 0.3:
            parts.insert(1, "<br /><br />")
        texts.append(" ".join(parts[:: 1 if rng.random() < 0.5 else -1]))
        labels.append(i % 2)
    return TextDataset(texts=texts, labels=np.array(labels), label_names=["neg", "pos"])


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory) -> Path:
    """A tiny word-level LSTM language model (two layers, tied embedding) on 300 reviews."""
    out = tmp_path_factory.mktemp("lm") / "lm"
    text = "\n".join(strip_html_breaks(t) for t in reviews(300, seed=1).texts + ODD)
    seqlab.lm.train(text=text, level="word", steps=30, embedding_dim=16, hidden_size=16,
                    num_layers=2, batch_size=8, seq_len=16, out=out, device="cpu",
                    progress=False, seed=0)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def frozen_run(lm_dir, tmp_path_factory) -> tuple[seqlab.Run, Path]:
    """One epoch with gradual unfreezing: only the head trains."""
    out = tmp_path_factory.mktemp("clf") / "run"
    run = train_classifier(reviews(120), encoder=lm_dir, epochs=1, batch_size=16, out=out,
                           device="cpu", progress=False)  # fmt: skip
    return run, out


def test_classify_encoder_defaults_and_record(frozen_run, lm_dir) -> None:
    run, _ = frozen_run
    lm = seqlab.lm.load(lm_dir)
    config = run.model.config
    assert run.model_name == "lstm"
    assert (config["embedding_dim"], config["hidden_size"], config["num_layers"]) == (16, 16, 2)
    assert config["pooling"] == "concat" and config["dropout"] == ENCODER_DEFAULTS["dropout"]
    tc = run.train_config
    assert tc["schedule"] == "slanted" and tc["lr"] == ENCODER_DEFAULTS["lr"]
    assert tc["layer_lr_decay"] == 2.6 and tc["gradual_unfreezing"] is True
    enc = tc["encoder"]
    assert enc["path"] == str(lm_dir.resolve()) and enc["model"] == "lm-lstm"
    assert enc["vocab_size"] == len(lm.vocab)
    assert enc["lm_metrics"]["val"]["loss"] == lm.metrics["val"]["loss"]


def test_classify_encoder_copies_weights_and_one_epoch_trains_only_the_head(
    frozen_run, lm_dir
) -> None:
    run, _ = frozen_run
    lm = seqlab.lm.load(lm_dir).model
    model = run.model
    # after one epoch of gradual unfreezing the embedding and both layers are the LM's, bit
    # for bit (copied, then frozen); the head has learned
    assert torch.equal(model.embedding.weight, lm.embedding.weight)
    for k in range(2):
        for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            assert torch.equal(
                getattr(model.layers[k], f"{part}_l0"), getattr(lm.rnn, f"{part}_l{k}")
            )
    fresh = seqlab.models.build("lstm", vocab_size=len(seqlab.lm.load(lm_dir).vocab),
                                embedding_dim=16, hidden_size=16, num_layers=2, pooling="concat",
                                dropout=0.3, seed=0)  # fmt: skip
    assert not torch.equal(model.head.weight, fresh.head.weight)


def test_classify_encoder_reads_the_lm_tokens_and_ids(frozen_run, lm_dir) -> None:
    run, _ = frozen_run
    vocab = seqlab.lm.load(lm_dir).vocab
    vec = run.vectorizer
    assert vec.get_vocabulary() == vocab.itos
    for text in [*ODD, "Unseen WORDS here, e.g. zyzzyva!"]:
        assert vec.tokenize(text) == vocab.tokenize(strip_html_breaks(text))
        ids = vec.transform([text])[0]
        assert ids[ids != 0].tolist() == vocab.encode(strip_html_breaks(text)).tolist()


def test_classify_encoder_run_loads_and_predicts_without_the_lm(lm_dir, tmp_path) -> None:
    lm_copy = tmp_path / "lm"
    shutil.copytree(lm_dir, lm_copy)
    out = tmp_path / "run"
    run = train_classifier(reviews(120), encoder=lm_copy, epochs=2, batch_size=16, out=out,
                           gradual_unfreezing=False, device="cpu", progress=False)  # fmt: skip
    shutil.rmtree(lm_copy)
    loaded = seqlab.load(out)
    np.testing.assert_array_equal(loaded.predict_proba(ODD), run.predict_proba(ODD))
    assert loaded.vectorizer.get_vocabulary() == run.vectorizer.get_vocabulary()


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    ds = reviews(60, seed=3)
    path = tmp_path_factory.mktemp("data") / "reviews.tsv"
    labels = ds.label_names
    path.write_text("text\tlabel\n" + "".join(
        f"{t}\t{labels[y]}\n" for t, y in zip(ds.texts, ds.labels)), encoding="utf-8")  # fmt: skip
    return path


def test_classify_encoder_cli_trains_with_defaults(lm_dir, table, tmp_path) -> None:
    out = tmp_path / "run"
    code, output = _cli("classify", "train", "--data", str(table), "--encoder", str(lm_dir),
                        "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--quiet",
                        "--out", str(out))  # fmt: skip
    assert code == 0, output
    assert f"encoder {lm_dir.resolve()} (lm-lstm)" in output
    run = seqlab.load(out)
    assert run.model_name == "lstm" and run.model.config["pooling"] == "concat"
    code, output = _cli("classify", "predict", str(out), "a superb film")
    assert code == 0 and output.split("\t")[0] in ("neg", "pos")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "gru"], "Error: --model gru contradicts the encoder"),
        (["--hidden-size", "32"], "Error: --hidden-size 32 contradicts the encoder"),
        (["--bidirectional"], "does not fit the encoder"),
        (["--max-tokens", "50"], "would change the tokens or vocabulary"),
    ],
)
def test_classify_encoder_cli_contradictions_are_one_line(lm_dir, table, tmp_path, extra, message):
    code, output = _cli("classify", "train", "--data", str(table), "--encoder", str(lm_dir),
                        "--epochs", "1", "--out", str(tmp_path / "x"), *extra)  # fmt: skip
    assert code == 2, output
    assert output.count("\n") == 1 and message in output, output
    assert not (tmp_path / "x" / "config.json").exists()


def test_classify_encoder_cli_refuses_char_and_transformer_lms(table, tmp_path) -> None:
    text = "\n".join(reviews(60).texts)
    char = tmp_path / "char"
    seqlab.lm.train(text=text, level="char", steps=1, hidden_size=8, num_layers=1, batch_size=2,
                    seq_len=8, out=char, device="cpu", progress=False)  # fmt: skip
    code, output = _cli("classify", "train", "--data", str(table), "--encoder", str(char))
    assert code == 2 and output.count("\n") == 1, output
    assert "is a char-level language model" in output and "--level word" in output
    gpt = tmp_path / "gpt"
    seqlab.lm.train(text=text, level="word", model="transformer", steps=1, d_model=8,
                    num_heads=2, num_layers=1, block_size=8, batch_size=2, out=gpt,
                    device="cpu", progress=False)  # fmt: skip
    code, output = _cli("classify", "train", "--data", str(table), "--encoder", str(gpt))
    assert code == 2 and output.count("\n") == 1, output
    assert "is a transformer language model" in output and "--model lstm" in output
    code, output = _cli(
        "classify", "train", "--data", str(table), "--encoder", str(tmp_path / "no")
    )
    assert code == 2 and "no such run folder" in output, output
    code, output = _cli("classify", "train", "--data", str(table), "--encoder", str(table.parent))
    assert code == 2 and output.count("\n") == 1, output


def test_classify_encoder_python_errors_name_the_setting(lm_dir) -> None:
    with pytest.raises(
        ValueError, match=r"model='gru' contradicts the encoder .* 'lstm' classifier"
    ):
        train_classifier(reviews(40), encoder=lm_dir, model="gru", epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"the embedding table comes from the encoder"):
        train_classifier(reviews(40), encoder=lm_dir, pretrained=lm_dir / "config.json",
                         epochs=1, progress=False)  # fmt: skip


def test_classify_encoder_run_is_an_ensemble_member(frozen_run, tmp_path) -> None:
    from seqlab.ensemble import build_ensemble

    _, ulmfit = frozen_run  # trained on reviews(120) with the default split (0.2, seed 0)
    data = reviews(120)
    train_classifier(data, model="bow-mlp", epochs=1, out=tmp_path / "bow", progress=False,
                     device="cpu")  # fmt: skip
    ensemble = build_ensemble([ulmfit, tmp_path / "bow"], "stack", data=data)
    assert ensemble.fitted_on["n"] == 24 and ensemble.fitted_on["forced"] is False
    assert ensemble.predict_proba(ODD).shape == (2, 2)


@pytest.mark.slow
def test_classify_encoder_learns_on_real_imdb_reviews(
    shared_data: Path, real_imdb_cache: Path, monkeypatch, tmp_path: Path
) -> None:
    """A small real pipeline: a language model on 2,000 IMDB training reviews (seconds),
    then a classifier from it on the same reviews, scored on its 400 validation reviews.
    Fine-tuned plainly (one rate, nothing frozen): with a language model this weak and five
    short epochs, ULMFiT's gradual unfreezing leaves too few epochs with every layer
    training (bench_imdb_ulmfit.py's docstring has the comparison)."""
    import seqlab.datasets as ds
    from seqlab.data.batching import stratified_split
    from seqlab.data.imdb_corpus import review_line

    monkeypatch.setenv("SEQLAB_CACHE", str(real_imdb_cache))
    train = ds.imdb("train", data_dir=shared_data / "imdb", progress=False)
    train = train.subset(stratified_split(train.labels, 2000 / len(train), seed=0)[1])
    seqlab.lm.train(text="\n".join(review_line(t) for t in train.texts), level="word",
                    max_tokens=5000, embedding_dim=64, hidden_size=64, num_layers=2, steps=150,
                    batch_size=16, seq_len=32, out=tmp_path / "lm", device="cpu",
                    progress=False)  # fmt: skip
    run = train_classifier(train, encoder=tmp_path / "lm", truncate=150, epochs=5, lr=1e-2,
                           batch_size=32, layer_lr_decay=1.0, gradual_unfreezing=False,
                           device="cpu", progress=False)  # fmt: skip
    assert run.train_config["val_size"] == 400
    # chance is 0.5; 0.66 on 400 reviews is six standard errors above it (0.76 here)
    assert run.metrics["val"]["accuracy"] >= 0.66, run.history["val_accuracy"]


def test_classify_encoder_run_exports_with_the_lm_tokenizer(frozen_run, tmp_path) -> None:
    # predict.py (numpy + onnxruntime, no seqlab) must tokenise as the LM does
    pytest.importorskip("onnxruntime")
    from _standalone import probabilities, run_predict_scripts
    from seqlab.export import export

    run, folder = frozen_run
    texts = [*ODD, "Its plot was DULL.<br />A mess!"]
    target = export(folder, tmp_path / "exported")
    result = run_predict_scripts({"ulmfit": (target, ["--json", *texts])})["ulmfit"]
    assert result["code"] == 0, result["stderr"]
    got = probabilities(result["stdout"], run.labels)
    np.testing.assert_allclose(got, run.predict_proba(texts), atol=1e-5, rtol=0)
