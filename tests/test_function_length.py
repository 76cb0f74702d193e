"""No function in the package is over 80 lines (issue 19): a long function is a document or several steps
that want names of their own. Every .py under cylink_deploy/ counts, in subfolders too; a function's lines
run from its ``def`` to its last line, docstring included."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import REPO

PACKAGE = REPO / "cylink_deploy"
LIMIT = 80


def long_functions(package: Path = PACKAGE) -> dict[str, int]:
    """``path:line name`` -> lines, of every function or method over the limit."""
    out = {}
    files = sorted(package.rglob("*.py"))
    assert len(files) > 30, f"only {len(files)} files under {package}"
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LIMIT:
                    out[f"{path.relative_to(package.parent)}:{node.lineno} {node.name}"] = lines
    return out


def test_no_function_is_over_80_lines():
    assert long_functions() == {}, f"functions over {LIMIT} lines (split them)"


def test_a_long_function_in_a_subfolder_is_named(tmp_path):
    import shutil

    copy = tmp_path / "cylink_deploy"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT))
    (copy / "ops" / "probe.py").write_text(f"def long() -> None:\n{body}")
    assert long_functions(copy) == {"cylink_deploy/ops/probe.py:1 long": LIMIT + 1}
