"""Sampling the next token from a language model, and the two generation loops.

The temperature is the lecture's reweighting of a distribution ``p``::

    p_i -> exp(log(p_i) / T) / sum_j exp(log(p_j) / T)      (= p_i ** (1/T), renormalised)

which is ``softmax(logits / T)`` when ``p = softmax(logits)``. ``T = 1`` leaves ``p`` as it
is, ``T > 1`` flattens it, ``T -> 0`` concentrates it on the most likely token. ``T`` must be
positive; below :data:`GREEDY_TEMPERATURE` (1e-6) the formula is replaced by its limit, the
argmax, because ``log(p) / T`` would overflow (ties go to the lowest token id).

After the temperature, ``top_k`` keeps the ``k`` most likely tokens (ties with the k-th are
kept too) and ``top_p`` keeps the smallest set of most likely tokens whose probability adds
up to at least ``p`` (nucleus sampling, Holtzman et al. 2020); the rest get probability 0 and
the distribution is renormalised. This is the order of Hugging Face's ``generate``.

Two loops produce text from a model called as ``model(tokens (1, T), state) -> (logits
(1, T, V), state)`` (and, when it has one, ``model.step(tokens (1,), state) -> (logits (1, V),
state)`` for single tokens):

* :func:`stream_tokens` with ``loop="state"`` reads the prompt once and then feeds one token
  per step, carrying the state: O(1) work per token for a recurrent model; for a transformer
  (:mod:`seqlab.models.gpt`) the state is its key/value cache, O(block_size) per token;
* ``loop="window"`` is the lecture's loop: every step re-reads the last ``maxlen`` tokens
  from a zero state, O(maxlen) work per token, which is what a model trained on windows saw
  (for a transformer with ``maxlen = block_size``: nanoGPT's crop-and-re-run loop);
* ``loop="full"`` re-reads the whole text so far (prompt and generated tokens) from a zero
  state at every step, O(length) per token: the reference the state loop must equal. Both
  compute the same logits up to float rounding, so the same seed gives the same text
  unless a draw falls within that rounding of a boundary between two tokens.

The loops draw with :class:`TokenSampler`: the same distribution as :func:`next_token_probs`,
computed in NumPy, and one uniform number from ``numpy.random.default_rng(seed)`` per token
turned into a token by inverse CDF (a binary search of the cumulative sum), so the same seed
gives the same text (on the same model). :func:`sample_next` keeps the PyTorch version
(``torch.multinomial`` with a :class:`torch.Generator`) for single draws. When the model has
``numpy_stepper`` (seqlab's recurrent language models, and the transformer, whose stepper
keeps the key/value cache in a ring buffer), the state loop steps it in NumPy after the
prompt: per token, PyTorch's fixed cost of a call on a (1, H) tensor outweighs the
arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from seqlab._checks import check_choice

__all__ = [
    "GREEDY_TEMPERATURE",
    "LOOPS",
    "TokenSampler",
    "check_temperature",
    "filter_top_k",
    "filter_top_p",
    "next_token_probs",
    "reweight",
    "sample_next",
    "stop_at",
    "stream_tokens",
]

GREEDY_TEMPERATURE = 1e-6
"""Temperatures in ``(0, GREEDY_TEMPERATURE)`` sample the argmax (the ``T -> 0`` limit)."""

LOOPS = ("state", "window", "full")


def check_temperature(temperature: float) -> float:
    """Return ``temperature`` as a float, or raise ValueError if it is not a positive number.

    >>> check_temperature(0.5)
    0.5
    """
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise TypeError(f"temperature must be a number > 0, got {temperature!r}") from None
    if not t > 0 or math.isnan(t) or math.isinf(t):
        raise ValueError(
            f"temperature must be a finite number > 0, got {temperature!r}; use a small value "
            "such as 0.01 for (nearly) greedy decoding"
        )
    return t


def reweight(probs: np.ndarray | torch.Tensor, temperature: float) -> torch.Tensor:
    """The lecture's formula: ``exp(log(p) / T)`` renormalised, along the last axis.

    Computed in log space with the maximum subtracted, so it cannot overflow; zero
    probabilities stay zero. Below :data:`GREEDY_TEMPERATURE` it returns the one-hot argmax.

    >>> reweight(torch.tensor([0.5, 0.25, 0.25]), 0.5).tolist()  # p**2 renormalised
    [0.6666666865348816, 0.1666666716337204, 0.1666666716337204]
    """
    t = check_temperature(temperature)
    p = torch.as_tensor(probs, dtype=torch.float64 if isinstance(probs, np.ndarray) else None)
    if not torch.is_floating_point(p):
        p = p.float()
    return _tempered(torch.log(p), t)  # log(0) = -inf, and exp(-inf) = 0 again


def _tempered(logp: torch.Tensor, t: float) -> torch.Tensor:
    """``softmax(logp / t)`` (= the reweighted distribution), or one-hot argmax for tiny t."""
    if t < GREEDY_TEMPERATURE:
        out = torch.zeros_like(logp)
        out.scatter_(-1, logp.argmax(dim=-1, keepdim=True), 1.0)
        return out
    return torch.softmax(logp / t, dim=-1)


def filter_top_k(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Set every logit below the ``k``-th largest (along the last axis) to ``-inf``.

    ``None`` or ``k >= vocab size`` keeps everything.

    >>> filter_top_k(torch.tensor([1.0, 3.0, 2.0, 0.0]), 2).tolist()
    [-inf, 3.0, 2.0, -inf]
    """
    if k is None:
        return logits
    if int(k) < 1:
        raise ValueError(f"top_k must be a positive integer or None, got {k!r}")
    k = min(int(k), logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def filter_top_p(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose total probability
    (of ``softmax(logits)``) is at least ``p``; the others get ``-inf``. The most likely token
    is always kept. ``None`` or ``p >= 1`` keeps everything.

    >>> probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    >>> filter_top_p(probs.log(), 0.7).isfinite().tolist()  # 0.5 + 0.3 >= 0.7
    [True, True, False, False]
    """
    if p is None:
        return logits
    if not 0.0 < float(p) <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] or None, got {p!r}")
    if float(p) >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    # Remove a token when the tokens before it already reach p; this keeps the one that
    # crosses p, so the kept mass is >= p.
    remove_sorted = (cum - torch.softmax(sorted_logits, dim=-1)) >= float(p)
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def next_token_probs(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    banned: Sequence[int] | None = None,
) -> torch.Tensor:
    """The distribution the next token is drawn from: ``banned`` ids removed, temperature
    (the lecture's formula), then ``top_k``, then ``top_p``; float32, on the CPU.

    >>> next_token_probs(torch.tensor([0.0, 1.0, 2.0]), temperature=1e-9).tolist()
    [0.0, 0.0, 1.0]
    """
    t = check_temperature(temperature)
    logits = logits.detach().float().cpu()
    if banned:
        logits = logits.clone()
        logits[..., list(banned)] = float("-inf")
    # softmax(log p / T) with log p = logits - logsumexp(logits) equals softmax(logits / T):
    # the constant cancels, so the lecture's formula is applied to the logits directly.
    tempered = _tempered(logits, t)
    if top_k is None and top_p is None:
        return tempered
    filtered = filter_top_p(filter_top_k(torch.log(tempered), top_k), top_p)
    return torch.softmax(filtered, dim=-1)


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    banned: Sequence[int] | None = None,
) -> int:
    """Draw one token id from ``logits`` (shape (V,)), see :func:`next_token_probs`.

    Near-zero temperatures return the argmax without drawing a random number.

    >>> sample_next(torch.tensor([0.0, 5.0, 1.0]), temperature=1e-7)
    1
    """
    probs = next_token_probs(logits, temperature, top_k, top_p, banned)
    if check_temperature(temperature) < GREEDY_TEMPERATURE:
        return int(probs.argmax())
    return int(torch.multinomial(probs, 1, generator=generator))


class TokenSampler:
    """Draw token ids from logits, one uniform number per draw from
    ``numpy.random.default_rng(seed)``: ``banned`` ids removed, the temperature (the
    lecture's formula, argmax below :data:`GREEDY_TEMPERATURE`), ``top_k``, ``top_p``, as in
    :func:`next_token_probs`, and the token picked by inverse CDF. ``seed=None`` draws from
    fresh entropy.

    >>> draw = TokenSampler(temperature=1e-7, seed=0)
    >>> draw(np.array([0.0, 5.0, 1.0], dtype=np.float32))
    1
    """

    def __init__(
        self,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = 0,
        banned: Sequence[int] | None = None,
    ) -> None:
        self.temperature = check_temperature(temperature)
        filter_top_k(torch.zeros(1), top_k)  # validate now, not at the first token
        filter_top_p(torch.zeros(1), top_p)
        self.top_k, self.top_p = top_k, top_p
        self.banned = sorted({int(b) for b in banned}) if banned else []
        self.rng = np.random.default_rng(None if seed is None else int(seed))

    def probs(self, logits: np.ndarray | torch.Tensor) -> np.ndarray:
        """The distribution the next token is drawn from (float64, sums to 1)."""
        if isinstance(logits, torch.Tensor):
            logits = logits.detach().float().cpu().numpy()
        z = np.array(logits, dtype=np.float64).reshape(-1)
        if self.banned:
            z[self.banned] = -np.inf
        if self.top_k is not None or self.top_p is not None:
            probs = next_token_probs(torch.from_numpy(z), self.temperature, self.top_k, self.top_p)
            return probs.numpy().astype(np.float64)
        if self.temperature < GREEDY_TEMPERATURE:
            out = np.zeros_like(z)
            out[int(np.argmax(z))] = 1.0
            return out
        z = z / self.temperature
        z -= z.max()
        p = np.exp(z)
        p /= p.sum()
        return p

    def __call__(self, logits: np.ndarray | torch.Tensor) -> int:
        """One token id drawn from ``logits`` (shape (V,))."""
        p = self.probs(logits)
        if self.temperature < GREEDY_TEMPERATURE:
            return int(np.argmax(p))
        cdf = np.cumsum(p)
        # The first index whose cumulative mass exceeds u: a zero-probability token adds no
        # mass, so it can never be that index (u < cdf[-1]).
        i = int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right"))
        if i >= len(p) or p[i] == 0:  # u rounded up to the total: the last possible token
            i = int(np.flatnonzero(p)[-1])
        return i


def stream_tokens(
    model: nn.Module,
    prompt_ids: Sequence[int],
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = 0,
    banned: Sequence[int] | None = None,
    loop: str = "state",
    maxlen: int | None = None,
) -> Iterator[int]:
    """Yield ``length`` token ids sampled from ``model`` after ``prompt_ids``, one at a time.

    ``loop="state"`` feeds the prompt once and then only the newest token, carrying the
    state (a recurrent state or a transformer's key/value cache; in NumPy when the model
    offers ``numpy_stepper``); ``loop="window"`` re-reads the last ``maxlen`` tokens from a zero state at each
    step (the lecture's loop); ``loop="full"`` re-reads everything so far at each step.
    Draws: :class:`TokenSampler` seeded with ``seed`` (``None`` = fresh entropy).

    >>> from seqlab.models.lm import LSTMLanguageModel
    >>> m = LSTMLanguageModel(vocab_size=5, embedding_dim=4, hidden_size=4, num_layers=1)
    >>> len(list(stream_tokens(m, [1, 2], 3, seed=0)))
    3
    """
    check_choice("loop", loop, LOOPS)
    if int(length) < 0:
        raise ValueError(f"length must be >= 0, got {length!r}")
    prompt = [int(i) for i in prompt_ids]
    if not prompt:
        raise ValueError(
            "the prompt must hold at least one token (the model has no start symbol); "
            "give a prompt such as a word or a newline"
        )
    if loop == "window" and (maxlen is None or int(maxlen) < 1):
        raise ValueError(f"loop='window' needs maxlen >= 1, got maxlen={maxlen!r}")
    sampler = TokenSampler(temperature, top_k, top_p, seed, banned)
    return _generate(
        model,
        prompt,
        int(length),
        loop=loop,
        maxlen=None if maxlen is None else int(maxlen),
        sampler=sampler,
    )


def _generate(
    model: nn.Module,
    prompt: list[int],
    length: int,
    *,
    loop: str,
    maxlen: int | None,
    sampler: Callable[[torch.Tensor | np.ndarray], int],
) -> Iterator[int]:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()

    def run(ids: list[int], state: tuple[torch.Tensor, ...] | None):
        # (1, T) token ids -> logits of the last position (V,), new state
        with torch.inference_mode():
            if len(ids) == 1 and hasattr(model, "step"):  # the cheap single-step path
                logits, new_state = model.step(torch.tensor(ids, device=device), state)
                return logits[0], new_state
            x = torch.tensor([ids], dtype=torch.long, device=device)
            logits, new_state = model(x, state)
        return logits[0, -1], new_state

    try:
        if loop == "state":
            last, state = run(prompt, None)
            stepper = None
            if hasattr(model, "numpy_stepper"):
                stepper = model.numpy_stepper(state)
            for i in range(length):
                tok = sampler(last)
                yield tok
                if i + 1 < length:  # no forward pass after the last token
                    if stepper is not None:
                        last = stepper.logits_after(tok)
                    else:
                        last, state = run([tok], state)
        elif loop == "full":
            context = list(prompt)
            for _ in range(length):
                last, _ = run(context, None)
                tok = sampler(last)
                yield tok
                context.append(tok)
        else:
            assert maxlen is not None
            context = list(prompt)
            for _ in range(length):
                last, _ = run(context[-maxlen:], None)
                tok = sampler(last)
                yield tok
                context.append(tok)
                if len(context) > 4 * maxlen:  # keep the list short on long generations
                    context = context[-maxlen:]
    finally:
        model.train(was_training)


def stop_at(pieces: Iterable[str], stop: str | Sequence[str] | None) -> Iterator[str]:
    """Pass text ``pieces`` through until one of the ``stop`` strings appears, and end there.

    The stop string itself is not emitted. Text that might be the start of a stop string is
    held back until it is clear that it is not, so the concatenation of what is yielded is
    exactly the full text cut before the first stop string, whatever the piece boundaries.

    >>> "".join(stop_at(["ab", "c\\n", "\\nd"], "\\n\\n"))
    'abc'
    """
    stops = _normalise_stop(stop)  # checked now, not at the first piece
    return _stop_at(iter(pieces), stops) if stops else iter(pieces)


def _stop_at(pieces: Iterator[str], stops: list[str]) -> Iterator[str]:
    hold = max(len(s) for s in stops) - 1
    buffer = ""
    for piece in pieces:
        buffer += piece
        hits = [i for i in (buffer.find(s) for s in stops) if i >= 0]
        if hits:
            if min(hits) > 0:
                yield buffer[: min(hits)]
            return
        # Everything except the last `hold` characters can no longer start a stop string.
        if len(buffer) > hold:
            cut = len(buffer) - hold
            yield buffer[:cut]
            buffer = buffer[cut:]
    if buffer:
        yield buffer


def _normalise_stop(stop: str | Sequence[str] | None) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        stop = [stop]
    stops = list(stop)
    for s in stops:
        if not isinstance(s, str) or not s:
            raise ValueError(f"stop must be a non-empty string or a list of them, got {stop!r}")
    return stops
