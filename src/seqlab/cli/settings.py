"""One ``--set KEY=VALUE`` parser for every command: values are typed after the target.

The target is a dataclass (its fields) or a callable (its signature: a function, or a
class's ``__init__``); each value is parsed against the annotation of its key, so
``--set hidden_size=abc`` or ``--set hidden_size=3.5`` is refused where ``hidden_size`` is an
``int``, and ``--set lr=inf`` is refused everywhere (no setting takes a non-finite number).

Accepted spellings: ``true/false/yes/no/on/off/1/0`` for ``bool``; ``none`` / ``null`` where
``None`` is allowed; ``[1,2,4]``, ``1,2,4`` or ``(1,2,4)`` for tuples and lists; JSON for
dicts; a bare word or a quoted JSON string for ``str``. Keys may use ``-`` for ``_``. A key the
target does not take is refused with the list of the ones it does, unless the target takes
``**kwargs`` (then the value is read as JSON, else as text).

>>> from dataclasses import dataclass
>>> @dataclass
... class Config:
...     hidden_size: int = 32
...     dilations: tuple[int, ...] = (1,)
...     dropout: float | None = None
>>> parse_settings(["hidden-size=64", "dilations=[1,2,4]", "dropout=none"], Config)
{'hidden_size': 64, 'dilations': (1, 2, 4), 'dropout': None}
>>> parse_settings(["hidden_size=3.5"], Config)
Traceback (most recent call last):
...
seqlab.cli.settings.SettingError: hidden_size=3.5: expected an integer (int), got '3.5'
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import json
import math
import types
import typing
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

__all__ = ["SettingError", "cli_settings", "parse_settings", "parse_value", "setting_types"]

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_NONE = ("none", "null")
_SKIP = ("self", "args", "kwargs")


class SettingError(ValueError):
    """A ``--set KEY=VALUE`` item that cannot be used; the message names the key, the value
    and what is expected."""


def setting_types(target: Any, *, exclude: Iterable[str] = ()) -> tuple[dict[str, Any], bool]:
    """The settable names of ``target`` with their annotations (``Any`` where none), and
    whether it also takes arbitrary ``**kwargs``. ``target``: a dataclass, a callable, a
    ``{name: annotation}`` dict, or a tuple of these (the union of their keys; arbitrary
    keys only if every part takes them).

    >>> setting_types(lambda hidden_size=2, **kw: None)
    ({'hidden_size': typing.Any}, True)
    """
    skip = set(exclude) | set(_SKIP)
    if isinstance(target, tuple):  # several targets: the union of their keys
        merged: dict[str, Any] = {}
        var_kws = []
        for part in target:
            part_types, part_kw = setting_types(part, exclude=exclude)
            merged = {**part_types, **merged}
            var_kws.append(part_kw)
        return merged, all(var_kws)
    if isinstance(target, dict):  # {name: annotation}
        return {k: v for k, v in target.items() if k not in skip}, False
    if dataclasses.is_dataclass(target):
        cls = target if isinstance(target, type) else type(target)
        hints = _hints(cls)
        fields = {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}
        return {k: v for k, v in fields.items() if k not in skip}, False
    func = target.__init__ if isinstance(target, type) else target
    hints = _hints(func)
    types_: dict[str, Any] = {}
    var_kw = False
    for name, param in inspect.signature(func).parameters.items():
        if param.kind is param.VAR_KEYWORD:
            var_kw = True
        elif param.kind is not param.VAR_POSITIONAL and name not in skip:
            types_[name] = hints.get(name, _annotation(param))
    return types_, var_kw


def _annotation(param: inspect.Parameter) -> Any:
    # A parameter that a signature spells out for a function's **options (seqlab._options)
    # has no annotation of its own in the function; the signature holds its type.
    annotation = param.annotation
    return Any if annotation is param.empty or isinstance(annotation, str) else annotation


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except Exception:  # an annotation that does not resolve here: values read as JSON/text
        return {}


def parse_settings(
    items: Iterable[str],
    target: Any,
    *,
    exclude: Iterable[str] = (),
    option: str = "--set",
) -> dict[str, Any]:
    """``KEY=VALUE`` items -> ``{key: typed value}`` for ``target`` (a dataclass or a
    callable); raises :class:`SettingError` for a malformed item, an unknown or repeated key
    or a value of the wrong type. ``exclude`` names parameters that are not settings (e.g.
    ones the command fills itself).

    >>> def model(num_layers: int = 1, pooling: typing.Literal["max", "mean"] = "max"): ...
    >>> parse_settings(["num_layers=2", "pooling=mean"], model)
    {'num_layers': 2, 'pooling': 'mean'}
    """
    known, var_kw = setting_types(target, exclude=exclude)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise SettingError(
                f"expected KEY=VALUE such as hidden_size=64 after {option}, got {item!r}"
            )
        if key in out:
            raise SettingError(f"{key} was given twice ({option} {item!r}); give it once")
        if key not in known and not var_kw:
            raise SettingError(
                f"unknown setting {key!r} ({option} {item!r}); valid keys: "
                + ", ".join(sorted(known))
            )
        out[key] = parse_value(key, raw.strip(), known.get(key, Any))
    return out


def parse_value(key: str, raw: str, annotation: Any) -> Any:
    """``raw`` read as a value of type ``annotation``; :class:`SettingError` names ``key``.

    >>> parse_value("kernel_sizes", "3,4,5", list[int])
    [3, 4, 5]
    >>> parse_value("max_tokens", "auto", int | str | None)
    'auto'
    """
    try:
        return _convert(raw, annotation)
    except (ValueError, TypeError) as exc:
        raise SettingError(f"{key}={raw}: {exc}") from None


def _describe(annotation: Any) -> str:
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _convert(raw: str, tp: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return _json_or_text(raw)
    if origin in (typing.Union, types.UnionType):
        return _union(raw, tp, args)
    if origin is typing.Literal:
        for choice in args:
            try:
                value = _convert(raw, type(choice))
            except ValueError:
                continue
            if value == choice:
                return value
        raise ValueError(f"expected one of {', '.join(repr(c) for c in args)}, got {raw!r}")
    if tp is type(None):
        if raw.lower() in _NONE:
            return None
        raise ValueError(f"expected none, got {raw!r}")
    if tp is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ValueError(f"expected true or false (bool), got {raw!r}")
    if tp is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"expected an integer (int), got {raw!r}") from None
    if tp is float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"expected a number (float), got {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {raw!r}")
        return value
    if tp is str:
        return _text(raw)
    if isinstance(tp, type) and issubclass(tp, PurePath):
        return tp(raw)
    if origin in (tuple, list, collections.abc.Sequence, collections.abc.Iterable):
        return _sequence(raw, origin, args)
    if origin is dict or tp is dict or origin is collections.abc.Mapping:
        value = _json_or_text(raw)
        if not isinstance(value, dict):
            raise ValueError(f'expected a JSON object such as {{"a": 1}}, got {raw!r}')
        return value
    if _is_pathlike(tp):
        return raw
    raise ValueError(f"a {_describe(tp)} cannot be given with --set")


def _is_pathlike(tp: Any) -> bool:
    # seqlab.PathLike is `str | os.PathLike[str]`; a bare os.PathLike also reads as a path
    return typing.get_origin(tp) is not None and "PathLike" in str(tp)


def _union(raw: str, tp: Any, args: tuple[Any, ...]) -> Any:
    if type(None) in args and raw.lower() in _NONE:
        return None
    members = [a for a in args if a is not type(None)]
    # text last: "3" for `int | str` is the number 3
    members.sort(key=lambda a: a is str)
    errors = []
    for member in members:
        try:
            return _convert(raw, member)
        except ValueError as exc:
            errors.append(str(exc))
    allowed = " or ".join(_describe(a) for a in args)
    if len(errors) == 1:
        raise ValueError(errors[0] + (" or none" if type(None) in args else ""))
    raise ValueError(f"expected {allowed}, got {raw!r}")


def _sequence(raw: str, origin: Any, args: tuple[Any, ...]) -> Any:
    text = raw.strip()
    if text[:1] in "[(" and text[-1:] in "])":
        text = text[1:-1]
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if parts and parts[-1] == "":  # "(3,)": a trailing comma
        parts.pop()
    fixed = origin is tuple and args and args[-1] is not Ellipsis
    if fixed:
        if len(parts) != len(args):
            raise ValueError(f"expected {len(args)} values like 1,2, got {raw!r}")
        items = [_convert(p, a) for p, a in zip(parts, args)]
    else:
        element = args[0] if args else Any
        items = [_convert(p, element) for p in parts]
    return list(items) if origin is list else tuple(items)


def _text(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _json_or_text(raw: str) -> Any:
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        value = raw
    if isinstance(value, float) and not math.isfinite(value):  # e.g. 1e999
        raise ValueError(f"expected a finite number, got {raw!r}")
    if isinstance(value, str) and value.lower() in ("inf", "-inf", "+inf", "nan", "infinity"):
        raise ValueError(f"expected a finite number, got {raw!r}")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"expected a finite number, got {name!r}")


def cli_settings(items: Iterable[str], target: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`parse_settings` for a click command: a :class:`SettingError` becomes a
    ``click.BadParameter`` on ``--set`` (a one-line usage error, exit status 2)."""
    import click

    try:
        return parse_settings(items, target, **kwargs)
    except SettingError as exc:
        raise click.BadParameter(str(exc), param_hint="'--set'") from None
