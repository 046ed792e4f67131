"""init="keras" | "torch": Keras's initialisers drawn exactly, PyTorch's weights unchanged."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
from torch import nn

import seqlab.models as models
from seqlab.defaults import DEFAULT_INIT
from seqlab.models import _lstm_cpu
from seqlab.models.initializers import keras_init

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB = 30
CLASSIFIERS = {
    "embedding-dense": {"embedding_dim": 8, "maxlen": 20, "hidden_sizes": [16]},
    "cnn": {"embedding_dim": 16, "num_filters": 8},
    "kim-cnn": {"embedding_dim": 16, "num_filters": 8},
    "tdnn": {"embedding_dim": 16, "channels": [8, 8, 8]},
    "rnn": {"embedding_dim": 16, "hidden_size": 16, "num_layers": 2},
    "lstm": {"embedding_dim": 16, "hidden_size": 16, "num_layers": 2, "bidirectional": True},
    "gru": {"embedding_dim": 16, "hidden_size": 16, "bidirectional": True},
    "transformer": {"embedding_dim": 16, "d_model": 8, "num_heads": 2, "pooling": "first"},
}
GATES = {nn.RNN: 1, nn.LSTM: 4, nn.GRU: 3}


def _glorot_limit(weight: torch.Tensor) -> float:
    """Keras's Glorot-uniform limit for this PyTorch weight: sqrt(6 / (fan_in + fan_out))."""
    receptive = math.prod(weight.shape[2:])
    return math.sqrt(6.0 / ((weight.shape[0] + weight.shape[1]) * receptive))


def _check_keras_weights(model: nn.Module, pretrained: nn.Parameter | None = None) -> int:
    """Assert Keras's initialisation on every layer of ``model``; the number of tensors seen."""
    seen = 0
    for layer in model.modules():
        if isinstance(layer, nn.Embedding) and layer.weight is not pretrained:
            w = layer.weight.detach()
            assert w.abs().max() <= 0.05 and w.abs().max() > 0.045  # U(-0.05, 0.05)
            if layer.padding_idx is not None:
                assert not w[layer.padding_idx].any()  # the padding row stays zero
            seen += 1
        elif isinstance(layer, nn.Linear | nn.Conv1d):
            w, limit = layer.weight.detach(), _glorot_limit(layer.weight)
            assert limit * 0.9 < w.abs().max() <= limit, (layer, limit)
            assert not layer.bias.detach().any()
            seen += 1
        elif isinstance(layer, nn.RNNBase):
            gates, hidden = GATES[type(layer)], layer.hidden_size
            for name, p in layer.named_parameters():
                p = p.detach()
                if name.startswith("weight_ih"):
                    # Glorot over the fused (input, gates * hidden) kernel, as Keras
                    limit = math.sqrt(6.0 / (p.shape[1] + gates * hidden))
                    assert p.shape[0] == gates * hidden
                    assert limit * 0.9 < p.abs().max() <= limit
                elif name.startswith("weight_hh"):
                    # one orthogonal (hidden, gates * hidden) matrix: W^T W = I (each gate's
                    # block orthogonal by itself would give gates * I)
                    eye = torch.eye(hidden)
                    torch.testing.assert_close(p.T @ p, eye, atol=1e-5, rtol=0)
                elif name.startswith("bias_ih") and isinstance(layer, nn.LSTM):
                    assert p[hidden : 2 * hidden].tolist() == [1.0] * hidden  # forget gate
                    assert not p[:hidden].any() and not p[2 * hidden :].any()
                else:  # bias_hh, and every bias of an RNN / GRU
                    assert not p.any(), name
                seen += 1
    return seen


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_models_init_keras_draws_every_classifier_layer_like_keras(name: str) -> None:
    model = models.build(name, vocab_size=VOCAB, init="keras", seed=1, **CLASSIFIERS[name])
    assert model.config["init"] == "keras"
    assert _check_keras_weights(model) >= 3


def test_models_init_keras_limits_are_keras_numbers() -> None:
    # The lecture's LSTM(32) on 32-d embeddings: Keras's kernel is (32, 128), so the limit is
    # sqrt(6 / 160), not the per-gate sqrt(6 / 64); Dense(1) on 32 features: sqrt(6 / 33).
    model = models.build("lstm", vocab_size=10_000, embedding_dim=32, hidden_size=32,
                         head="sigmoid", init="keras")  # fmt: skip
    w_ih = model.layers[0].weight_ih_l0.detach()
    assert w_ih.shape == (128, 32) and 0.19 < w_ih.abs().max() <= math.sqrt(6 / 160) < 0.194
    assert model.head.weight.abs().max() <= math.sqrt(6 / 33)
    assert model.config["unit_forget_bias"] is True
    off = models.build("lstm", vocab_size=50, init="keras", unit_forget_bias=False)
    assert not off.layers[0].bias_ih_l0.detach().any()  # Keras's LSTM(unit_forget_bias=False)
    assert off.config["unit_forget_bias"] is False


def test_models_init_keras_keeps_pretrained_rows() -> None:
    matrix = np.random.default_rng(0).normal(size=(VOCAB, 6)).astype(np.float32)
    for freeze in (True, False):
        model = models.build("kim-cnn", pretrained=matrix, num_filters=4, init="keras",
                             freeze=freeze)  # fmt: skip
        np.testing.assert_array_equal(model.embedding.weight.detach().numpy(), matrix)
        _check_keras_weights(model, pretrained=model.embedding.embedding.weight)


# sha256 of the state dicts these models had before init= existed (commit d0f7de5, torch
# 2.13 on the CPU): init="torch" must give exactly those weights, so that every benchmark
# and recorded run stays as it was.
TODAY = {
    ("embedding-dense", '{"embedding_dim": 8, "maxlen": 20}'): "fdd98efab450c8f5",
    ("cnn", '{"embedding_dim": 16, "num_filters": 8}'): "70d9f81149c6fcaa",
    ("kim-cnn", '{"embedding_dim": 16, "num_filters": 8}'): "303c5bd5096d4019",
    ("tdnn", '{"channels": [8, 8, 8], "embedding_dim": 16}'): "6da3dc64f948231c",
    ("rnn", '{"embedding_dim": 16, "hidden_size": 16}'): "fd87a4ea5324d6a1",
    ("lstm", '{"bidirectional": true, "embedding_dim": 16, "hidden_size": 16, "num_layers": 2, '
     '"residual": true}'): "bae83ead42944c21",
    ("gru", '{"embedding_dim": 16, "hidden_size": 16, "seed": 7}'): "cb2f25a08a0fa04e",
    ("lstm", '{"embedding_dim": 16, "hidden_size": 16, "unit_forget_bias": true}'):
        "9b4db66054b21561",
}  # fmt: skip
TODAY_GLOBAL_SEED = {  # built after torch.manual_seed(0), as training does
    ("bow-mlp", '{"hidden_sizes": [8], "vocab_size": 40}'): "1a98a0b22c6bac23",
    ("lm-lstm", '{"embedding_dim": 8, "hidden_size": 8, "num_layers": 2, "vocab_size": 12}'):
        "50ad4b09067bb74e",
    ("lm-gru", '{"embedding_dim": 8, "hidden_size": 8, "num_layers": 1, "vocab_size": 12}'):
        "211209cf413b794f",
    ("char-lstm", '{"hidden_size": 8, "vocab_size": 12}'): "9eccc8c6d32813d8",
}  # fmt: skip


def _fingerprint(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        if value is not None:
            digest.update(key.encode())
            digest.update(value.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.skipif(not torch.__version__.startswith("2.13"), reason="recorded with torch 2.13")
def test_models_init_torch_reproduces_the_weights_of_before() -> None:
    import json

    assert DEFAULT_INIT == "torch"  # the benchmarks' numbers were measured with these weights
    for (name, kwargs), expected in TODAY.items():
        model = models.build(name, vocab_size=VOCAB, init="torch", **json.loads(kwargs))
        assert _fingerprint(model) == expected, name
        assert _fingerprint(models.build(name, vocab_size=VOCAB, **json.loads(kwargs))) == expected
    for (name, kwargs), expected in TODAY_GLOBAL_SEED.items():
        torch.manual_seed(0)
        assert _fingerprint(models.build(name, init="torch", **json.loads(kwargs))) == expected


@pytest.mark.parametrize("init", ["keras", "torch"])
@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_models_init_is_deterministic_per_seed(name: str, init: str) -> None:
    state = torch.random.get_rng_state()
    kwargs = {"vocab_size": VOCAB, "init": init, **CLASSIFIERS[name]}
    a, b = models.build(name, seed=3, **kwargs), models.build(name, seed=3, **kwargs)
    c = models.build(name, seed=4, **kwargs)
    assert _fingerprint(a) == _fingerprint(b) != _fingerprint(c)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator untouched
    torch_weights = models.build(name, seed=3, **{**kwargs, "init": "torch"})
    assert init == "torch" or _fingerprint(torch_weights) != _fingerprint(a)


@pytest.mark.skipif(not _lstm_cpu.available(), reason="the CPU LSTM kernel needs a C compiler")
@pytest.mark.parametrize("init", ["keras", "torch"])
def test_models_init_cpu_lstm_kernel_gives_nn_lstm_results_with_either_init(init: str) -> None:
    model = models.build("lstm", vocab_size=VOCAB, embedding_dim=8, hidden_size=8,
                         num_layers=2, bidirectional=True, init=init, seed=2)  # fmt: skip
    tokens = torch.randint(1, VOCAB, (64, 12), generator=torch.Generator().manual_seed(0))
    lengths = torch.randint(1, 13, (64,), generator=torch.Generator().manual_seed(1))
    fast = model(tokens=tokens, lengths=lengths)
    fast.sum().backward()
    fast_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with _lstm_cpu.disabled():
        assert not _lstm_cpu.usable(tokens.float(), 8)
        slow = model(tokens=tokens, lengths=lengths)
        slow.sum().backward()
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-4)
    for a, p in zip(fast_grads, model.parameters()):
        torch.testing.assert_close(a, p.grad, atol=1e-5, rtol=1e-4)


def test_models_init_keras_language_models() -> None:
    torch.manual_seed(0)
    tied = models.build("lm-lstm", vocab_size=40, embedding_dim=16, hidden_size=16,
                        num_layers=2, tie_weights=True, init="keras")  # fmt: skip
    assert tied.config["init"] == "keras"
    # the tied matrix is drawn once, as Keras's embedding, then shared by the decoder
    assert tied.decoder.weight is tied.embedding.weight
    assert 0.045 < tied.embedding.weight.abs().max() <= 0.05
    assert not tied.decoder.bias.detach().any()
    assert _check_keras_weights(tied.rnn) == 8  # two layers of four tensors
    torch.manual_seed(0)
    char = models.build("char-lstm", vocab_size=57, init="keras")
    w_ih = char.rnn.weight_ih_l0.detach()  # one-hot input: Keras's kernel is (57, 512)
    assert 0.9 * math.sqrt(6 / (57 + 512)) < w_ih.abs().max() <= math.sqrt(6 / (57 + 512))
    assert char.rnn.bias_ih_l0[128:256].tolist() == [1.0] * 128
    assert _check_keras_weights(char) == 5
    torch.manual_seed(0)
    again = models.build("char-lstm", vocab_size=57, init="keras")
    assert _fingerprint(again) == _fingerprint(char)


def test_models_init_keras_bag_of_words() -> None:
    torch.manual_seed(0)
    model = models.build("bow-mlp", vocab_size=500, hidden_sizes=[16, 8], init="keras")
    assert model.config["init"] == "keras" and model.config["head"] == "softmax"
    limit = math.sqrt(6 / (500 + 16))
    assert 0.9 * limit < model.embedding.weight.abs().max() <= limit
    assert not model.bias.detach().any()
    assert _check_keras_weights(model.head) == 2


def test_models_init_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match=r"init must be 'keras' .* or 'torch' .*, got 'glorot'"):
        models.build("lstm", vocab_size=VOCAB, init="glorot")
    with pytest.raises(ValueError, match="init must be"):
        models.build("lm-gru", vocab_size=VOCAB, init="Keras")
    with pytest.raises(ValueError, match="init must be"):
        models.build("bow-mlp", vocab_size=VOCAB, init=None)
    with pytest.raises(TypeError, match="unit_forget_bias must be True, False or None"):
        models.build("lstm", vocab_size=VOCAB, unit_forget_bias=1)


def test_models_init_keras_init_on_a_plain_module() -> None:
    torch.manual_seed(0)
    conv = nn.Conv1d(16, 32, 7)
    keras_init(conv)
    limit = math.sqrt(6 / (7 * 16 + 7 * 32))  # Keras's Conv1D fans include the width
    assert 0.9 * limit < conv.weight.abs().max() <= limit and not conv.bias.detach().any()
    gru = nn.GRU(5, 4)
    keras_init(gru)
    assert _check_keras_weights(gru) == 4
