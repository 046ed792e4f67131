"""Which tokens made a sequence model decide as it did: per-token attribution scores.

Both methods score token ``i`` by how much it pushed up the probability of the explained
class (the predicted class unless ``target`` is given); positive scores support the class,
negative scores speak against it. Scores are in units of probability.

* ``"occlusion"``: ``score_i = p(class | sequence) - p(class | sequence with token i
  occluded)``, where occluding means replacing the token's input vector with the zero vector
  (the vector that padding gets), keeping every other position where it was. Exact, one
  extra forward pass per token (batched).
* ``"grad_x_input"``: ``score_i = sum_d x_id * dp/dx_id`` — gradient times input, the
  first-order Taylor estimate of the same difference (the change from ``x_i`` to zero).
  One forward and one backward pass; cheap on long texts, but only a local approximation.

Works with every model built on :class:`seqlab.models.embedding.SequenceClassifier`, for
token ids and for numeric sequences (then a "token" is one time step).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from seqlab._checks import check_choice
from seqlab.models.embedding import SequenceClassifier

__all__ = ["METHODS", "explain", "format_explanation"]

METHODS = ("occlusion", "grad_x_input")


def explain(
    model: SequenceClassifier,
    token_ids: Sequence[int] | np.ndarray | torch.Tensor,
    method: str = "occlusion",
    *,
    target: int | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Score each token of one sequence by how much it pushed the class probability up.

    ``token_ids`` is one sequence of ids without padding (for a numeric model, the
    ``(T, input_size)`` array of values). Returns a float64 array of ``T`` scores (see the
    module docstring for what they mean). ``target`` picks the class to explain; by default
    the class the model predicts. The model is evaluated in eval mode (no dropout) and left
    in the mode it was in.

    >>> from seqlab.models.cnn import KimCNNClassifier
    >>> model = KimCNNClassifier(vocab_size=20, embedding_dim=8)
    >>> explain(model, [4, 7, 9, 2], method="occlusion").shape
    (4,)
    """
    if not isinstance(model, SequenceClassifier):
        raise TypeError(
            "explain needs a sequence model from seqlab.models (e.g. 'lstm', 'kim-cnn'), got "
            f"{type(model).__name__}"
        )
    check_choice("method", method, METHODS)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    inputs = _as_input(model, token_ids, device)
    steps = inputs.shape[1]
    lengths = torch.tensor([steps], device=device)

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if model.input_size is None:
                x, lengths = model.embed(tokens=inputs, lengths=lengths)
            else:
                x, lengths = model.embed(values=inputs, lengths=lengths)
            full = _probabilities(model.forward_embedded(x, lengths))[0]  # (C,)
        if target is None:
            target = int(full.argmax())
        elif isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < len(full):
            raise ValueError(
                f"target must be a class index in [0, {len(full) - 1}], got {target!r}"
            )
        if method == "occlusion":
            scores = _occlusion(model, x, lengths, full[target], target, batch_size)
        else:
            scores = _grad_x_input(model, x, lengths, target)
    finally:
        model.train(was_training)
    return scores.detach().cpu().double().numpy()


def _occlusion(
    model: SequenceClassifier,
    x: torch.Tensor,
    lengths: torch.Tensor,
    base: torch.Tensor,
    target: int,
    batch_size: int,
) -> torch.Tensor:
    steps = x.shape[1]
    scores = []
    with torch.no_grad():
        for start in range(0, steps, batch_size):
            positions = torch.arange(start, min(start + batch_size, steps), device=x.device)
            n = len(positions)
            occluded = x.repeat(n, 1, 1)  # (n, T, D): row j hides token positions[j]
            occluded[torch.arange(n, device=x.device), positions] = 0.0
            probs = _probabilities(model.forward_embedded(occluded, lengths.repeat(n)))
            scores.append(base - probs[:, target])
    return torch.cat(scores)


def _grad_x_input(
    model: SequenceClassifier, x: torch.Tensor, lengths: torch.Tensor, target: int
) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    # cuDNN's RNN backward refuses to run in eval mode; the native kernels have no such rule.
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
        prob = _probabilities(model.forward_embedded(x, lengths))[0, target]
        (grad,) = torch.autograd.grad(prob, x)
    return (grad * x).sum(dim=-1)[0].detach()  # (T,)


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    # One logit means a sigmoid output: expand it to the two class probabilities.
    if logits.shape[1] == 1:
        p = torch.sigmoid(logits)
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


def _as_input(
    model: SequenceClassifier,
    token_ids: Sequence[int] | np.ndarray | torch.Tensor,
    device: torch.device,
    caller: str = "explain",
) -> torch.Tensor:
    """One checked sequence as a ``(1, T)`` id tensor (``(1, T, F)`` values for a numeric
    model) on ``device``; ``caller`` names the public function in the errors."""
    if isinstance(token_ids, str):
        raise TypeError(
            f"{caller} takes token ids, not text; encode it first, e.g. "
            "vectorizer.transform([text])[0]"
        )
    data = torch.as_tensor(np.asarray(token_ids) if not torch.is_tensor(token_ids) else token_ids)
    if data.numel() == 0:
        raise ValueError("token_ids is empty; give a sequence of at least one token or step")
    if model.input_size is None:
        if data.dim() != 1 or data.is_floating_point():
            raise ValueError(
                "token_ids must be one sequence of integer ids (1-D), got shape "
                f"{tuple(data.shape)} and dtype {data.dtype}; pass one sequence at a time"
            )
        data = data.long()
    else:
        if data.dim() != 2 or data.shape[1] != model.input_size:
            raise ValueError(
                f"for a numeric model give one sequence of shape (T, {model.input_size}), got "
                f"shape {tuple(data.shape)}"
            )
        data = data.to(torch.get_default_dtype())
    return data.unsqueeze(0).to(device)


# 256-colour backgrounds from faint to strong; dark text stays readable on all of them.
_GREENS = (194, 157, 120, 83)
_REDS = (224, 217, 210, 203)


def format_explanation(
    tokens: Sequence[str], scores: Sequence[float] | np.ndarray, color: bool = True
) -> str:
    """The tokens joined by spaces, each marked by its score.

    With ``color=True`` a token's background is green when it supports the class and red
    when it speaks against it, darker for larger ``|score|`` (four steps relative to the
    largest ``|score|``; tokens under 1/8 of it stay unmarked); ANSI escape codes, for a
    terminal. With ``color=False`` each token is followed by its score, ``word[+0.123]``.

    >>> format_explanation(["a", "great", "film"], [0.0, 0.5, -0.1], color=False)
    'a[+0.000] great[+0.500] film[-0.100]'
    """
    if isinstance(tokens, str):
        raise TypeError("tokens must be a list of token strings, not one str; split it first")
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(tokens) != len(values):
        raise ValueError(
            f"got {len(tokens)} tokens but {len(values)} scores; give one score per token"
        )
    if not color:
        return " ".join(f"{tok}[{s:+.3f}]" for tok, s in zip(tokens, values))
    peak = float(np.max(np.abs(values))) if len(values) else 0.0
    parts = []
    for tok, s in zip(tokens, values):
        level = int(np.ceil(abs(s) / peak * 4 - 0.5)) if peak > 0 else 0  # 0..4
        if level == 0:
            parts.append(str(tok))
            continue
        code = (_GREENS if s > 0 else _REDS)[min(level, 4) - 1]
        parts.append(f"\x1b[30;48;5;{code}m{tok}\x1b[0m")
    return " ".join(parts)
