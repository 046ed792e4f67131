"""seqlab.export over the live model registry: every classifier and every language model
exports to ONNX, and onnxruntime, the standalone predict.py (run in an interpreter that
cannot import seqlab) and TorchScript give seqlab's numbers on texts of different lengths."""

from __future__ import annotations

import inspect
import json
import runpy

import numpy as np
import onnxruntime as ort
import pytest
import torch

import seqlab as sl
import seqlab.data.datasets as ds
from _standalone import probabilities, run_predict_scripts
from _toy_reviews import toy_reviews
from seqlab.data.batching import make_batch
from seqlab.export import export
from seqlab.export.formats import runner
from seqlab.lm.data import CharVocabulary, WordVocabulary
from seqlab.lm.model import LanguageModel
from seqlab.models import available, build, get
from seqlab.text import TextVectorizer

pytestmark = pytest.mark.usefixtures("one_thread")


def _is_classifier(name: str) -> bool:
    return "num_classes" in inspect.signature(get(name)).parameters


CLASSIFIERS = [n for n in available() if _is_classifier(n)]
LANGUAGE_MODELS = [n for n in available() if not _is_classifier(n)]

# Small sizes for whichever of these arguments a model takes (the rest keep their defaults):
# two stacked bidirectional layers, a convolution longer than the shortest texts, an
# embedding-dense that keeps the last 6 tokens, transformers of width 16 (the classifier's
# 8-wide embedding projected to it) with an attention window of 8 tokens, shorter than the
# prompts.
SMALL = {
    "d_model": 16,
    "num_heads": 2,
    "block_size": 8,
    "embedding_dim": 8,
    "hidden_size": 8,
    "num_layers": 2,
    "bidirectional": True,
    "num_filters": 4,
    "kernel_size": 3,
    "pool_size": 2,
    "channels": [4, 4],
    "kernel_sizes": [2, 3],
    "dilations": [1, 2],
    "maxlen": 6,
    "truncating": "pre",
    "hidden_sizes": [4],
}
TEXTS = [
    "superb",
    "the film was great",
    "an awful plot and a boring cast, it was awful",
    "the story " * 12 + "superb",
    "",
    "zzz qqq",  # out of vocabulary only
]
PROMPTS = ["the will to truth", "Supposing that"]


def small_model(name: str, **given):
    params = inspect.signature(get(name)).parameters
    return build(name, **{k: v for k, v in SMALL.items() if k in params}, **given)


@pytest.fixture(scope="module")
def classifier_exports(tmp_path_factory):
    """Each classifier trained for an epoch on toy reviews and exported to ONNX (or the
    error it raised), and the --json output of every predict.py, run without seqlab."""
    data = toy_reviews(40)
    root = tmp_path_factory.mktemp("classifiers")
    exports: dict = {}
    for name in CLASSIFIERS:
        try:
            bag = get(name).input_kind == "bag"
            mode = {"output_mode": "tf_idf", "ngram_range": (1, 2)} if bag else {}
            vec = TextVectorizer(**mode).fit(data.texts)
            model = small_model(name, vocab_size=vec.vocab_size, num_classes=2)
            run = sl.fit(model, vec, data, epochs=1, batch_size=8, val_split=0, progress=False,
                         device="cpu")  # fmt: skip
            try:
                exports[name] = (run, export(run, root / name))
            except ValueError as exc:  # ONNX cannot express it: the refusal names TorchScript
                if "export it as TorchScript instead" not in str(exc):
                    raise
                exports[name] = (run, export(run, root / name, "torchscript"))
        except Exception as exc:  # reported by the model's own test
            exports[name] = exc
    jobs = {n: (v[1], ["--json", *TEXTS]) for n, v in exports.items() if isinstance(v, tuple)}
    return exports, run_predict_scripts(jobs)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_export_classifier_onnx_and_predict_script_match_seqlab(name, classifier_exports):
    exports, scripts = classifier_exports
    if isinstance(exports[name], Exception):
        raise exports[name]
    run, folder = exports[name]
    onnx = (folder / "model.onnx").is_file()  # else ONNX refused it: TorchScript (fasttext's hash)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            "model.onnx" if onnx else "model.pt",
            "vocabulary.json",
            "preprocessing.json",
            "predict.py",
        ]
    )
    expected = run.predict_proba(TEXTS)
    assert len(np.unique(expected[:, 1].round(6))) > 1  # the texts get different answers
    # onnxruntime (or TorchScript), fed seqlab's own encoding of the texts
    batch = make_batch(run.encode(TEXTS), np.arange(len(TEXTS)))
    if onnx:
        session = ort.InferenceSession(
            str(folder / "model.onnx"), providers=["CPUExecutionProvider"]
        )
        (got,) = session.run(None, {k: v.numpy() for k, v in batch.items()})
    else:
        scripted = runpy.run_path(str(folder / "predict.py"))["Exported"](folder)
        (got,) = scripted._run([batch[k].numpy() for k in scripted.names])
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    # the standalone script: its own preprocessing, no seqlab
    assert scripts[name]["code"] == 0
    np.testing.assert_allclose(
        probabilities(scripts[name]["stdout"], run.labels), expected, atol=1e-5, rtol=0
    )
    settings = json.loads((folder / "preprocessing.json").read_text())
    assert (settings["task"], settings["model"], settings["labels"]) == (
        "classify",
        name,
        run.labels,
    )
    assert json.loads((folder / "vocabulary.json").read_text()) == run.vectorizer.get_vocabulary()


def _char_lm(name: str) -> LanguageModel:
    vocab = CharVocabulary.fit(ds.corpus("nietzsche")[:3000])
    torch.manual_seed(0)
    try:
        model = small_model(name, vocab_size=len(vocab))
    except TypeError:  # a model that takes none of SMALL's names
        model = build(name, vocab_size=len(vocab))
    return LanguageModel(model.eval(), vocab)


@pytest.fixture(scope="module")
def lm_exports(tmp_path_factory):
    """Each language model (seeded weights, a character vocabulary) and a word-level GRU,
    exported to ONNX (or the error), and the --json output of their predict.py."""
    root = tmp_path_factory.mktemp("lms")
    exports: dict = {}
    for name in LANGUAGE_MODELS:
        try:
            lm = _char_lm(name)
            exports[name] = (lm, export(lm, root / name))
        except Exception as exc:
            exports[name] = exc
    words = WordVocabulary.fit(ds.corpus("nietzsche")[:5000], max_tokens=200)
    torch.manual_seed(1)
    word_lm = LanguageModel(build("lm-gru", vocab_size=len(words), hidden_size=8, num_layers=1,
                                  embedding_dim=8).eval(), words)  # fmt: skip
    exports["word"] = (word_lm, export(word_lm, root / "word"))
    args = ["--json", "--top", "3", "--length", "12", *PROMPTS]
    jobs = {n: (v[1], args) for n, v in exports.items() if isinstance(v, tuple)}
    jobs["unknown"] = (exports["word"][1].with_name("lm-lstm"), ["--json", "the \u03a9"])
    return exports, run_predict_scripts(jobs)


@pytest.mark.parametrize("name", [*LANGUAGE_MODELS, "word"])
def test_export_lm_one_step_and_predict_script_match_seqlab(name, lm_exports):
    exports, scripts = lm_exports
    if isinstance(exports[name], Exception):
        raise exports[name]
    lm, folder = exports[name]
    settings = json.loads((folder / "preprocessing.json").read_text())
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    if getattr(lm.model, "state_grows", False):  # a key/value cache: the whole sequence
        _check_sequence_graph(lm, settings, session)
    else:
        _check_step_graph(lm, settings, session)
    # the standalone script: next-token probabilities after each prompt, greedy text
    assert scripts[name]["code"] == 0
    records = [json.loads(line) for line in scripts[name]["stdout"].splitlines()]
    for prompt, record in zip(PROMPTS, records):
        with torch.no_grad():
            out, _ = lm.model(torch.from_numpy(lm.vocab.encode(prompt))[None])
        expected = torch.softmax(out[0, -1], -1).numpy()
        top = np.argsort(-expected, kind="stable")[:3]
        assert [r["token"] for r in record["next"]] == [lm.vocab.itos[i] for i in top]
        np.testing.assert_allclose(
            [r["probability"] for r in record["next"]], expected[top], atol=1e-5, rtol=0
        )
        assert record["continuation"] == lm.generate(prompt, length=12, temperature=1e-7)


def _check_step_graph(lm, settings, session):
    """One step from a state that is not zeros gives seqlab's logits and new state."""
    names = [s["name"] for s in settings["state"]]
    assert (settings["graph"], settings["inputs"]) == ("step", ["ids", *names])
    if isinstance(lm.model, sl.models.LSTMLanguageModel):
        assert names == ["h", "c"]
    ids = torch.tensor([2, 0, 5])
    with torch.no_grad():
        _, state = lm.model(ids[:, None])  # a state that is not zeros
        logits, new_state = lm.model(ids.flip(0)[:, None], state)
    feeds = {"ids": ids.flip(0).numpy(), **{n: s.numpy() for n, s in zip(names, state)}}
    got = session.run(None, feeds)
    np.testing.assert_allclose(got[0], logits[:, 0].numpy(), atol=1e-5, rtol=1e-5)
    for have, want in zip(got[1:], new_state):
        np.testing.assert_allclose(have, want.numpy(), atol=1e-5, rtol=1e-5)


def _check_sequence_graph(lm, settings, session):
    """Every position's logits of texts longer than the attention window (and of a text of
    one token) are seqlab's: the whole-sequence pass, and token by token with the cache."""
    assert settings["graph"] == "sequence" and settings["state"] == []
    assert (settings["inputs"], settings["outputs"]) == (["ids"], ["logits"])
    steps = 3 * lm.model.block_size + 5
    ids = torch.randint(0, len(lm.vocab), (3, steps), generator=torch.Generator().manual_seed(0))
    (got,) = session.run(None, {"ids": ids.numpy()})
    with torch.no_grad():
        whole, _ = lm.model(ids)
        state, cached = None, []
        for t in range(steps):
            logits, state = lm.model(ids[:, t : t + 1], state)
            cached.append(logits)
    assert got.shape == (3, steps, len(lm.vocab))
    np.testing.assert_allclose(got, whole.numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(got, torch.cat(cached, 1).numpy(), atol=1e-5, rtol=1e-5)
    (one,) = session.run(None, {"ids": ids[:1, :1].numpy()})
    np.testing.assert_allclose(one, whole[:1, :1].numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "bow-mlp"])
def test_export_torchscript_round_trip(name, classifier_exports, tmp_path):
    exports, _ = classifier_exports
    run, _ = exports[name]
    folder = export(run, tmp_path / "ts", "torchscript")
    assert (folder / "model.pt").is_file() and not (folder / "model.onnx").exists()
    module = torch.jit.load(str(folder / "model.pt"))
    batch = make_batch(run.encode(TEXTS), np.arange(len(TEXTS)))
    expected = run.predict_proba(TEXTS)
    with torch.no_grad():
        got = module(*batch.values()).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    script = runpy.run_path(str(folder / "predict.py"))  # its TorchScript path, in-process
    np.testing.assert_allclose(
        script["Exported"](folder).predict_proba(TEXTS), expected, atol=1e-5, rtol=0
    )


def test_export_torchscript_language_model_step(lm_exports, tmp_path):
    lm, _ = lm_exports[0]["lm-lstm"]
    folder = export(lm, tmp_path / "ts", "torchscript")
    run = runner((folder / "model.pt").read_bytes(), "torchscript", ["ids", "h", "c"])
    zeros = np.zeros((2, 2, 8), np.float32)
    logits, h, c = run([np.array([3, 4]), zeros, zeros])
    with torch.no_grad():
        want, (wh, wc) = lm.model(torch.tensor([[3], [4]]))
    np.testing.assert_allclose(logits, want[:, 0].numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(h, wh.numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(c, wc.numpy(), atol=1e-5, rtol=1e-5)


def test_export_lm_predict_script_refuses_unknown_characters(lm_exports):
    _, scripts = lm_exports
    result = scripts["unknown"]  # a character LM asked about a character it never saw
    assert result["code"] == 2
    assert result["stderr"] == "error: characters not in the vocabulary: '\u03a9'\n"
