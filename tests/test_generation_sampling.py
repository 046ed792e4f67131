"""Sampling: the lecture's temperature formula, its argmax limit, top-k / top-p, seeds,
stop strings and the two generation loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlab.generation import (
    GREEDY_TEMPERATURE,
    TokenSampler,
    filter_top_k,
    filter_top_p,
    next_token_probs,
    reweight,
    sample_next,
    stop_at,
    stream_tokens,
)
from seqlab.models.lm import CharLSTM, GRULanguageModel, LSTMLanguageModel, NumpyStepper

pytestmark = pytest.mark.usefixtures("one_thread")


def _lecture_sample_distribution(preds: np.ndarray, temperature: float) -> np.ndarray:
    # The lecture's (Keras example's) code, verbatim up to the final multinomial draw.
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    return exp_preds / np.sum(exp_preds)


def test_generation_temperature_formula_on_known_distribution():
    p = np.array([0.5, 0.25, 0.125, 0.125])
    # T = 0.5 squares the probabilities: [0.25, 0.0625, 0.015625, 0.015625] / 0.34375
    expected = np.array([0.25, 0.0625, 0.015625, 0.015625]) / 0.34375
    np.testing.assert_allclose(reweight(p, 0.5).numpy(), expected, rtol=1e-12)
    for t in (0.2, 0.5, 1.0, 1.2, 3.0):
        np.testing.assert_allclose(
            reweight(p, t).numpy(), _lecture_sample_distribution(p, t), rtol=1e-10
        )
    np.testing.assert_allclose(reweight(p, 1.0).numpy(), p, rtol=1e-12)


def test_generation_temperature_on_logits_equals_reweighted_softmax():
    logits = torch.tensor([2.0, -1.0, 0.5, 0.0, 3.0])
    p = torch.softmax(logits.double(), -1).numpy()
    for t in (0.3, 1.0, 2.5):
        np.testing.assert_allclose(
            next_token_probs(logits, t).numpy(), _lecture_sample_distribution(p, t), rtol=1e-5
        )


def test_generation_temperature_to_zero_is_argmax():
    logits = torch.tensor([0.1, 2.0, 1.9, -3.0])
    # Just above the switch the formula itself is (numerically) the one-hot argmax ...
    np.testing.assert_allclose(next_token_probs(logits, 1e-4).numpy(), [0, 1, 0, 0], atol=1e-12)
    # ... below it the limit is used, without overflow, even for extreme logits.
    big = torch.tensor([1e30, -1e30, 3e30, 0.0])
    assert next_token_probs(big, GREEDY_TEMPERATURE / 10).tolist() == [0, 0, 1, 0]
    g = torch.Generator().manual_seed(0)
    assert {sample_next(logits, 1e-9, generator=g) for _ in range(20)} == {1}
    # Zero probabilities stay zero in the lecture's formula.
    assert reweight(np.array([0.0, 0.3, 0.7]), 0.1)[0] == 0


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, float("nan")])
def test_generation_nonpositive_temperature_is_refused(bad):
    with pytest.raises(ValueError, match="temperature"):
        next_token_probs(torch.zeros(3), bad)
    with pytest.raises(ValueError, match="temperature"):
        reweight(np.array([0.5, 0.5]), bad)
    model = LSTMLanguageModel(vocab_size=4, embedding_dim=4, hidden_size=4, num_layers=1)
    with pytest.raises(ValueError, match="temperature"):
        stream_tokens(model, [1], 3, temperature=bad)  # refused at the call, not lazily


def test_generation_top_k_mask():
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0, 2.0], [0.0, 0.0, 9.0, 1.0, 8.0]])
    kept = torch.isfinite(filter_top_k(logits, 2))
    assert kept.tolist() == [[False, True, False, True, False], [False, False, True, False, True]]
    probs = next_token_probs(logits[0], 1.0, top_k=2)
    assert probs[[0, 2, 4]].sum() == 0
    np.testing.assert_allclose(float(probs.sum()), 1.0, rtol=1e-6)
    assert torch.isfinite(filter_top_k(logits, 10)).all()  # k beyond the vocabulary keeps all
    with pytest.raises(ValueError, match="top_k"):
        filter_top_k(logits, 0)


def test_generation_top_p_mask():
    probs = torch.tensor([0.05, 0.4, 0.3, 0.15, 0.1])
    logits = probs.log()
    keep = lambda p: torch.isfinite(filter_top_p(logits, p)).tolist()  # noqa: E731
    assert keep(0.35) == [False, True, False, False, False]  # the top token alone reaches it
    assert keep(0.5) == [False, True, True, False, False]  # 0.4 < 0.5 <= 0.7
    assert keep(0.71) == [False, True, True, True, False]  # 0.7 < 0.71 <= 0.85
    assert keep(0.01) == [False, True, False, False, False]  # always at least one token
    assert keep(1.0) == [True] * 5
    out = next_token_probs(logits, 1.0, top_p=0.5)
    np.testing.assert_allclose(out.numpy(), [0, 0.4 / 0.7, 0.3 / 0.7, 0, 0], rtol=1e-5)
    with pytest.raises(ValueError, match="top_p"):
        filter_top_p(logits, 1.5)


def test_generation_top_k_applies_after_temperature():
    # Temperature does not change the order, so top-k keeps the same tokens at any T, and
    # the kept ones are reweighted by the lecture's formula.
    logits = torch.tensor([1.0, 3.0, 2.0, 0.0])
    probs = next_token_probs(logits, 0.5, top_k=2)
    p = torch.softmax(logits.double(), -1).numpy()[[1, 2]]
    np.testing.assert_allclose(probs[[1, 2]].numpy(), p**2 / (p**2).sum(), rtol=1e-5)


def test_generation_same_seed_same_tokens():
    torch.manual_seed(0)
    model = LSTMLanguageModel(vocab_size=12, embedding_dim=8, hidden_size=16, num_layers=2)
    run = lambda seed: list(stream_tokens(model, [3, 4, 5], 40, temperature=1.5, seed=seed))  # noqa: E731
    assert run(7) == run(7)
    assert run(7) != run(8)
    assert len(run(0)) == 40 and all(0 <= t < 12 for t in run(0))


def test_generation_banned_ids_never_sampled():
    torch.manual_seed(1)
    model = LSTMLanguageModel(vocab_size=6, embedding_dim=4, hidden_size=8, num_layers=1)
    tokens = list(stream_tokens(model, [1], 300, temperature=5.0, banned=[0, 2], seed=0))
    assert not {0, 2} & set(tokens)


def test_generation_state_loop_equals_window_loop_when_window_covers_everything():
    # With a window longer than the whole text, re-reading the window from a zero state
    # sees the same history as carrying the state: the two loops must agree token for token.
    torch.manual_seed(2)
    model = LSTMLanguageModel(vocab_size=9, embedding_dim=8, hidden_size=16, num_layers=2)
    a = list(stream_tokens(model, [1, 2, 3], 25, temperature=1.0, seed=3, loop="state"))
    b = list(
        stream_tokens(model, [1, 2, 3], 25, temperature=1.0, seed=3, loop="window", maxlen=100)
    )
    assert a == b
    with pytest.raises(ValueError, match="maxlen"):
        stream_tokens(model, [1], 3, loop="window")
    with pytest.raises(ValueError, match="prompt"):
        stream_tokens(model, [], 3)


def test_generation_restores_training_mode():
    model = LSTMLanguageModel(vocab_size=5, embedding_dim=4, hidden_size=4, num_layers=1)
    model.train()
    list(stream_tokens(model, [1], 3))
    assert model.training


@pytest.mark.parametrize(
    "pieces",
    [["hello wor", "ld. The", " end"], list("hello world. The end"), ["hello world. The end"]],
)
def test_generation_stop_strings_cut_whatever_the_piece_boundaries(pieces):
    assert "".join(stop_at(pieces, ". ")) == "hello world"
    assert "".join(stop_at(pieces, ["zzz", "wor"])) == "hello "
    assert "".join(stop_at(pieces, "absent")) == "hello world. The end"
    assert "".join(stop_at(pieces, None)) == "hello world. The end"
    assert "".join(stop_at(pieces, "hello")) == ""


def test_generation_stop_at_streams_before_the_end():
    # Text that cannot start a stop string is released at once, not at the end.
    gen = stop_at(iter(["abc", "def", "\n", "\nxyz"]), "\n\n")
    assert next(gen) == "ab"
    assert "".join(gen) == "cdef"
    with pytest.raises(ValueError, match="stop"):
        stop_at(["a"], [""])


@pytest.mark.parametrize(
    "model",
    [
        lambda: LSTMLanguageModel(vocab_size=11, embedding_dim=6, hidden_size=8, num_layers=3),
        lambda: GRULanguageModel(vocab_size=11, embedding_dim=6, hidden_size=8, num_layers=2),
        lambda: CharLSTM(vocab_size=11, hidden_size=8),  # one-hot input
        lambda: LSTMLanguageModel(vocab_size=11, embedding_dim=8, hidden_size=8, tie_weights=True),
    ],
    ids=["lstm-3-layers", "gru-2-layers", "one-hot-lstm", "tied-lstm"],
)
def test_generation_numpy_stepper_equals_the_model_step(model):
    torch.manual_seed(0)
    m = model().eval()
    with torch.no_grad():  # random biases too, so that every bias path is exercised
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
        _, state = m(torch.tensor([[1, 2, 3]]))
        stepper = NumpyStepper(m, state)
        for tok in [4, 0, 10, 10, 7]:
            want, state = m.step(torch.tensor([tok]), state)
            np.testing.assert_allclose(stepper.logits_after(tok), want[0].numpy(), atol=1e-5)
        # From a zero state, as forward() with no state.
        fresh = NumpyStepper(m)
        np.testing.assert_allclose(
            fresh.logits_after(5), m(torch.tensor([[5]]))[0][0, 0].numpy(), atol=1e-5
        )


def test_generation_numpy_stepper_copies_the_weights():
    m = LSTMLanguageModel(vocab_size=5, embedding_dim=4, hidden_size=4, num_layers=1).eval()
    stepper = m.numpy_stepper()
    before = stepper.logits_after(1).copy()
    with torch.no_grad():
        m.decoder.bias.add_(1.0)  # training after the stepper was made does not reach it
    assert np.allclose(NumpyStepper(m).logits_after(1), before + 1.0, atol=1e-6)
    assert np.allclose(m.numpy_stepper().logits_after(1), before + 1.0, atol=1e-6)


def test_generation_token_sampler_frequencies_follow_the_tempered_distribution():
    with np.errstate(divide="ignore"):  # log(0) = -inf on purpose
        logits = np.log(np.array([0.5, 0.3, 0.15, 0.05, 0.0], dtype=np.float32))
    draw = TokenSampler(temperature=0.5, seed=0)
    counts = np.bincount([draw(logits) for _ in range(20_000)], minlength=5)
    want = _lecture_sample_distribution(np.array([0.5, 0.3, 0.15, 0.05, 1e-300]), 0.5)
    np.testing.assert_allclose(counts / counts.sum(), want, atol=0.01)
    assert counts[4] == 0  # probability 0 is never drawn
    np.testing.assert_allclose(draw.probs(logits), want, atol=1e-6)


def test_generation_token_sampler_seed_banned_and_filters():
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0], dtype=np.float32)

    def draws(seed: int) -> list[int]:
        sampler = TokenSampler(1.0, seed=seed)
        return [sampler(logits) for _ in range(50)]

    assert draws(4) == draws(4) and draws(4) != draws(5)
    banned = TokenSampler(1.0, seed=0, banned=[0, 1])
    assert not {0, 1} & {banned(logits) for _ in range(200)}
    top2 = TokenSampler(1.0, top_k=2, seed=0)
    assert {top2(logits) for _ in range(200)} == {0, 1}
    np.testing.assert_allclose(
        top2.probs(logits), next_token_probs(torch.from_numpy(logits), 1.0, top_k=2), atol=1e-6
    )
    assert TokenSampler(GREEDY_TEMPERATURE / 10, seed=0)(logits) == 0
    with pytest.raises(ValueError, match="temperature"):
        TokenSampler(0.0)
    with pytest.raises(ValueError, match="top_k"):
        TokenSampler(1.0, top_k=0)
