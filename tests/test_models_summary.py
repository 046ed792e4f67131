"""head="sigmoid" and seqlab.models.summary: the lecture's layers and parameter counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import seqlab.models as models
from seqlab.models.heads import two_class_logits
from seqlab.models.layer_summary import BIAS_NOTE

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {
    "embedding-dense": {"embedding_dim": 4, "maxlen": 6, "hidden_sizes": [5]},
    "cnn": {"embedding_dim": 8, "num_filters": 4, "kernel_size": 3, "pool_size": 2},
    "kim-cnn": {"embedding_dim": 8, "num_filters": 4},
    "tdnn": {"embedding_dim": 8, "channels": [4, 4], "kernel_sizes": [3, 3], "dilations": [1, 2]},
    "rnn": {"embedding_dim": 8, "hidden_size": 4},
    "lstm": {"embedding_dim": 8, "hidden_size": 4, "bidirectional": True},
    "gru": {"embedding_dim": 8, "hidden_size": 4},
    "transformer": {"embedding_dim": 8, "num_heads": 2, "num_layers": 1},
    "bow-mlp": {"hidden_sizes": [6]},
}


def test_models_sigmoid_head_cross_entropy_is_binary_cross_entropy() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(64, 1, generator=g) * 4
    y = torch.randint(0, 2, (64,), generator=g)
    logits = two_class_logits(z)
    assert logits.shape == (64, 2) and not logits[:, 0].any()
    bce = F.binary_cross_entropy_with_logits(z[:, 0], y.float())
    torch.testing.assert_close(F.cross_entropy(logits, y), bce, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(logits.softmax(1)[:, 1], torch.sigmoid(z[:, 0]))


@pytest.mark.parametrize("name", list(SMALL))
def test_models_sigmoid_head_has_one_output_unit(name: str) -> None:
    model = models.build(name, vocab_size=30, head="sigmoid", **SMALL[name])
    assert model.config["head"] == "sigmoid" and model.config["num_classes"] == 2
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear | torch.nn.EmbeddingBag)]
    assert last[-1].weight.shape[0] == 1
    if name == "bow-mlp":
        batch = {"indices": torch.tensor([1, 2, 3]), "offsets": torch.tensor([0, 1]),
                 "weights": torch.ones(3)}  # fmt: skip
    else:
        batch = {"tokens": torch.randint(1, 30, (2, 12)), "lengths": torch.tensor([12, 3])}
    logits = model(**batch)
    assert logits.shape == (2, 2) and not logits[:, 0].any()
    with pytest.raises(ValueError) as info:
        models.build(name, vocab_size=30, num_classes=3, head="sigmoid", **SMALL[name])
    assert str(info.value) == (
        "head='sigmoid' has one output unit for two classes, but num_classes=3; use "
        "head='softmax' (--head softmax)"
    )
    with pytest.raises(ValueError, match="head must be 'softmax' .* or 'sigmoid'"):
        models.build(name, vocab_size=30, head="linear", **SMALL[name])


def _rows(summary: models.ModelSummary) -> list[tuple]:
    return [(r.name, r.type, r.output_shape, r.params) for r in summary.layers]


def test_models_summary_lecture_embedding_flatten_dense() -> None:
    # Keras: Embedding(10000, 8, input_length=20), Flatten(), Dense(1, activation="sigmoid")
    model = models.build("embedding-dense", vocab_size=10_000, embedding_dim=8, maxlen=20,
                         head="sigmoid")  # fmt: skip
    s = models.summarize(model)
    assert _rows(s) == [
        ("embedding", "Embedding", (None, 20, 8), 80_000),
        ("flatten", "Flatten", (None, 160), 0),
        ("head", "Linear", (None, 1), 161),
    ]
    assert (s.total, s.trainable, s.non_trainable) == (80_161, 80_161, 0)
    text = models.summary(model)
    assert "Total params: 80,161\nTrainable params: 80,161\nNon-trainable params: 0" in text
    assert "embedding (Embedding)             (None, 20, 8)             80,000" in text
    assert BIAS_NOTE.split()[0] not in text  # no recurrent layer, no note


def test_models_summary_lecture_glove_model_frozen() -> None:
    # Keras: Embedding(10000, 100, input_length=100) with GloVe weights, trainable=False;
    # Flatten(); Dense(32, relu); Dense(1, sigmoid)
    glove = torch.randn(10_000, 100)
    model = models.build("embedding-dense", pretrained=glove, maxlen=100, hidden_sizes=[32],
                         head="sigmoid", freeze=True, init="keras")  # fmt: skip
    s = models.summarize(model)
    assert _rows(s) == [
        ("embedding", "Embedding", (None, 100, 100), 1_000_000),
        ("flatten", "Flatten", (None, 10_000), 0),
        ("hidden_layers.0", "Linear", (None, 32), 320_032),
        ("head", "Linear", (None, 1), 33),
    ]
    assert (s.total, s.trainable, s.non_trainable) == (1_320_065, 320_065, 1_000_000)


@pytest.mark.parametrize(
    ("cell", "layer_params", "total"),
    [("rnn", 2_080, 322_113), ("lstm", 8_320, 328_353), ("gru", 6_336, 326_369)],
)
def test_models_summary_lecture_recurrent_models(cell: str, layer_params: int, total: int):
    # Keras: Embedding(10000, 32), SimpleRNN(32) / LSTM(32) / GRU(32), Dense(1, sigmoid);
    # Keras's GRU (reset_after=True) has 3 * 32 * (32 + 32 + 2) = 6,336 parameters.
    model = models.build(cell, vocab_size=10_000, embedding_dim=32, hidden_size=32,
                         head="sigmoid")  # fmt: skip
    s = models.summarize(model)
    assert _rows(s) == [
        ("embedding", "Embedding", (None, None, 32), 320_000),
        ("layers.0", {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[cell], (None, None, 32),
         layer_params),
        ("head", "Linear", (None, 1), 33),
    ]  # fmt: skip
    assert s.total == s.trainable == total and s.non_trainable == 0
    pytorch = sum(p.numel() for p in model.parameters())
    assert s.torch_params == pytorch == total + {"rnn": 32, "lstm": 128, "gru": 0}[cell]
    text = models.summary(model)
    assert " ".join(BIAS_NOTE.split()) in " ".join(text.split())
    assert (f"(PyTorch's tensors hold {pytorch:,} parameters.)" in text) == (cell != "gru")


def test_models_summary_shapes_of_every_model_and_input_length() -> None:
    cnn = models.build("cnn", vocab_size=100, num_filters=32, kernel_size=7, pool_size=5)
    assert [r.output_shape for r in models.summarize(cnn).layers] == [
        (None, None, 128), (None, 32, None), (None, 32, None), (None, 32, None), (None, 2)]  # fmt: skip
    fixed = models.summarize(cnn, input_length=500)  # the lecture's maxlen=500
    assert [r.output_shape for r in fixed.layers] == [
        (None, 500, 128), (None, 32, 494), (None, 32, 98), (None, 32, 92), (None, 2)]  # fmt: skip
    bi = models.build("lstm", vocab_size=50, embedding_dim=8, hidden_size=4, num_layers=2,
                      bidirectional=True, residual=True, dropout=0.2)  # fmt: skip
    rows = models.summarize(bi, input_length=7).layers
    assert [(r.name, r.output_shape, r.params) for r in rows] == [
        ("embedding", (None, 7, 8), 400),
        ("layers.0", (None, 7, 8), 2 * 4 * (8 * 4 + 4 * 4 + 4)),
        ("layers.1", (None, 7, 8), 2 * 4 * (8 * 4 + 4 * 4 + 4)),
        ("dropout", (None, 8), 0),
        ("head", (None, 2), 18),
    ]
    numeric = models.summarize(
        models.build("tdnn", input_size=3, channels=[4, 4], kernel_sizes=[3, 3], dilations=[1, 2])
    )
    assert [r.output_shape for r in numeric.layers] == [(None, 4, None), (None, 4, None), (None, 2)]
    bow = models.build("bow-mlp", vocab_size=100, hidden_sizes=[16])
    bag = models.summarize(bow)
    assert [(r.name, r.output_shape, r.params) for r in bag.layers] == [
        ("embedding", (None, 16), 1600), ("head.0", (None, 16), 0), ("head.2", (None, 2), 34),
        ("bias", None, 16)]  # fmt: skip
    assert bag.total == bag.torch_params == sum(p.numel() for p in bow.parameters())
    with pytest.raises(ValueError, match="input_length must be an integer >= 1, got 0"):
        models.summarize(cnn, input_length=0)


def test_models_summary_language_models() -> None:
    # Keras's text-generation example: LSTM(128) on 57 one-hot characters, Dense(57)
    char = models.build("char-lstm", vocab_size=57)
    s = models.summarize(char, input_length=40)
    assert _rows(s) == [
        ("rnn", "LSTM", (None, 40, 128), 95_232),
        ("decoder", "Linear", (None, 40, 57), 7_353),
    ]
    assert s.total == 102_585 and s.torch_params == 102_585 + 512
    tied = models.build("lm-gru", vocab_size=20, embedding_dim=8, hidden_size=8, num_layers=1,
                        tie_weights=True)  # fmt: skip
    rows = models.summarize(tied).layers
    # the tied matrix counts once, with the embedding; the decoder keeps its bias
    assert [(r.name, r.params) for r in rows] == [("embedding", 160), ("rnn", 432), ("decoder", 20)]


def test_models_summary_leaves_the_model_as_it_was() -> None:
    model = models.build("lstm", vocab_size=30, embedding_dim=8, hidden_size=8, dropout=0.5)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    models.summary(model)
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(TypeError, match="summary needs a seqlab model"):
        models.summary(torch.nn.Linear(3, 2))
