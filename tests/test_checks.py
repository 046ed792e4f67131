"""seqlab._checks.check_choice: the one check of a value against fixed choices, and the one
message format every layer uses for it."""

from __future__ import annotations

import numpy as np
import pytest

from seqlab._checks import check_choice


def test_check_choice_gives_the_value_back() -> None:
    assert check_choice("precision", "bf16", ("fp32", "bf16")) == "bf16"
    assert check_choice("head", None, ("softmax", "sigmoid"), allow_none=True) is None
    assert check_choice("standardize", None, ("lower", None)) is None  # None as a listed choice


def test_check_choice_message_names_the_choices_the_value_and_the_fix() -> None:
    with pytest.raises(ValueError) as info:
        check_choice("precision", "fp16", ("fp32", "bf16"), fix="use 'fp32' (the default)")
    assert str(info.value) == (
        "precision must be one of 'fp32', 'bf16'; got 'fp16'; use 'fp32' (the default)"
    )
    with pytest.raises(ValueError) as info:
        check_choice("schedule", "wavy", ("cosine", "step"), allow_none=True)
    assert str(info.value) == "schedule must be one of 'cosine', 'step' or None; got 'wavy'"


def test_check_choice_refuses_none_unless_allowed() -> None:
    with pytest.raises(ValueError, match="^head must be one of 'softmax', 'sigmoid'; got None$"):
        check_choice("head", None, ("softmax", "sigmoid"))


def test_check_choice_lists_a_set_in_a_stable_order() -> None:
    with pytest.raises(ValueError, match="^x must be one of 'a', 'b', 'c'; got 'd'$"):
        check_choice("x", "d", {"c", "a", "b"})
    # a dict's keys are its choices, in the dict's order
    with pytest.raises(ValueError, match="^activation must be one of 'tanh', 'relu'; got 'elu'$"):
        check_choice("activation", "elu", {"tanh": np.tanh, "relu": None})


@pytest.mark.parametrize("value", [["lstm"], np.array(["lstm", "gru"])])
def test_check_choice_refuses_unhashable_values_with_the_same_error(value: object) -> None:
    # a list from a JSON config against a set, or an array: a ValueError, not a TypeError
    with pytest.raises(ValueError, match="^model must be one of 'gru', 'lstm'; got "):
        check_choice("model", value, {"lstm", "gru"})
    with pytest.raises(ValueError, match="^model must be one of 'lstm', 'gru'; got "):
        check_choice("model", value, ("lstm", "gru"))
