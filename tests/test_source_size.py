"""Issue 16's structure limits, kept true: no source file over 500 lines and no function over
80 lines of code (its docstring not counted), so modules stay split by concept."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "seqlab"
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from ``def`` to the function's end, less its docstring's lines."""
    total = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        if isinstance(first.value.value, str):
            total -= first.end_lineno - first.lineno + 1
    return total


def test_the_limits_are_measured_as_documented() -> None:
    tree = ast.parse('def f(x):\n    """Doc\n    more."""\n    y = x\n    return y\n')
    assert _code_lines(tree.body[0]) == 3  # def, y = x, return


def test_no_source_file_over_500_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    }
    assert not long, f"split these by concept (see ARCHITECTURE.md): {long}"


def test_no_function_over_80_lines_of_code() -> None:
    long = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if (n := _code_lines(node)) > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = n
    assert not long, f"split these functions: {long}"
