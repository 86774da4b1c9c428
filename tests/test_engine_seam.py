"""One seam per external system: only ``ssa/engines/`` knows the engines.

Everything else works through the ``Warehouse`` and ``Session`` protocols;
a third engine is then an adapter, not a branch in every task.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from ssa.engines.names import EngineName
from ssa.settings import REPO_ROOT

ENGINE_LIBRARIES = {"sqlite3", "duckdb", "pyspark"}
NAMES = set(get_args(EngineName)) | {"spark"}


def _code_outside_the_seam() -> list[Path]:
    files = [*(REPO_ROOT / "tasks").glob("*.py"), *(REPO_ROOT / "flows").glob("*.py")]
    for path in (REPO_ROOT / "ssa").rglob("*.py"):
        if "engines" not in path.relative_to(REPO_ROOT / "ssa").parts:
            files.append(path)
    return sorted(files)


def _naming(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                a.name for a in node.names if a.name.split(".")[0] in ENGINE_LIBRARIES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in ENGINE_LIBRARIES:
                found.append(node.module)
        elif isinstance(node, ast.Constant) and node.value in NAMES:
            found.append(repr(node.value))
    return found


def test_no_code_outside_the_engines_package_names_an_engine() -> None:
    offenders = {
        str(path.relative_to(REPO_ROOT)): names
        for path in _code_outside_the_seam()
        if (names := _naming(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


def test_the_check_sees_a_branch_on_an_engine() -> None:
    branch = "import duckdb\nif settings.engine == 'duckdb':\n    pass\n"
    assert _naming(ast.parse(branch)) == ["duckdb", "'duckdb'"]
