"""Keyword options that a family of constructors (or methods) shares, declared once (PEP 692).

A constructor ends in ``**options: Unpack[SomeOptions]``, where ``SomeOptions`` is a
``TypedDict`` of the keywords every member of the family takes (the way Keras passes
``name``, ``dtype`` and ``trainable`` through ``**kwargs`` to its base ``Layer``). The
family's base class fills the defaults and refuses an unknown keyword once, with
:func:`given_options`, and gives each constructor the signature it would have had with the
options spelled out (:func:`spell_out_options` from ``__init_subclass__``; the decorator
:func:`spelled_out` for a function): ``inspect.signature``, ``help()``, the ``--set``
parser and the code that asks a model class which arguments it takes all see every keyword
with its default, as keyword-only parameters.

>>> from typing import TypedDict, Unpack
>>> class Options(TypedDict, total=False):
...     seed: int
>>> def make(width: int = 2, **options: Unpack[Options]) -> None: ...
>>> signature = options_signature(make, Options, {"seed": 0})
>>> [(p.name, p.kind.name, p.default) for p in signature.parameters.values()]
[('width', 'POSITIONAL_OR_KEYWORD', 2), ('seed', 'KEYWORD_ONLY', 0)]
>>> given_options("make()", {"seed": 3}, {"seed": 0})
{'seed': 3}
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["given_options", "options_signature", "spell_out_options", "spelled_out", "unpacked"]


def unpacked(func: Callable[..., Any]) -> type | None:
    """The ``TypedDict`` of ``func``'s ``**`` parameter when it is annotated
    ``Unpack[TypedDict]`` (PEP 692), else ``None``.

    >>> from typing import TypedDict, Unpack
    >>> class Options(TypedDict, total=False):
    ...     seed: int
    >>> def make(**options: Unpack[Options]) -> None: ...
    >>> unpacked(make) is Options, unpacked(lambda **kwargs: None)
    (True, None)
    """
    var = [p for p in inspect.signature(func).parameters.values() if p.kind is p.VAR_KEYWORD]
    if not var or var[0].annotation is var[0].empty:
        return None
    hint = typing.get_type_hints(func)[var[0].name]
    return typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Unpack else None


def options_signature(
    func: Callable[..., Any], options: type, defaults: Mapping[str, Any]
) -> inspect.Signature:
    """The signature of ``func`` with its ``**`` parameter replaced by the keys of the
    ``TypedDict`` ``options``: keyword-only, annotated with the ``TypedDict``'s types, with
    the values of ``defaults`` (which gives one for every key)."""
    signature = inspect.signature(func)
    types = typing.get_type_hints(options)
    spelled = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=defaults[name], annotation=tp
        )
        for name, tp in types.items()
    ]
    # the ** parameter comes last: the options take its place
    params = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    return signature.replace(parameters=[*params, *spelled])


def spelled_out(options: type, defaults: Mapping[str, Any]) -> Callable[[F], F]:
    """Decorator: a function whose ``**`` parameter is ``Unpack[options]`` gets the signature
    with the options spelled out (:func:`options_signature`); it still fills and checks them
    itself (:func:`given_options`)."""

    def decorate(func: F) -> F:
        func.__signature__ = options_signature(func, options, defaults)
        return func

    return decorate


def spell_out_options(cls: type, options: type, defaults: Mapping[str, Any]) -> None:
    """Give the constructor that ``cls`` defines, if its ``**`` parameter is
    ``Unpack[options]``, the signature with the options spelled out (:func:`options_signature`);
    a family's base class calls it from ``__init_subclass__``."""
    init = cls.__dict__.get("__init__")
    if init is not None and unpacked(init) is options:
        init.__signature__ = options_signature(init, options, defaults)


def given_options(
    owner: str, given: Mapping[str, Any], defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """``defaults`` updated with the ``given`` keywords; a keyword that is not one of them is
    the ``TypeError`` Python raises for it (``owner`` names the function, e.g.
    ``"ESN.__init__()"``).

    >>> given_options("f()", {"sed": 1}, {"seed": 0})
    Traceback (most recent call last):
    ...
    TypeError: f() got an unexpected keyword argument 'sed'
    """
    for name in given:
        if name not in defaults:
            raise TypeError(f"{owner} got an unexpected keyword argument {name!r}")
    return {**defaults, **given}
