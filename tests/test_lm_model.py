"""Language models: shapes, weight tying, learning a short text and reproducing it greedily,
save/load, streaming, stop strings, word-level OOV, evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import seqlab.lm
from seqlab.lm import LanguageModel
from seqlab.lm.data import CharVocabulary, WordVocabulary
from seqlab.models import registry
from seqlab.models.lm import GRULanguageModel, LSTMLanguageModel, detach_state

TEXT = "the quick brown fox jumps over the lazy dog. "


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fox_lm() -> LanguageModel:
    """A small LSTM trained until it has memorised TEXT (repeated)."""
    return seqlab.lm.train(
        text=TEXT * 12,
        steps=150,
        val_split=0.0,
        hidden_size=64,
        num_layers=1,
        embedding_dim=16,
        dropout=0.0,
        batch_size=4,
        seq_len=32,
        lr=1e-2,
        device="cpu",
        progress=False,
    )


@pytest.mark.parametrize("name", ["lm-lstm", "lm-gru", "char-lstm"])
def test_lm_registered_models_shapes_and_state(name):
    model = registry.build(name, vocab_size=11, embedding_dim=8, hidden_size=12, num_layers=2)
    assert model.config["vocab_size"] == 11
    rebuilt = registry.build(name, **model.config)
    assert rebuilt.config == model.config
    logits, state = model(torch.randint(0, 11, (3, 7)))
    assert logits.shape == (3, 7, 11)
    assert all(s.shape == (2, 3, 12) for s in state)
    # Feeding two halves with the carried state equals feeding the whole sequence.
    model.eval()
    x = torch.randint(0, 11, (2, 10))
    whole, _ = model(x)
    first, s = model(x[:, :4])
    second, _ = model(x[:, 4:], detach_state(s))
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    # The single-step path used by generation gives the same numbers, token after token.
    state = None
    for t in range(x.shape[1]):
        step_logits, state = model.step(x[:, t], state)
        torch.testing.assert_close(step_logits, whole[:, t])


def test_lm_char_lstm_is_the_lecture_model():
    config = registry.build("char-lstm", vocab_size=57).config
    assert config["input_encoding"] == "one_hot"
    assert config["hidden_size"] == 128 and config["num_layers"] == 1


def test_lm_weight_tying():
    model = LSTMLanguageModel(vocab_size=20, embedding_dim=16, hidden_size=16, tie_weights=True)
    assert model.decoder.weight is model.embedding.weight
    with pytest.raises(ValueError, match="embedding_dim == hidden_size"):
        LSTMLanguageModel(vocab_size=20, embedding_dim=8, hidden_size=16, tie_weights=True)
    with pytest.raises(ValueError, match="input_encoding"):
        GRULanguageModel(vocab_size=20, hidden_size=16, tie_weights=True, input_encoding="one_hot")


def test_lm_tiny_model_memorises_text_and_reproduces_it_greedily(fox_lm):
    assert fox_lm.evaluate(TEXT * 4)["loss"] < 0.2
    out = fox_lm.generate("the quick", length=len(TEXT) * 2, temperature=1e-7)
    expected = (TEXT * 3)[len("the quick") :][: len(TEXT) * 2]
    assert out == expected
    # Greedy decoding ignores the seed.
    assert fox_lm.generate("the lazy", 30, temperature=1e-7, seed=1) == fox_lm.generate(
        "the lazy", 30, temperature=1e-7, seed=2
    )


def test_lm_same_seed_same_text(fox_lm):
    a = fox_lm.generate("the ", 60, temperature=1.5, seed=11)
    assert a == fox_lm.generate("the ", 60, temperature=1.5, seed=11)
    assert a != fox_lm.generate("the ", 60, temperature=1.5, seed=12)


def test_lm_save_load_equal_outputs(fox_lm, tmp_path):
    fox_lm.save(tmp_path / "run")
    loaded = seqlab.lm.load(tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if not p.name.startswith(".")) == [
        "config.json", "history.json", "metrics.json", "model.safetensors", "vocab.json",
    ]  # fmt: skip
    x = torch.tensor([fox_lm.vocab.encode("the lazy dog").tolist()])
    fox_lm.model.eval()
    torch.testing.assert_close(loaded.model(x)[0], fox_lm.model(x)[0], rtol=0, atol=0)
    assert loaded.generate("the ", 80, temperature=0.8, seed=5) == fox_lm.generate(
        "the ", 80, temperature=0.8, seed=5
    )
    assert loaded.history == fox_lm.history and loaded.train_config == fox_lm.train_config


def test_lm_save_load_tied_word_model(tmp_path):
    vocab = WordVocabulary.fit("a b c a b d e", max_tokens=10)
    model = GRULanguageModel(len(vocab), embedding_dim=8, hidden_size=8, tie_weights=True)
    LanguageModel(model, vocab).save(tmp_path / "w")
    loaded = seqlab.lm.load(tmp_path / "w")
    assert loaded.model.decoder.weight is loaded.model.embedding.weight
    torch.testing.assert_close(loaded.model.embedding.weight, model.embedding.weight)


def test_lm_stream_yields_the_generated_text(fox_lm):
    kwargs = dict(length=70, temperature=0.9, top_k=5, seed=3)
    pieces = list(fox_lm.stream("the ", **kwargs))
    assert len(pieces) == 70 and all(len(p) == 1 for p in pieces)
    assert "".join(pieces) == fox_lm.generate("the ", **kwargs)


def test_lm_generation_options_are_spelled_out_and_checked(fox_lm):
    import inspect

    from seqlab.lm.model import GENERATION_DEFAULTS

    for method in (fox_lm.generate, fox_lm.stream):
        params = inspect.signature(method).parameters
        assert list(params)[:3] == ["prompt", "length", "temperature"]
        for name, default in GENERATION_DEFAULTS.items():
            assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
            assert params[name].default == default
    for method in ("generate", "stream"):
        with pytest.raises(TypeError, match=rf"{method}\(\) got an unexpected keyword .*'topk'"):
            getattr(fox_lm, method)("the ", 5, topk=3)


def test_lm_stop_strings(fox_lm):
    out = fox_lm.generate("the quick", length=200, temperature=1e-7, stop="dog")
    assert out == " brown fox jumps over the lazy "
    streamed = "".join(fox_lm.stream("the quick", 200, 1e-7, stop=[". ", "lazy"]))
    assert streamed == " brown fox jumps over the "


def test_lm_unknown_prompt_characters_are_refused(fox_lm):
    with pytest.raises(ValueError, match="not in the vocabulary"):
        fox_lm.generate("the Zebra", 5)
    with pytest.raises(ValueError, match="temperature"):
        fox_lm.generate("the ", 5, temperature=0)


def test_lm_evaluate_reports_nats_bits_and_perplexity(fox_lm):
    m = fox_lm.evaluate(TEXT * 4)
    assert m["mode"] == "stream" and m["tokens"] > 100
    assert m["loss"] < 0.3
    assert m["bits_per_char"] == pytest.approx(m["loss"] / math.log(2))
    assert m["perplexity"] == pytest.approx(math.exp(m["loss"]))
    window = fox_lm.evaluate(TEXT * 4, mode="window")
    assert window["mode"] == "window" and window["loss"] < 1.0
    assert fox_lm.evaluate(TEXT * 4 + "!?")["unknown_chars"] == 2


def test_lm_word_level_generation_and_oov(tmp_path):
    text = ("the cat sat on the mat . the dog sat on the log . " * 30) + "a zebra appears ."
    lm = seqlab.lm.train(
        text=text,
        level="word",
        steps=60,
        max_tokens=8,  # pad, [UNK] and 6 words: 'log' and the rare words become [UNK]
        hidden_size=32,
        embedding_dim=32,
        batch_size=4,
        seq_len=16,
        lr=1e-2,
        dropout=0.0,
        val_split=0.0,
        device="cpu",
        progress=False,
    )
    assert isinstance(lm.vocab, WordVocabulary) and len(lm.vocab) == 8
    assert lm.vocab.itos[:2] == ["", "[UNK]"]
    ids = lm.vocab.encode("the zebra sat")
    assert ids[1] == 1  # unknown word -> [UNK]
    out = lm.generate("the zebra", length=40, temperature=0.7, seed=0)  # an OOV word in the prompt
    words = lm.vocab.tokenize(out.replace("[UNK]", " "))  # "[UNK]" would split into 3 tokens
    assert len(words) + out.count("[UNK]") == 40 and set(words) <= set(lm.vocab.itos[2:])
    pieces = list(lm.stream("the cat", length=10, temperature=1e-7))
    assert pieces[0] == " sat" and "".join(pieces) == lm.generate("the cat", 10, 1e-7)
    assert lm.evaluate("the cat sat on the mat .")["perplexity"] < 8


def test_lm_language_model_checks_vocab_size():
    vocab = CharVocabulary.fit("abc")
    with pytest.raises(ValueError, match="vocab_size"):
        LanguageModel(LSTMLanguageModel(vocab_size=5, hidden_size=4), vocab)


def test_lm_evaluate_needs_text():
    vocab = CharVocabulary.fit("abc")
    lm = LanguageModel(LSTMLanguageModel(len(vocab), 4, 4, 1), vocab)
    with pytest.raises(ValueError, match="at least 2"):
        lm.evaluate("a")
    assert np.isfinite(lm.evaluate("abcabc")["loss"])


def test_lm_seqlab_load_returns_a_language_model(fox_lm, tmp_path):
    import seqlab

    fox_lm.save(tmp_path / "run")
    loaded = seqlab.load(tmp_path / "run")
    assert isinstance(loaded, LanguageModel)
    assert loaded.generate("the ", 40, temperature=0.5, seed=1) == fox_lm.generate(
        "the ", 40, temperature=0.5, seed=1
    )
