"""The package's import graph: no cycles, no upward imports, every package imports alone.

The graph is read from the source with ``ast`` (nothing is imported): module-level imports
(including those in class bodies and in module-level ``if`` / ``try`` blocks, but not under
``if TYPE_CHECKING:``) and function-level ones, plus ``importlib.import_module("seqlab...")``
calls with a literal name. Importing ``seqlab.a.b`` also runs ``seqlab/a/__init__.py``, so an
import of a submodule counts as an import of each package above it too, except the
importer's own packages (already being imported when it runs).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "seqlab"

# Top of the house: nothing below these imports them (see DESIGN.md, "The shape of the house").
TOP_LAYER = ("seqlab.cli", "seqlab.serve")
# The run-folder format sits below training: training calls runs, never the reverse.
BELOW_TRAINING = ("seqlab.runs", "seqlab.runfolder")
# Function-level imports allowed to close a cycle, each with its reason. Everything else
# must be acyclic even counting function-level imports: a lazy import is for an optional or
# heavy dependency (torch, matplotlib, FastAPI), never to dodge a cycle.
ALLOWED_DEFERRED: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _all_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _all_modules()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_relative(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not MODULES[module].name == "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, node: ast.AST) -> Iterator[str]:
    """The seqlab modules that the import statement (or import_module call) ``node`` runs."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _resolve_relative(module, node)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            # `from pkg import sub` imports the submodule; `from pkg import name` only pkg.
            names.append(sub if sub in MODULES else base)
    elif isinstance(node, ast.Call):
        names = [node.args[0].value]  # type: ignore[attr-defined]
    own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
    for name in names:
        if not _within(name, "seqlab"):
            continue
        while name not in MODULES and "." in name:  # `import seqlab.a.Name` (not a module)
            name = name.rsplit(".", 1)[0]
        parts = name.split(".")
        for i in range(2, len(parts)):  # the packages above the target are imported too
            parent = ".".join(parts[:i])
            if parent not in own:
                yield parent
        if name != module:
            yield name


def _is_import_module_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and node.args):
        return False
    func, arg = node.func, node.args[0]
    called = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module"
    )
    return called and isinstance(arg, ast.Constant) and isinstance(arg.value, str)


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(module-level imports, function-level imports) of ``module``, as seqlab module names."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    top: set[str] = set()
    deferred: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, in_function)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)) or _is_import_module_call(node):
            (deferred if in_function else top).update(_targets(module, node))
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return top, deferred


GRAPH = {m: _imports(m) for m in MODULES}


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``edges`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := dfs(start)):
            return found
    return None


def test_imports_graph_is_read_from_every_module():
    # The parser sees both kinds of import (guards the other tests against passing vacuously).
    assert len(MODULES) > 50
    top, deferred = GRAPH["seqlab.training.trainer"]
    assert "seqlab.runs" in top and "seqlab.training.callbacks" in top
    assert "seqlab.series.plots" in GRAPH["seqlab.series.experiments"][1]
    assert "seqlab.serve.app" in GRAPH["seqlab.serve"][1]  # importlib.import_module("...")


def test_imports_find_cycle_reports_the_path():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_imports_no_cycle_among_module_level_imports():
    cycle = _find_cycle({m: top for m, (top, _) in GRAPH.items()})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_no_cycle_even_through_function_level_imports():
    edges = {m: set(top | deferred) for m, (top, deferred) in GRAPH.items()}
    for importer, target in ALLOWED_DEFERRED:
        assert target in GRAPH[importer][1], f"stale ALLOWED_DEFERRED entry {importer} -> {target}"
        edges[importer].discard(target)
    cycle = _find_cycle(edges)
    assert cycle is None, "import cycle through a lazy import: " + " -> ".join(cycle or [])


def _upward_imports() -> list[str]:
    bad = []
    for module, (top, deferred) in sorted(GRAPH.items()):
        for target in sorted(top | deferred):
            for layer in TOP_LAYER:
                if _within(target, layer) and not any(_within(module, t) for t in TOP_LAYER):
                    bad.append(f"{module} imports {target} ({layer} is the top layer)")
            if any(_within(module, low) for low in BELOW_TRAINING) and _within(
                target, "seqlab.training"
            ):
                bad.append(f"{module} imports {target} (run folders sit below training)")
    return bad


def test_imports_nothing_imports_upward():
    bad = _upward_imports()
    assert not bad, "upward imports:\n" + "\n".join(bad)


PUBLIC_PACKAGES = sorted(
    m
    for m, p in MODULES.items()
    if p.name == "__init__.py" and not any(part.startswith("_") for part in m.split("."))
)


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_imports_each_package_imports_alone(package: str):
    if package == "seqlab.serve":
        pytest.importorskip("fastapi")
    # One interpreter per package; each module is imported with no other seqlab module loaded
    # (torch and the like stay cached, so this is cheap): an import that works only after
    # another seqlab import, or only through a cycle, fails here.
    code = (
        "import importlib, pkgutil, sys\n"
        "def fresh(name):\n"
        "    for loaded in [m for m in sys.modules if m == 'seqlab' or m.startswith('seqlab.')]:\n"
        "        del sys.modules[loaded]\n"
        "    return importlib.import_module(name)\n"
        f"pkg = fresh({package!r})\n"
        "for m in pkgutil.iter_modules(pkg.__path__):\n"
        "    if not m.name.startswith('_'):\n"
        "        fresh(f'{pkg.__name__}.{m.name}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
