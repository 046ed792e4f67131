"""The exported predict.py reproduces seqlab's vectorizer: every standardisation, tokenizer,
n-gram, stop-word, bag and cut setting gives seqlab's probabilities (to 1e-5), run in an
interpreter that cannot import seqlab; a setting it could not reproduce is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

import seqlab as sl
from _standalone import probabilities, run_predict_scripts
from _toy_reviews import toy_reviews
from seqlab.data.base import TextDataset
from seqlab.export import export, preprocess
from seqlab.models import build
from seqlab.runs import Run
from seqlab.text import TextVectorizer
from seqlab.text.fixed import FixedLengthVectorizer

pytestmark = pytest.mark.usefixtures("one_thread")

DECOR = ["Don't", "É-lan!", "a must-see.<br />Really", "TAB\there", "non\u00a0break", "x,y;z"]
TEXTS = [
    "Superb! Don't miss it.<br /><br />The cast: GREAT",
    "awful",
    "the plot\twas boring, boring and BORING; É-lan\u00a0gone " * 3,
    "",
    "qqq www",
    "A must-see.<BR>story",
]
SEQUENCE = {"embedding_dim": 8, "num_filters": 4, "kernel_sizes": [2, 3], "seed": 0}

# name: (vectorizer, model name, model options); bag models read the vectorizer's bags
VARIANTS = {
    "multi_hot-stop-bigrams": (
        TextVectorizer(output_mode="multi_hot", stop_words="english", ngram_range=(1, 2)),
        "bow-mlp",
        {},
    ),
    "count-regex-pattern": (
        TextVectorizer(output_mode="count", standardize="regex", token_pattern=r"(?u)\b\w+\b"),
        "bow-mlp",
        {"head": "sigmoid"},
    ),
    "freq-char-ngrams": (
        TextVectorizer(output_mode="freq", level="char", ngram_range=(2, 3), standardize="lower"),
        "bow-mlp",
        {"hidden_sizes": [4]},
    ),
    "tf_idf-l2-no-strip": (
        TextVectorizer(output_mode="tf_idf", standardize=None, strip_html=False),
        "bow-mlp",
        {"nb_scaling": True},
    ),
    "keras-tf_idf-ngrams": (
        TextVectorizer(compat="keras", output_mode="tf_idf", ngrams=2),
        "bow-mlp",
        {},
    ),
    "keras-count-strip-punctuation": (
        TextVectorizer(compat="keras", output_mode="count", standardize="strip_punctuation"),
        "bow-mlp",
        {},
    ),
    "int-maxlen-pre": (TextVectorizer(maxlen=5, truncating="pre"), "kim-cnn", SEQUENCE),
    "int-maxlen-post-prepadded": (
        TextVectorizer(maxlen=5, truncating="post", padding="pre"),
        "kim-cnn",
        SEQUENCE,
    ),
    "int-fixed-length": (
        FixedLengthVectorizer(TextVectorizer(maxlen=7, padding="pre", truncating="pre")),
        "lstm",
        {"embedding_dim": 8, "hidden_size": 8},
    ),
    "keras-int-ngrams": (TextVectorizer(compat="keras", ngrams=(1, 3)), "kim-cnn", SEQUENCE),
    "int-char-keras": (TextVectorizer(level="char", standardize="keras"), "kim-cnn", SEQUENCE),
    "int-stop-bigrams-strip-html": (
        TextVectorizer(stop_words=["the", "a"], ngram_range=(1, 2), strip_html=True),
        "gru",
        {"embedding_dim": 8, "hidden_size": 8, "pooling": "mean"},
    ),
}


def _data(classes: int = 2) -> TextDataset:
    toy = toy_reviews(36)
    texts = [f"{t} {DECOR[i % len(DECOR)]}" for i, t in enumerate(toy.texts)]
    labels = np.arange(len(texts)) % classes
    return TextDataset(texts=texts, labels=labels, label_names=[f"c{k}" for k in range(classes)])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every variant trained for an epoch and exported (or the error it raised), plus a
    three-class NBSVM (one-vs-rest ratios); the --json output of every predict.py."""
    root = tmp_path_factory.mktemp("variants")
    cases = {**VARIANTS, "nbsvm-3-classes": (TextVectorizer(output_mode="count"), "bow-mlp",
                                             {"nb_scaling": True})}  # fmt: skip
    runs: dict = {}
    for key, (vec, name, options) in cases.items():
        data = _data(3 if key == "nbsvm-3-classes" else 2)
        try:
            inner = vec.vectorizer if isinstance(vec, FixedLengthVectorizer) else vec
            inner.fit(data.texts)
            model = build(name, vocab_size=vec.vocab_size, num_classes=len(data.label_names),
                          **options)  # fmt: skip
            run = sl.fit(model, vec, data, epochs=1, batch_size=8, val_split=0, progress=False,
                         device="cpu")  # fmt: skip
            runs[key] = (run, export(run, root / key))
        except Exception as exc:
            runs[key] = exc
    jobs = {k: (v[1], ["--json", *TEXTS]) for k, v in runs.items() if isinstance(v, tuple)}
    return runs, run_predict_scripts(jobs)


@pytest.mark.parametrize("key", [*VARIANTS, "nbsvm-3-classes"])
def test_export_preprocessing_predict_script_matches_seqlab(key, exported):
    runs, scripts = exported
    if isinstance(runs[key], Exception):
        raise runs[key]
    run, _ = runs[key]
    expected = run.predict_proba(TEXTS)
    assert scripts[key]["code"] == 0, scripts[key]["stderr"]
    got = probabilities(scripts[key]["stdout"], run.labels)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_export_preprocessing_settings_are_written_out(exported):
    runs, _ = exported
    keras = json.loads((runs["keras-tf_idf-ngrams"][1] / "preprocessing.json").read_text())
    run = runs["keras-tf_idf-ngrams"][0]
    assert keras["bag"]["keras_layout"] is True and keras["bag"]["l2_normalize"] is False
    assert keras["bag"]["idf"] == pytest.approx(run.vectorizer.idf_.tolist(), rel=1e-12)
    assert keras["text"]["orders"] == [1, 2] and keras["text"]["compat"] == "keras"
    fixed = json.loads((runs["int-fixed-length"][1] / "preprocessing.json").read_text())
    assert fixed["sequence"] == {
        "maxlen": 7,
        "padding": "pre",
        "truncating": "pre",
        "strip_zeros": True,
        "fixed_length": 7,
    }
    assert fixed["inputs"] == ["tokens", "lengths"] and fixed["outputs"] == ["probabilities"]


def test_export_refuses_a_vectorizer_setting_it_cannot_reproduce(exported, monkeypatch, tmp_path):
    run, _ = exported[0]["multi_hot-stop-bigrams"]
    monkeypatch.setattr(preprocess, "REPRODUCED", preprocess.REPRODUCED - {"stop_words"})
    with pytest.raises(ValueError) as info:
        export(run, tmp_path / "x")
    assert str(info.value) == (
        "the vectorizer setting stop_words='english' has no pure-Python reproduction in the "
        "exported predict.py (export would give other numbers than seqlab); train with the "
        "default stop_words=None to export the run"
    )
    assert not (tmp_path / "x").exists()


def test_export_refuses_a_vectorizer_that_is_not_a_text_vectorizer(exported, tmp_path):
    run, _ = exported[0]["int-maxlen-pre"]

    class Ids:  # any object with a transform (what seqlab.fit accepts)
        output_mode = "int"

        def transform(self, docs):
            return run.vectorizer.transform(docs)

    custom = Run(run.model, Ids(), run.labels)
    with pytest.raises(ValueError, match=r"^the run's vectorizer is a Ids, not a seqlab "):
        export(custom, tmp_path / "x")


def test_export_predict_script_carries_seqlabs_own_ngram_code() -> None:
    """predict.py gets seqlab's n-gram function pasted in (one copy of the code, no import of
    seqlab), and the pasted function gives seqlab's n-grams."""
    from seqlab.export.exporter import predict_script
    from seqlab.text.tokenize import ngrams_of_orders

    script = predict_script()
    assert "seqlab" not in "".join(
        line for line in script.splitlines() if line.startswith(("import ", "from "))
    )
    assert script.count("def ngrams_of_orders(") == 1
    namespace: dict = {"__file__": "predict.py", "__name__": "predict"}
    exec(compile(script, "predict.py", "exec"), namespace)
    units = ["a", "b", "c", "d"]
    for orders in ([1], [1, 2], [2, 3], [1, 3, 5]):
        assert namespace["ngrams_of_orders"](units, orders, "_") == ngrams_of_orders(
            units, orders, "_"
        )
