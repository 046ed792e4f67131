"""A classifier's output layer: one unit per class (``head="softmax"``) or, for two
classes, one unit read as a sigmoid (``head="sigmoid"``, Keras's ``Dense(1,
activation="sigmoid")`` with ``binary_crossentropy``).

A sigmoid head's one logit ``z`` is returned as the two-class logits ``[0, z]``
(:func:`two_class_logits`), so that everything downstream of a classifier (the
cross-entropy loss, accuracy, ``predict_proba``, ``explain``, serving) stays as it is:
``softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)]``, and the cross-entropy of ``[0, z]`` for
label ``y`` is exactly the binary cross-entropy of ``sigmoid(z)`` for ``y``.

>>> two_class_logits(torch.tensor([[2.0]])).softmax(1)[0, 1].item() == torch.sigmoid(
...     torch.tensor(2.0)).item()
True
"""

from __future__ import annotations

from typing import Any

import torch

from seqlab.defaults import HEADS

__all__ = ["HEADS", "check_head", "output_units", "two_class_logits"]


def check_head(head: Any, num_classes: int) -> str:
    """``head`` if it is ``"softmax"``, or ``"sigmoid"`` with ``num_classes == 2``; a one-line
    ValueError with the fix otherwise."""
    if head not in HEADS:
        raise ValueError(
            f"head must be 'softmax' (one output per class) or 'sigmoid' (one output, two "
            f"classes), got {head!r}"
        )
    if head == "sigmoid" and num_classes != 2:
        raise ValueError(
            f"head='sigmoid' has one output unit for two classes, but num_classes="
            f"{num_classes}; use head='softmax' (--head softmax)"
        )
    return head


def output_units(head: str, num_classes: int) -> int:
    """Units of the last layer: 1 for a sigmoid head, else ``num_classes``.

    >>> output_units("sigmoid", 2), output_units("softmax", 5)
    (1, 5)
    """
    return 1 if head == "sigmoid" else num_classes


def two_class_logits(z: torch.Tensor) -> torch.Tensor:
    """A sigmoid unit's logits ``z (B, 1)`` as two-class logits ``[0, z]`` of shape ``(B, 2)``."""
    return torch.cat([torch.zeros_like(z), z], dim=-1)
