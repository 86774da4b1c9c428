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


def check_data_folder(settings: Settings) -> None:
    """One engine per data folder: both write the same export files there, so
    a run on one would silently replace what the other's warehouse produced
    (a drop refreshed on SQLite would overwrite a DuckDB month's exports)."""
    other = "sqlite" if settings.engine == "duckdb" else "duckdb"
    theirs = settings.model_copy(update={"engine": other}).warehouse_path
    if theirs.exists():
        raise warehouse.WarehouseError(
            f"{theirs.parent} already holds the {other} warehouse {theirs.name}, "
            f"whose exports this {settings.engine} run would overwrite: give the "
            f"{settings.engine} run its own --data-dir (or remove {theirs.name})"
        )
