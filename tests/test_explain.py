"""Token attributions: lengths, the keyword wins on a trained toy model, formatting, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlab.explain import explain, format_explanation
from seqlab.models.cnn import KimCNNClassifier
from seqlab.models.rnn import GRUClassifier
from seqlab.models.tdnn import TDNNClassifier
from seqlab.models.transformer import TransformerClassifier

VOCAB = 30
KEYWORD = 2


pytestmark = pytest.mark.usefixtures("one_thread")


def _keyword_data(n: int, seed: int) -> tuple[list[list[int]], torch.Tensor]:
    """Odd-numbered sequences contain KEYWORD (label 1); the others do not (label 0)."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        seq = rng.integers(KEYWORD + 1, VOCAB, size=int(rng.integers(5, 13))).tolist()
        if i % 2:
            seq[int(rng.integers(len(seq)))] = KEYWORD
        seqs.append(seq)
        labels.append(i % 2)
    return seqs, torch.tensor(labels)


# name -> (model, full-batch Adam steps). The transformer fits the task in about 10 steps;
# trained much longer its probabilities saturate (1 - p below 1e-6), where gradient x input,
# a first-order estimate, no longer finds the keyword (occlusion still does).
KEYWORD_MODELS = {
    "gru": (lambda: GRUClassifier(vocab_size=VOCAB, embedding_dim=16, hidden_size=16, seed=0), 40),
    "transformer": (
        lambda: TransformerClassifier(vocab_size=VOCAB, embedding_dim=16, num_heads=2,
                                      num_layers=1, dim_feedforward=32, dropout=0.0, seed=0),
        16,
    ),
}  # fmt: skip


@pytest.fixture(scope="module", params=list(KEYWORD_MODELS))
def keyword_model(request) -> tuple[torch.nn.Module, list[list[int]]]:
    """A model trained to 100% accuracy on "does the sequence contain KEYWORD?"."""
    seqs, labels = _keyword_data(64, seed=0)
    tokens = torch.zeros(len(seqs), max(map(len, seqs)), dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.tensor(s)
    lengths = torch.tensor([len(s) for s in seqs])
    build, steps = KEYWORD_MODELS[request.param]
    model = build()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(tokens, lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert (model(tokens, lengths).argmax(1) == labels).all()
    return model, [s for s, y in zip(seqs, labels) if y == 1]


@pytest.mark.parametrize("method", ["occlusion", "grad_x_input"])
def test_explain_keyword_gets_the_largest_score(keyword_model, method: str) -> None:
    model, positives = keyword_model
    for seq in positives:
        scores = explain(model, seq, method=method)
        assert scores.shape == (len(seq),) and scores.dtype == np.float64
        assert seq[int(np.argmax(scores))] == KEYWORD, (seq, scores.round(3))
        assert scores.max() > 0


def test_explain_occlusion_is_the_probability_drop(keyword_model) -> None:
    model, positives = keyword_model
    seq = positives[0]
    where = seq.index(KEYWORD)
    scores = explain(model, seq, method="occlusion")
    with torch.no_grad():
        x, lengths = model.embed(tokens=torch.tensor([seq]), lengths=torch.tensor([len(seq)]))
        full = torch.softmax(model.forward_embedded(x, lengths), 1)[0, 1]
        x[0, where] = 0.0
        hidden = torch.softmax(model.forward_embedded(x, lengths), 1)[0, 1]
    assert scores[where] == pytest.approx(float(full - hidden), abs=1e-6)
    # The same scores with a tiny occlusion batch, and for the other class they flip sign.
    np.testing.assert_allclose(explain(model, seq, batch_size=3), scores, atol=1e-6)
    np.testing.assert_allclose(explain(model, seq, target=0), -scores, atol=1e-6)


def test_explain_restores_training_mode_and_accepts_arrays() -> None:
    model = KimCNNClassifier(vocab_size=VOCAB, embedding_dim=8, num_filters=4)
    model.train()
    a = explain(model, np.array([3, 4, 5]), method="grad_x_input")
    b = explain(model, torch.tensor([3, 4, 5]), method="grad_x_input")
    assert model.training
    np.testing.assert_allclose(a, b)  # dropout was off: deterministic
    assert explain(model, [7]).shape == (1,)  # shorter than every filter


def test_explain_numeric_sequences_score_each_time_step() -> None:
    model = TDNNClassifier(input_size=3, channels=[4, 4], kernel_sizes=[3, 3], dilations=[1, 2])
    for method in ("occlusion", "grad_x_input"):
        scores = explain(model, np.random.default_rng(0).normal(size=(20, 3)), method=method)
        assert scores.shape == (20,) and np.isfinite(scores).all()


def test_explain_bad_arguments_are_refused(keyword_model) -> None:
    model, positives = keyword_model
    with pytest.raises(ValueError, match="method must be one of 'occlusion', 'grad_x_input'"):
        explain(model, positives[0], method="lime")
    with pytest.raises(ValueError, match=r"target must be a class index in \[0, 1\], got 2"):
        explain(model, positives[0], target=2)
    with pytest.raises(ValueError, match="token_ids is empty"):
        explain(model, [])
    with pytest.raises(ValueError, match="one sequence at a time"):
        explain(model, [[3, 4], [5, 6]])
    with pytest.raises(TypeError, match="not text"):
        explain(model, "a great film")
    with pytest.raises(TypeError, match="sequence model"):
        explain(torch.nn.Linear(2, 2), [3, 4])


def test_explain_format_plain_and_colored() -> None:
    tokens, scores = ["a", "great", "film", "sadly"], [0.001, 0.5, 0.1, -0.3]
    assert (
        format_explanation(tokens, scores, color=False)
        == "a[+0.001] great[+0.500] film[+0.100] sadly[-0.300]"
    )
    colored = format_explanation(tokens, scores)
    # Tiny scores stay plain; the strongest positive gets the darkest green, negatives red.
    assert colored.startswith("a \x1b[30;48;5;83mgreat\x1b[0m ")
    assert "\x1b[30;48;5;194mfilm\x1b[0m" in colored
    assert "\x1b[30;48;5;217msadly\x1b[0m" in colored
    assert format_explanation(["x", "y"], [0.0, 0.0]) == "x y"
    with pytest.raises(ValueError, match="got 2 tokens but 3 scores"):
        format_explanation(["x", "y"], [0.1, 0.2, 0.3])
