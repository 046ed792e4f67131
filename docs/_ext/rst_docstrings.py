"""A griffe extension that renders seqlab's reST-flavoured docstrings as Markdown.

seqlab's docstrings are written for a reader of the source: ``double backticks``, Sphinx roles
(``:class:`TextVectorizer```), ``>>>`` examples and ``::`` literal blocks, with no Markdown in
them. mkdocstrings renders docstrings as Markdown, where an example's output line such as
``[[0, 1, 2]]`` reads as a broken link and a literal block loses its line breaks. This
extension rewrites each docstring of the loaded package before it is parsed:

- a ``>>>`` example (up to the next blank line) becomes a fenced ``pycon`` block;
- a paragraph ending in ``::`` ends in ``:`` and its indented block becomes a fenced ``text``
  block;
- a paragraph after click's ``\\b`` line (which keeps click from rewrapping it in
  ``--help``) becomes a fenced ``text`` block;
- a list item indented by 1 to 3 spaces (reST nests a list by any indent) is indented by 4,
  which Markdown needs to nest it;
- ``:class:`x```, ``:func:`x``` and the other roles become code that links to the object when
  it is rendered in the API reference (an optional cross-reference: no warning when it is
  not, e.g. a private helper); ``~`` shows the last component only, as in Sphinx.

Nothing else changes (``double backticks`` are already Markdown code). Special methods of
classes (``__repr__``, ``__getattr__``) are left out of the reference, except ``__call__``
(``__init__``'s docstring is merged into its class's), and so are attributes of classes that
have no docstring (``self.ridge = float(ridge)``: the class's signature shows its arguments). It also gives each
public module the ``__all__`` it has when imported: griffe reads ``__all__`` from the source
and cannot evaluate ``sorted({...})`` or see names a package loads lazily (``seqlab.fit``,
``seqlab.series.NeuralForecaster``), so the reference would otherwise miss or add names. It is loaded by
``mkdocs.yml`` (``extensions: [docs/_ext/rst_docstrings.py]``) and tested in
``tests/test_docs.py``.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from griffe import Alias, Extension, Object

__all__ = ["RstDocstrings", "to_markdown"]

KEEP = {"__init__", "__call__"}  # special methods that the reference shows
BULLET = re.compile(r"\s*(?:[-*+]|\d+\.) ")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`([^`]+)`")
Resolver = Callable[[str], "str | None"]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _role(match: re.Match[str], resolve: Resolver) -> str:
    target = match[1].strip()
    short = target.startswith("~")
    target = target.lstrip("~").lstrip(".")
    shown = target.rsplit(".", 1)[-1] if short else target
    path = resolve(target)
    if path is None:
        return f"<code>{shown}</code>"
    return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'


def _fence(lines: list[str], indent: int, lang: str) -> list[str]:
    cut = min((_indent(x) for x in lines if x.strip()), default=0)
    pad = " " * indent
    body = [pad + x[cut:] if x.strip() else "" for x in lines]
    return [f"{pad}```{lang}", *body, f"{pad}```"]


def to_markdown(text: str, resolve: Resolver = lambda target: None) -> str:
    """Rewrite one docstring's examples, literal blocks and roles as Markdown.

    >>> print(to_markdown("Pads with 0::\\n\\n    [0, 1]\\n\\nSee :func:`pad`."))
    Pads with 0:
    <BLANKLINE>
    ```text
    [0, 1]
    ```
    <BLANKLINE>
    See <code>pad</code>.
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        indent = _indent(line)
        if line.lstrip().startswith(">>>"):
            j = i
            while j < len(lines) and lines[j].strip():
                j += 1
            out += _fence(lines[i:j], indent, "pycon")
            i = j
            continue
        if line.strip() == "\b":
            # click's "do not rewrap" marker (a backspace): the paragraph below is verbatim
            j = i + 1
            while j < len(lines) and lines[j].strip():
                j += 1
            if j > i + 1:
                out += _fence(lines[i + 1 : j], indent, "text")
            i = j
            continue
        if line.rstrip().endswith("::"):
            head = line.rstrip()[:-1]
            if head.strip() != ":":
                out.append(ROLE.sub(lambda m: _role(m, resolve), head))
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > indent):
                j += 1
            block = lines[i + 1 : j]
            while block and not block[0].strip():
                block.pop(0)
            while block and not block[-1].strip():
                block.pop()
            if block:
                out += ["", *_fence(block, indent, "text")]
                if j < len(lines):
                    out.append("")
            i = j
            continue
        if 0 < indent < 4 and BULLET.match(line):
            line = " " * 4 + line.lstrip()  # a nested list: Markdown wants 4 spaces
        out.append(ROLE.sub(lambda m: _role(m, resolve), line))
        i += 1
    return "\n".join(out)


def _walk(obj: Object) -> Iterator[Object]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)  # type: ignore[arg-type]


def _lookup(root: Object, path: str) -> str | None:
    """The canonical path of the object at ``path`` (seqlab's own objects only), or None."""
    if path == root.path:
        return path
    if not path.startswith(root.path + "."):
        return None
    try:
        found = root[path[len(root.path) + 1 :]]
        return found.target_path if found.is_alias else found.path
    except Exception:  # a missing name, or an alias to a package griffe did not load
        return None


def _resolver(root: Object, obj: Object) -> Resolver:
    scopes = []
    scope: Object | None = obj
    while scope is not None:
        if not scope.is_function:
            scopes.append(scope.path)
        scope = scope.parent  # type: ignore[assignment]

    def resolve(target: str) -> str | None:
        candidates = [target] if target.split(".")[0] == root.path else []
        candidates += [f"{s}.{target}" for s in scopes]
        for candidate in candidates:
            if found := _lookup(root, candidate):
                return found
        return None

    return resolve


def _origin(value: Any) -> str | None:
    if isinstance(value, type(sys)):
        return value.__name__
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else None


def _import_from(pkg: Object) -> None:
    """Import ``pkg`` from the folder griffe read it from (not an installed copy elsewhere)."""
    src = str(Path(str(pkg.filepath)).parent.parent)
    if src not in sys.path:
        sys.path.insert(0, src)
    module = importlib.import_module(pkg.path)
    if Path(str(module.__file__)).resolve() != Path(str(pkg.filepath)).resolve():
        raise RuntimeError(f"{pkg.path} imports from {module.__file__}, not {pkg.filepath}")


def _runtime_exports(pkg: Object) -> None:
    """Set each public module's exports to its runtime ``__all__``, adding lazy names."""
    _import_from(pkg)
    for obj in _walk(pkg):
        if not obj.is_module or any(p.startswith("_") for p in obj.path.split(".")):
            continue
        module = importlib.import_module(obj.path)
        names = getattr(module, "__all__", None)
        if names is None:
            continue
        obj.exports = list(names)  # type: ignore[attr-defined]
        for name in [n for n in obj.members if n.startswith("__") and n not in names]:
            obj.del_member(name)  # __all__, __dir__, __getattr__: machinery, not API
        for name in names:
            if name not in obj.members and (target := _origin(getattr(module, name))):
                obj.set_member(name, Alias(name, target, parent=obj))  # type: ignore[arg-type]


class RstDocstrings(Extension):
    """Rewrite every docstring of a loaded package with :func:`to_markdown`, and give each
    public module its runtime ``__all__``."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        _runtime_exports(pkg)
        for obj in list(_walk(pkg)):
            if obj.is_class:
                for name, member in list(obj.members.items()):
                    special = name.startswith("__") and name not in KEEP
                    bare = member.is_attribute and not member.is_alias and not member.docstring
                    if special or bare:
                        obj.del_member(name)
            if obj.docstring is not None:
                obj.docstring.value = to_markdown(obj.docstring.value, _resolver(pkg, obj))
