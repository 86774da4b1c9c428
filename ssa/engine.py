"""The warehouse a run's settings choose: SQLite or DuckDB.

Both modules offer the same functions for what a full run does (connect,
apply_schema, run_script, insert_new, query, require_bronze, table_exists),
so the tasks ask this module for the engine's module and its file, and
branch only where the engines really differ (the Silver build, the big CSV
export, the checkpoint).
"""

from __future__ import annotations

from types import ModuleType

from ssa import duckdb_warehouse, warehouse
from ssa.settings import Settings


def module(settings: Settings) -> ModuleType:
    """``ssa.warehouse`` (SQLite) or ``ssa.duckdb_warehouse``."""
    return duckdb_warehouse if settings.engine == "duckdb" else warehouse
