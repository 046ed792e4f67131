"""An mkdocs hook that writes the API reference: one page per public package of seqlab.

The pages are generated at build time, so a new public module or name appears without
editing anything here. A page holds its package's ``__all__`` (``::: seqlab.text``), then
each public module inside the package (any depth; a name starting with ``_`` anywhere in
the path makes a module private, as in ``tests/test_public_api.py``) with its docstring and
the names of its ``__all__`` that no package exports already, so that each object is
documented once, where users import it from. The top-level modules (``seqlab.runs``,
``seqlab.loading``, ...) go on the ``seqlab`` page. ``reference/index.md`` lists the pages
with the first line of each package's docstring.

mkdocs.yml loads it (``hooks: [docs/_ext/reference.py]``) and names the place of the section
in the nav with an entry ``API reference: reference/index.md``; the hook replaces that entry
by the section.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

__all__ = ["on_config", "on_files", "reference_pages"]

PACKAGE = "seqlab"
NAV_TITLE = "API reference"
INDEX = "reference/index.md"
# Pages in the order of the data flow (ARCHITECTURE.md); packages not named here follow.
ORDER = [PACKAGE, "text", "data", "datasets", "embeddings", "models", "training", "lm"]
ORDER += ["generation", "series", "serve", "cli"]

_pages: dict[str, str] = {}


def _public_modules(src: Path) -> list[str]:
    names = []
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not any(part.startswith("_") for part in parts):
            names.append(".".join(parts))
    return names


def _origin(value: Any) -> str | None:
    if isinstance(value, ModuleType):
        return value.__name__
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else None


def _exports(module: ModuleType) -> list[str]:
    return list(getattr(module, "__all__", []))


def _summary(module: ModuleType) -> str:
    """The first sentence of a module's docstring, its roles as plain code."""
    paragraph = " ".join((module.__doc__ or "").strip().split("\n\n")[0].split())
    paragraph = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", paragraph)
    return re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise PluginError(
            f"the API reference imports every public module, and {name} failed: {exc}; "
            "install the package (the docs extra has FastAPI and uvicorn), or import an "
            "optional dependency inside the function that needs it (ARCHITECTURE.md)"
        ) from exc


def _page_of(name: str, packages: set[str]) -> str:
    parts = name.split(".")
    if len(parts) == 1 or ".".join(parts[:2]) not in packages:
        return PACKAGE
    return parts[1]


def _module_block(name: str, members: list[str] | None) -> str:
    listed = "false" if members is not None and not members else members
    options = ["    options:", "      heading_level: 3", "      show_root_heading: true"]
    options += ["      show_root_full_path: true"]
    if listed is not None:
        options.append(f"      members: {listed if listed == 'false' else list(listed)}")
    return "\n".join([f"::: {name}", *options])


def reference_pages(src: Path) -> dict[str, str]:
    """Markdown of the reference pages, ``{"reference/text.md": "# seqlab.text ...", ...}``.

    >>> pages = reference_pages(Path("src"))  # doctest: +SKIP
    >>> pages["reference/text.md"].splitlines()[0]  # doctest: +SKIP
    '# `seqlab.text`'
    """
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    names = _public_modules(src)
    modules = {name: _import(name) for name in names}
    packages = {n for n in names if (src / n.replace(".", "/") / "__init__.py").is_file()}
    # What the packages export: each object is shown there, not again in its module.
    exported = {
        pkg: {o for n in _exports(modules[pkg]) if (o := _origin(getattr(modules[pkg], n)))}
        for pkg in packages
    }
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(_page_of(name, packages), []).append(name)
    order = [p for p in ORDER if p in groups] + sorted(set(groups) - set(ORDER))
    pages = {}
    rows = ["# API reference", "", "Generated from the docstrings at every build. Each page"]
    rows += ["shows what a package exports (its `__all__`), then its public modules.", ""]
    rows += ["| page | what |", "| --- | --- |"]
    for page in order:
        top = PACKAGE if page == PACKAGE else f"{PACKAGE}.{page}"
        parts = [f"# `{top}`", "", f"::: {top}", "    options:", "      show_root_heading: false"]
        inner = [n for n in groups[page] if n != top]
        if inner:
            parts += ["", "## Modules"]
        for name in inner:
            module = modules[name]
            parent = modules[name.rsplit(".", 1)[0]]
            elsewhere = set().union(*(v for k, v in exported.items() if k != name))
            members = [
                n
                for n in _exports(module)
                if _origin(getattr(module, n)) not in elsewhere
                and not (n in _exports(parent) and getattr(parent, n) is getattr(module, n))
            ]
            parts += ["", _module_block(name, members)]
        pages[f"reference/{page}.md"] = "\n".join(parts) + "\n"
        rows.append(f"| [`{top}`]({page}.md) | {_summary(modules[top])} |")
    pages[INDEX] = "\n".join(rows) + "\n"
    return pages


def _title(uri: str) -> str:
    stem = Path(uri).stem
    return PACKAGE if stem == PACKAGE else f"{PACKAGE}.{stem}"


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    src = Path(str(config.config_file_path)).parent / "src"
    _pages.clear()
    _pages.update(reference_pages(src))
    section = [{"Overview": INDEX}]
    section += [{_title(p): p} for p in _pages if p != INDEX]
    nav = config.nav or []
    for i, entry in enumerate(nav):
        if isinstance(entry, dict) and entry.get(NAV_TITLE) == INDEX:
            nav[i] = {NAV_TITLE: section}
            break
    else:
        raise PluginError(f"mkdocs.yml: the nav needs an entry '{NAV_TITLE}: {INDEX}' (the hook)")
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for uri, content in _pages.items():
        files.append(File.generated(config, uri, content=content))
    return files
