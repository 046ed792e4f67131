"""The transformer classifier: explicit attention weights = SDPA, positions, masks, bf16, errors.

Shapes, padding invariance, overfitting, seeds, safetensors round trips and pretrained tables
are tested with every other sequence model in test_models_sequence.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import seqlab.models as models
from seqlab.models.transformer import TransformerClassifier, sinusoidal_table

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB = 40
SMALL = {"vocab_size": VOCAB, "embedding_dim": 16, "num_heads": 2, "dim_feedforward": 24}
CONFIGS = [
    {},
    {"pooling": "max", "positions": "learned", "max_length": 64},
    {"pooling": "first", "d_model": 12, "num_heads": 3},  # [CLS] and a projection
    {"num_layers": 3, "num_heads": 4, "init": "keras", "head": "sigmoid"},
]
IDS = ["mean", "max-learned", "first-projected", "keras-sigmoid"]


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.zeros(3, 9, dtype=torch.long)  # post-padded, with extra padding
    tokens[0, :7] = torch.tensor([5, 6, 7, 8, 9, 10, 11])
    tokens[1, :2] = torch.tensor([12, 13])
    tokens[2, :1] = torch.tensor([14])
    return tokens, torch.tensor([7, 2, 1])


def _model(**kw) -> TransformerClassifier:
    return TransformerClassifier(**{**SMALL, "seed": 3, **kw}).eval()


@pytest.mark.parametrize("options", CONFIGS, ids=IDS)
def test_models_transformer_explicit_weights_reproduce_sdpa(options: dict) -> None:
    model = _model(**options)
    tokens, lengths = _batch()
    with torch.no_grad():
        x, lengths = model.embed(tokens=tokens, lengths=lengths)
        sdpa = model.forward_embedded(x, lengths)
        torch.testing.assert_close(model.forward_explicit(x, lengths), sdpa, atol=1e-6, rtol=0)
        # Block by block: weights @ v through the output projection is the SDPA output.
        h, keep, _ = model._stream(x, lengths)
        for block in model.blocks:
            attention = block.attention
            normed = block.norm1(h)
            out, weights = attention.explicit(normed, keep)
            torch.testing.assert_close(out, attention(normed, keep), atol=1e-6, rtol=0)
            q, k, v = attention._split(normed)
            by_hand = (
                (q @ k.transpose(-2, -1) / math.sqrt(attention.head_dim))
                .masked_fill(~keep, float("-inf"))
                .softmax(-1)
            )
            torch.testing.assert_close(weights, by_hand)
            torch.testing.assert_close(attention._merge(weights @ v), out)
            h = block(h, keep)


@pytest.mark.parametrize("options", CONFIGS, ids=IDS)
def test_models_transformer_attention_weights_mask_padding(options: dict) -> None:
    model = _model(**options)
    tokens, lengths = _batch()
    with torch.no_grad():
        layers = model.attention_weights(tokens=tokens, lengths=lengths)
    extra = 1 if model.pooling == "first" else 0  # the [CLS] step comes first
    heads = model.config["num_heads"]
    assert len(layers) == model.config["num_layers"]
    for weights in layers:
        assert weights.shape == (3, heads, 7 + extra, 7 + extra)  # cut to the longest text
        for b, n in enumerate((lengths + extra).tolist()):
            real = weights[b, :, :n, :n]
            torch.testing.assert_close(real.sum(-1), torch.ones(heads, n))
            assert (real > 0).all()
            assert not weights[b, :, :, n:].any() and not weights[b, :, n:, :].any()
    # The same text alone gives the same weights: padding changes nothing.
    with torch.no_grad():
        alone = model.attention_weights(tokens=tokens[1:2, :2], lengths=lengths[1:2])
    n = 2 + extra
    for batched, single in zip(layers, alone):
        torch.testing.assert_close(batched[1:2, :, :n, :n], single, atol=1e-6, rtol=0)


def test_models_transformer_sinusoidal_table_values() -> None:
    table = sinusoidal_table(50, 6)
    assert table.shape == (50, 6)
    t = 7.0
    expected = [math.sin(t), math.cos(t), math.sin(t / 10_000 ** (2 / 6)),
                math.cos(t / 10_000 ** (2 / 6)), math.sin(t / 10_000 ** (4 / 6)),
                math.cos(t / 10_000 ** (4 / 6))]  # fmt: skip
    np.testing.assert_allclose(table[7].numpy(), expected, rtol=1e-5, atol=1e-6)
    odd = sinusoidal_table(4, 5)[3]  # an odd width has no cosine of its last frequency
    f = [10_000 ** (-2 * i / 5) for i in range(3)]
    expected = [math.sin(3 * f[0]), math.cos(3 * f[0]), math.sin(3 * f[1]), math.cos(3 * f[1]),
                math.sin(3 * f[2])]  # fmt: skip
    np.testing.assert_allclose(odd.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_models_transformer_positions_make_order_matter_and_any_length_work() -> None:
    model = _model(dropout=0.0)
    with torch.no_grad():
        ab = model(tokens=torch.tensor([[5, 6, 7]]))
        ba = model(tokens=torch.tensor([[7, 6, 5]]))
        long = model(tokens=torch.randint(1, VOCAB, (1, 3000)))  # longer than any table
    assert not torch.allclose(ab, ba, atol=1e-4)  # not a bag of words
    assert torch.isfinite(long).all()


def test_models_transformer_learned_positions_refuse_longer_sequences() -> None:
    model = _model(positions="learned", max_length=8)
    model(tokens=torch.ones(1, 8, dtype=torch.long))  # exactly max_length is fine
    with pytest.raises(ValueError) as info:
        model(tokens=torch.ones(1, 9, dtype=torch.long))
    assert str(info.value) == (
        "a sequence of 9 tokens is longer than max_length=8, the positions='learned' table; "
        "cut texts to at most that many tokens (truncate=8), build the model with a larger "
        "max_length, or use positions='sinusoidal'"
    )
    # The config says which positions the model has; sinusoidal ones have no limit.
    assert model.max_length == 8 and _model().max_length is None


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_models_transformer_positions_start_at_the_size_of_the_word_vectors(positions) -> None:
    rng = np.random.default_rng(0)
    matrix = (0.1 * rng.standard_normal((VOCAB, 16))).astype(np.float32)
    rms = float(np.sqrt((matrix[1:] ** 2).mean()))
    kw = {k: v for k, v in SMALL.items() if k not in ("vocab_size", "embedding_dim")}
    model = TransformerClassifier(pretrained=matrix, positions=positions, pooling="first", **kw)
    table = (
        model.positions.weight.detach()
        if positions == "learned"
        else model.positions.scale.detach()
        * sinusoidal_table(512, 16)
        * math.sqrt(2)  # sin: rms 1/sqrt2
    )
    assert float(table.pow(2).mean().sqrt()) == pytest.approx(rms, rel=0.05)
    assert float(model.cls.detach().pow(2).mean().sqrt()) == pytest.approx(rms, rel=1e-4)
    # With a projection the scale is that of the projected vectors.
    projected = TransformerClassifier(pretrained=matrix, d_model=8, **kw)
    with torch.no_grad():
        target = projected.project(projected.embedding.weight[1:]).pow(2).mean().sqrt()
    assert float(projected.positions.scale.detach()) == pytest.approx(float(target), rel=1e-5)


def test_models_transformer_bf16_autocast_on_cpu() -> None:
    model = _model(dropout=0.0)
    tokens, lengths = _batch()
    with torch.no_grad():
        full = model(tokens=tokens, lengths=lengths)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(tokens=tokens, lengths=lengths)
            padded = model(tokens=torch.nn.functional.pad(tokens, (0, 30)), lengths=lengths)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), full, atol=0.05, rtol=0.05)
    torch.testing.assert_close(padded.float(), half.float(), atol=0.02, rtol=0)
    # a training step under autocast: float32 weights, finite gradients
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(
            model(tokens, lengths).float(), torch.tensor([0, 1, 1])
        )
    loss.backward()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_models_transformer_summary_rows_and_counts() -> None:
    model = models.build("transformer", vocab_size=100, embedding_dim=8, d_model=16,
                         num_layers=1, num_heads=4, dim_feedforward=32, pooling="first",
                         dropout=0.0)  # fmt: skip
    rows = [(r.name, r.output_shape, r.params) for r in models.summarize(model).layers]
    assert rows == [
        ("embedding", (None, None, 8), 800),
        ("project", (None, None, 16), 8 * 16 + 16),
        ("positions", (None, None, 16), 1),  # the sinusoids' scale
        ("blocks.0.norm1", (None, None, 16), 32),
        ("blocks.0.attention.qkv", (None, None, 48), 16 * 48 + 48),
        ("blocks.0.attention.out", (None, None, 16), 16 * 16 + 16),
        ("blocks.0.norm2", (None, None, 16), 32),
        ("blocks.0.mlp.0", (None, None, 32), 16 * 32 + 32),
        ("blocks.0.mlp.1", (None, None, 32), 0),
        ("blocks.0.mlp.2", (None, None, 16), 32 * 16 + 16),
        ("norm", (None, None, 16), 32),
        ("head", (None, 2), 34),
        ("cls", None, 16),
    ]
    learned = models.build("transformer", vocab_size=10, embedding_dim=8, num_heads=2,
                           positions="learned", max_length=20)  # fmt: skip
    summary = models.summarize(learned)  # probes within the table's 20 positions
    assert summary.layers[1].name == "positions" and summary.layers[1].params == 160
    assert summary.layers[1].output_shape == (None, None, 8)
    assert "positions (LearnedPositions)" in models.summary(learned)


def test_models_transformer_config_defaults() -> None:
    model = TransformerClassifier(vocab_size=VOCAB)
    assert {k: model.config[k] for k in ("embedding_dim", "d_model", "num_layers", "num_heads",
            "dim_feedforward", "positions", "pooling", "dropout")} == {
        "embedding_dim": 64, "d_model": 64, "num_layers": 2, "num_heads": 4,
        "dim_feedforward": 256, "positions": "sinusoidal", "pooling": "mean", "dropout": 0.1,
    }  # fmt: skip
    assert model.project is None and model.cls is None
    numeric = TransformerClassifier(input_size=3, num_heads=2)
    assert numeric.config["d_model"] == 32 and numeric.project.in_features == 3


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"embedding_dim": 50}, ValueError,
         "d_model=50 (the embedding width) is not a multiple of num_heads=4; use num_heads=2 "
         "(or another divisor of 50), or give d_model=52 (token vectors are then projected)"),
        ({"d_model": 30, "num_heads": 4}, ValueError,
         "d_model=30 (d_model) is not a multiple of num_heads=4; use num_heads=3 (or another "
         "divisor of 30), or give d_model=32 (token vectors are then projected)"),
        ({"pooling": "last"}, ValueError,
         "pooling must be one of 'mean', 'max', 'first'; got 'last'"),
        ({"positions": "rotary"}, ValueError,
         "positions must be one of 'sinusoidal', 'learned'; got 'rotary'"),
        ({"num_heads": 0}, ValueError, "num_heads must be an integer >= 1, got 0"),
        ({"num_layers": 1.5}, TypeError, "num_layers must be an integer >= 1, got 1.5"),
        ({"max_length": 0}, ValueError, "max_length must be an integer >= 1, got 0"),
        ({"dim_feedforward": 0}, ValueError, "dim_feedforward must be an integer >= 1, got 0"),
        ({"dropout": 1.0}, ValueError, r"dropout must be in [0, 1), got 1.0"),
        ({"attention_dropout": 1.0}, ValueError, r"attention_dropout must be in [0, 1), got 1.0"),
        ({"word_dropout": -0.1}, ValueError, r"word_dropout must be in [0, 1), got -0.1"),
    ],
)  # fmt: skip
def test_models_transformer_bad_options_are_one_line_errors(options, error, message) -> None:
    with pytest.raises(error) as info:
        TransformerClassifier(vocab_size=VOCAB, **options)
    assert str(info.value) == message


def test_models_transformer_attention_dropout_apart_from_dropout(tmp_path) -> None:
    same = TransformerClassifier(vocab_size=VOCAB, embedding_dim=16, dropout=0.3)
    apart = TransformerClassifier(vocab_size=VOCAB, embedding_dim=16, dropout=0.3,
                                  attention_dropout=0.0)  # fmt: skip
    assert [b.attention.p for b in same.blocks] == [0.3, 0.3]  # default: as dropout
    assert [b.attention.p for b in apart.blocks] == [0.0, 0.0]
    assert [b.dropout.p for b in apart.blocks] == [0.3, 0.3] and apart.dropout.p == 0.3
    # older configs have no key and rebuild as before; the new key rebuilds the same model
    assert "attention_dropout" not in same.config and apart.config["attention_dropout"] == 0.0
    rebuilt = TransformerClassifier(**apart.config)
    assert [b.attention.p for b in rebuilt.blocks] == [0.0, 0.0]
    # without attention dropout, two training-mode passes differ only by the other dropouts
    tokens, lengths = _batch()
    apart.train()
    for block in apart.blocks:
        block.dropout.p = 0.0
    apart.dropout.p = 0.0
    torch.testing.assert_close(apart(tokens, lengths), apart(tokens, lengths))


def test_models_transformer_word_dropout_leaves_tokens_out_in_training_only(monkeypatch) -> None:
    tokens, lengths = _batch()  # lengths 7, 2, 1
    plain = _model(dropout=0.0)
    dropping = _model(dropout=0.0, word_dropout=0.5)
    assert dropping.config["word_dropout"] == 0.5 and "word_dropout" not in plain.config
    # evaluation: no token is left out, and the two (same seed, same weights) agree
    torch.testing.assert_close(dropping(tokens, lengths), plain(tokens, lengths))
    # training: a dropped token is one the text does not have. Draw the last two tokens of
    # text 0 out, and both of text 1 (which then keeps its first): the same as texts of
    # lengths 5, 1, 1 (with dropout 0, training mode changes nothing else).
    draw = torch.full(tokens.shape, 0.9)
    draw[0, 5:7] = 0.1
    draw[1, :2] = 0.1
    monkeypatch.setattr(torch, "rand", lambda shape, **k: draw[:, : shape[1]].clone())
    dropping.train()
    torch.testing.assert_close(dropping(tokens, lengths), plain(tokens, torch.tensor([5, 1, 1])))
    for pooling in ("max", "first"):  # the other poolings skip dropped tokens too
        a, b = _model(dropout=0.0, pooling=pooling), _model(dropout=0.0, pooling=pooling,
                                                            word_dropout=0.5)  # fmt: skip
        b.train()
        torch.testing.assert_close(b(tokens, lengths), a(tokens, torch.tensor([5, 1, 1])))
    rebuilt = TransformerClassifier(**dropping.config)
    assert rebuilt.word_dropout == 0.5


@pytest.mark.parametrize("causal", [True, False])
def test_models_sdpa_attend_bf16_on_the_math_kernel_matches_float32(causal) -> None:
    from seqlab.models.sdpa import attend

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 9, 8, generator=g) for _ in range(3))
    keep = None if causal else torch.tensor([True] * 6 + [False] * 3)[None, None, None, :]
    want = torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=keep, is_causal=causal
    )
    half = [t.to(torch.bfloat16).requires_grad_() for t in (q, k, v)]
    got = attend(*half, attn_mask=keep, is_causal=causal)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), want, atol=0.05, rtol=0.05)
    got.float().sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad.float()).all() for t in half)
