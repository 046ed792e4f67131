"""Sequence classifiers: shapes, padding invariance, overfitting, seeds, save/load, options."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import seqlab.models as models
from seqlab.models.cnn import CNNClassifier, KimCNNClassifier
from seqlab.models.embed_dense import EmbeddingDenseClassifier
from seqlab.models.rnn import GRUClassifier, LSTMClassifier, SimpleRNNClassifier
from seqlab.models.tdnn import TDNNClassifier
from seqlab.models.transformer import TransformerClassifier

VOCAB = 30
KEYWORD = 2


pytestmark = pytest.mark.usefixtures("one_thread")


# Small sizes keep every test fast; the architectures are the real ones.
BASE = {
    "embedding-dense": {"embedding_dim": 8, "maxlen": 20},
    "cnn": {"embedding_dim": 16, "num_filters": 8},
    "kim-cnn": {"embedding_dim": 16, "num_filters": 8},
    "tdnn": {"embedding_dim": 16, "channels": [8, 8, 8]},
    "rnn": {"embedding_dim": 16, "hidden_size": 16},
    "lstm": {"embedding_dim": 16, "hidden_size": 16},
    "gru": {"embedding_dim": 16, "hidden_size": 16},
    "transformer": {"embedding_dim": 16, "num_heads": 2, "num_layers": 1, "dim_feedforward": 32},
}
VARIANTS = [
    *[(name, kw) for name, kw in BASE.items()],
    ("embedding-dense", {**BASE["embedding-dense"], "truncating": "pre"}),
    ("kim-cnn", {**BASE["kim-cnn"], "kernel_sizes": [2, 7]}),
    ("tdnn", {**BASE["tdnn"], "pooling": "max", "activation": "tanh"}),
    ("lstm", {**BASE["lstm"], "bidirectional": True}),
    ("lstm", {**BASE["lstm"], "pooling": "max"}),
    ("rnn", {**BASE["rnn"], "pooling": "mean"}),
    ("gru", {**BASE["gru"], "num_layers": 3, "residual": True}),
    ("lstm", {**BASE["lstm"], "num_layers": 2, "residual": True, "bidirectional": True}),
    ("gru", {**BASE["gru"], "num_layers": 2, "bidirectional": True, "pooling": "mean"}),
    ("rnn", {**BASE["rnn"], "num_layers": 2, "bidirectional": True, "pooling": "max"}),
    ("lstm", {**BASE["lstm"], "num_layers": 2, "dropout": 0.3}),
    # ULMFiT's concat pooling: [last, max, mean] over the true steps, one way and both ways
    ("lstm", {**BASE["lstm"], "num_layers": 2, "pooling": "concat"}),
    ("gru", {**BASE["gru"], "bidirectional": True, "pooling": "concat"}),
    ("lstm", {**BASE["lstm"], "hidden_size": 72, "pooling": "concat"}),  # nn.LSTM, not the kernel
    (
        "transformer",
        {**BASE["transformer"], "pooling": "max", "positions": "learned", "max_length": 300},
    ),
    ("transformer", {**BASE["transformer"], "pooling": "first", "num_layers": 2, "d_model": 12}),
    ("transformer", {**BASE["transformer"], "num_heads": 4, "dropout": 0.3, "init": "keras"}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(VARIANTS)]


def _padded(seqs: list[list[int]], extra: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Post-padded (B, T) ids, T = longest + extra, and the lengths."""
    width = max(len(s) for s in seqs) + extra
    tokens = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.tensor(s)
    return tokens, torch.tensor([len(s) for s in seqs])


def _keyword_data(n: int, seed: int) -> tuple[list[list[int]], torch.Tensor]:
    """Half the sequences contain KEYWORD (label 1), half do not (label 0)."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        seq = rng.integers(KEYWORD + 1, VOCAB, size=int(rng.integers(5, 13))).tolist()
        if i % 2:
            seq[int(rng.integers(len(seq)))] = KEYWORD
        seqs.append(seq)
        labels.append(i % 2)
    return seqs, torch.tensor(labels)


def _probs(model: torch.nn.Module, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.softmax(model(tokens=tokens, lengths=lengths), dim=1)


def test_models_sequence_all_registered() -> None:
    assert set(BASE) <= set(models.available())


@pytest.mark.parametrize(("name", "kwargs"), VARIANTS, ids=IDS)
def test_models_sequence_output_shape(name: str, kwargs: dict) -> None:
    model = models.build(name, vocab_size=VOCAB, num_classes=3, **kwargs)
    tokens, lengths = _padded([[5] * 25, [6] * 11, [7] * 3, [8]])
    logits = model(tokens=tokens, lengths=lengths)
    assert logits.shape == (4, 3)
    assert torch.isfinite(logits).all()
    assert model.input_kind == "sequence"
    assert model.registry_name == name


@pytest.mark.parametrize(("name", "kwargs"), VARIANTS, ids=IDS)
def test_models_sequence_padding_never_changes_a_prediction(name: str, kwargs: dict) -> None:
    model = models.build(name, vocab_size=VOCAB, **kwargs).eval()
    rng = np.random.default_rng(1)
    for length in (13, 3, 1):  # 3 and 1 are shorter than most kernels / receptive fields
        review = rng.integers(1, VOCAB, size=length).tolist()
        alone = _probs(model, *_padded([review]))
        padded = _probs(model, *_padded([review], extra=200))
        torch.testing.assert_close(padded, alone, atol=1e-5, rtol=0)
        # In a batch next to a much longer review, it is padded by 57 + 100 positions.
        longer = rng.integers(1, VOCAB, size=60).tolist()
        batched = _probs(model, *_padded([longer, review], extra=100))[1:]
        torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_models_sequence_concat_pooling_is_last_max_mean_side_by_side(bidirectional: bool):
    # The layers are drawn before the head, so the same seed gives the same layers whatever
    # the pooling; a head over [last, max, mean] is then the sum of three heads, one each.
    common = {"vocab_size": VOCAB, "embedding_dim": 8, "hidden_size": 6, "seed": 3}
    common.update(num_layers=2, bidirectional=bidirectional)
    concat = LSTMClassifier(pooling="concat", **common).eval()
    singles = [LSTMClassifier(pooling=p, **common).eval() for p in ("last", "max", "mean")]
    width = 6 * (2 if bidirectional else 1)
    assert concat.head.in_features == 3 * width
    with torch.no_grad():
        for k, single in enumerate(singles):
            single.head.weight.copy_(concat.head.weight[:, k * width : (k + 1) * width])
            single.head.bias.copy_(concat.head.bias if k == 0 else torch.zeros(2))
    tokens, lengths = _padded([[5, 9, 3, 7, 2, 11], [4, 4, 8]], extra=5)
    with torch.no_grad():
        summed = sum(single(tokens=tokens, lengths=lengths) for single in singles)
        torch.testing.assert_close(concat(tokens=tokens, lengths=lengths), summed)


@pytest.mark.parametrize(
    "model_class",
    [CNNClassifier, KimCNNClassifier, TDNNClassifier, SimpleRNNClassifier, LSTMClassifier,
     GRUClassifier, EmbeddingDenseClassifier, TransformerClassifier],
)  # fmt: skip
def test_models_sequence_numeric_input(model_class: type) -> None:
    kwargs = {"input_size": 3, "num_classes": 4}
    if model_class is LSTMClassifier:
        kwargs.update(bidirectional=True, num_layers=2, residual=True, pooling="mean")
    model = model_class(**kwargs).eval()
    assert model.embedding is None
    values = torch.randn(2, 70, 3)
    lengths = torch.tensor([70, 9])
    with torch.no_grad():
        logits = model(values=values, lengths=lengths)
        assert logits.shape == (2, 4)
        alone = model(values=values[1:, :9], lengths=lengths[1:])
        # Garbage (not zeros) after the true length must be ignored too.
        noisy = values[1:].clone()
        noisy[:, 9:] = 1e3
        after_noise = model(values=noisy, lengths=lengths[1:])
    torch.testing.assert_close(logits[1:], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(after_noise, alone, atol=1e-5, rtol=1e-5)
    with pytest.raises(TypeError, match="values="):
        model(tokens=torch.ones(1, 5, dtype=torch.long), lengths=torch.tensor([5]))


@pytest.mark.parametrize("name", list(BASE))
def test_models_sequence_overfits_a_tiny_batch(name: str) -> None:
    seqs, labels = _keyword_data(8, seed=0)
    tokens, lengths = _padded(seqs)
    model = models.build(name, vocab_size=VOCAB, seed=0, **BASE[name])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    accuracy = 0.0
    for step in range(300):
        model.train()
        loss = torch.nn.functional.cross_entropy(model(tokens=tokens, lengths=lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 9:
            model.eval()
            with torch.no_grad():
                predicted = model(tokens=tokens, lengths=lengths).argmax(1)
            accuracy = (predicted == labels).float().mean().item()
            if accuracy == 1.0:
                break
    assert accuracy == 1.0, f"{name} reached only {accuracy:.2f} train accuracy"


@pytest.mark.parametrize("name", list(BASE))
def test_models_sequence_same_seed_same_weights(name: str) -> None:
    state = torch.get_rng_state()
    a = models.build(name, vocab_size=VOCAB, seed=7, **BASE[name]).state_dict()
    b = models.build(name, vocab_size=VOCAB, seed=7, **BASE[name]).state_dict()
    c = models.build(name, vocab_size=VOCAB, seed=8, **BASE[name]).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    # Building a seeded model leaves the global generator alone.
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(("name", "kwargs"), VARIANTS, ids=IDS)
def test_models_sequence_safetensors_round_trip(name: str, kwargs: dict, tmp_path) -> None:
    model = models.build(name, vocab_size=VOCAB, num_classes=3, seed=3, **kwargs).eval()
    # Change the weights so that a rebuilt model with the same seed is not equal by accident.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_file(model.state_dict(), tmp_path / "model.safetensors")
    config = json.loads(json.dumps(model.config))  # config must be JSON-able
    assert config == model.config
    rebuilt = models.build(name, **config).eval()
    rebuilt.load_state_dict(load_file(tmp_path / "model.safetensors"))
    tokens, lengths = _padded([[3, 4, 5, 6, 7, 8, 9], [10, 11]])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(tokens, lengths), model(tokens, lengths))


@pytest.mark.parametrize("name", list(BASE))
def test_models_sequence_pretrained_frozen(name: str) -> None:
    matrix = np.random.default_rng(0).normal(size=(VOCAB, 12)).astype(np.float32)
    kwargs = {k: v for k, v in BASE[name].items() if k != "embedding_dim"}
    model = models.build(name, pretrained=matrix, freeze=True, **kwargs)
    weight = model.embedding.weight
    assert np.array_equal(weight.detach().numpy(), matrix)
    assert not weight.requires_grad
    # vocab_size and embedding_dim are read from the matrix; the matrix itself is not config.
    assert model.config["vocab_size"] == VOCAB and model.config["embedding_dim"] == 12
    assert "pretrained" not in model.config and model.config["freeze"] is True
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    tokens, lengths = _padded([[3, 4, 5], [6, 7, 8, 9]])
    model(tokens=tokens, lengths=lengths).sum().backward()
    optimizer.step()
    assert np.array_equal(model.embedding.weight.detach().numpy(), matrix)

    # Rebuilt from its config (as a run folder does), the table is frozen again; the weights
    # themselves come back from model.safetensors.
    rebuilt = models.build(name, **model.config)
    assert not rebuilt.embedding.weight.requires_grad
    assert rebuilt.embedding.weight.shape == (VOCAB, 12)

    tuned = models.build(name, pretrained=torch.from_numpy(matrix), freeze=False, **kwargs)
    assert tuned.embedding.weight.requires_grad
    assert np.array_equal(tuned.embedding.weight.detach().numpy(), matrix)


def test_models_sequence_pretrained_shape_mismatch_is_explained() -> None:
    with pytest.raises(ValueError, match=r"pretrained has shape \(30, 12\).*\(40, 12\)"):
        LSTMClassifier(vocab_size=40, embedding_dim=12, pretrained=np.zeros((VOCAB, 12)))
    with pytest.raises(TypeError, match="pretrained must be a numpy array"):
        LSTMClassifier(pretrained=[[0.0, 1.0]])


def test_models_sequence_lengths_are_optional_and_empty_documents_work() -> None:
    model = KimCNNClassifier(vocab_size=VOCAB, embedding_dim=8, num_filters=4).eval()
    tokens, lengths = _padded([[3, 4, 5, 6], [7, 8]])
    with torch.no_grad():
        torch.testing.assert_close(model(tokens=tokens), model(tokens=tokens, lengths=lengths))
        # A document with no tokens at all gets a finite prediction, padding or not.
        empty = model(tokens=torch.zeros(1, 0, dtype=torch.long), lengths=torch.tensor([0]))
        empty_padded = model(tokens=torch.zeros(1, 9, dtype=torch.long), lengths=torch.tensor([0]))
    assert torch.isfinite(empty).all()
    torch.testing.assert_close(empty, empty_padded)


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: LSTMClassifier(vocab_size=VOCAB, pooling="first"), ValueError,
         r"pooling must be one of 'last', 'max', 'mean', 'concat'; got 'first'"),
        (lambda: KimCNNClassifier(vocab_size=VOCAB, kernel_sizes=[3, 0]), ValueError,
         r"kernel_sizes\[1\] must be an integer >= 1, got 0"),
        (lambda: KimCNNClassifier(vocab_size=VOCAB, kernel_sizes=[]), ValueError,
         "kernel_sizes must be a non-empty list"),
        (lambda: CNNClassifier(vocab_size=VOCAB, kernel_size=0), ValueError,
         "kernel_size must be an integer >= 1, got 0"),
        (lambda: CNNClassifier(vocab_size=VOCAB, pool_size=2.5), TypeError, "pool_size"),
        (lambda: GRUClassifier(vocab_size=VOCAB, dropout=1.0), ValueError,
         r"dropout must be in \[0, 1\), got 1.0"),
        (lambda: GRUClassifier(vocab_size=VOCAB, residual=True), ValueError,
         "num_layers >= 2"),
        (lambda: SimpleRNNClassifier(embedding_dim=8), ValueError, "vocab_size is required"),
        (lambda: TDNNClassifier(vocab_size=VOCAB, channels=[8, 8], kernel_sizes=[3]),
         ValueError, "same length"),
        (lambda: TDNNClassifier(vocab_size=VOCAB, activation="gelu"), ValueError,
         "activation must be one of"),
        (lambda: EmbeddingDenseClassifier(vocab_size=VOCAB, truncating="middle"), ValueError,
         "truncating must be one of 'post', 'pre'"),
        (lambda: LSTMClassifier(input_size=3, pretrained=np.zeros((4, 3))), ValueError,
         "input_size"),
        (lambda: LSTMClassifier(vocab_size=VOCAB, seed=-1), ValueError, "seed"),
    ],
)  # fmt: skip
def test_models_sequence_bad_options_are_refused(build, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize("name", sorted(BASE))
def test_models_sequence_shared_options_are_spelled_out_and_checked(name: str) -> None:
    """Every classifier takes the ClassifierOptions through **options; its signature lists
    them, keyword-only, with their defaults (what --set, the trainers and help() read), and
    the --set parser types them; an unknown keyword is Python's own TypeError."""
    import inspect

    from seqlab.cli.settings import SettingError, parse_settings
    from seqlab.models.embedding import CLASSIFIER_OPTIONS

    cls = models.get(name)
    params = inspect.signature(cls).parameters
    for key, default in CLASSIFIER_OPTIONS.items():
        assert params[key].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[key].default is default
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    assert parse_settings(["seed=3", "input_size=none", "freeze=yes"], cls) == {
        "seed": 3,
        "input_size": None,
        "freeze": True,
    }
    with pytest.raises(SettingError, match="seed=abc"):
        parse_settings(["seed=abc"], cls)
    with pytest.raises(TypeError, match=r"__init__\(\) got an unexpected keyword argument 'sed'"):
        cls(vocab_size=VOCAB, sed=1)


def test_models_sequence_bad_inputs_are_refused() -> None:
    model = LSTMClassifier(vocab_size=VOCAB, embedding_dim=4, hidden_size=4)
    tokens = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 5\].*6"):
        model(tokens=tokens, lengths=torch.tensor([5, 6]))
    with pytest.raises(ValueError, match=r"lengths must have shape \(2,\)"):
        model(tokens=tokens, lengths=torch.tensor([5]))
    with pytest.raises(TypeError, match="tokens="):
        model(values=torch.randn(2, 5, 3), lengths=torch.tensor([5, 5]))
    with pytest.raises(TypeError, match="integer tensor"):
        model(tokens=tokens.float(), lengths=torch.tensor([5, 5]))
    numeric = GRUClassifier(input_size=3)
    with pytest.raises(ValueError, match=r"values must have shape \(B, T, 3\)"):
        numeric(values=torch.randn(2, 5, 4), lengths=torch.tensor([5, 5]))


def test_models_lstm_unit_forget_bias_like_keras():
    from seqlab.models.rnn import LSTMClassifier

    m = LSTMClassifier(vocab_size=20, hidden_size=4, bidirectional=True, unit_forget_bias=True)
    for name, p in m.layers[0].named_parameters():
        if name.startswith("bias_ih"):
            assert (
                p[4:8].tolist() == [1.0] * 4 and p[:4].abs().sum() == 0 and p[8:].abs().sum() == 0
            )
        elif name.startswith("bias_hh"):
            assert p.abs().sum() == 0
    off = LSTMClassifier(vocab_size=20, hidden_size=4)  # PyTorch's initialisation by default
    assert off.layers[0].bias_ih_l0[4:8].tolist() != [1.0] * 4
    assert m.config["unit_forget_bias"] is True and off.config["unit_forget_bias"] is False
