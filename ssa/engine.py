"""The warehouse a run's settings choose: SQLite, DuckDB or Spark.

The modules offer the same functions for what a full run does (connect,
apply_schema, run_script, insert_new, query, require_bronze, table_exists),
so the tasks ask this module for the engine's module and its file, and
branch only where the engines really differ (the Silver build, the big CSV
export, the checkpoint).
"""

from __future__ import annotations

from typing import Any

from ssa import duckdb_warehouse, spark_warehouse, warehouse
from ssa.settings import Settings


def module(settings: Settings) -> Any:
    """``ssa.warehouse`` (SQLite), ``ssa.duckdb_warehouse``, or
    ``ssa.spark_warehouse`` with its connection bound to the run's Spark."""
    if settings.engine == "spark":
        return spark_warehouse.Engine(settings)
    return duckdb_warehouse if settings.engine == "duckdb" else warehouse


def check_data_folder(settings: Settings) -> None:
    """One engine per data folder: all write the same export files there, so
    a run on one would silently replace what the other's warehouse produced
    (a drop refreshed on SQLite would overwrite a DuckDB month's exports)."""
    for other in ("sqlite", "duckdb", "spark"):
        if other == settings.engine:
            continue
        theirs = settings.model_copy(update={"engine": other}).warehouse_path
        if theirs.exists():
            raise warehouse.WarehouseError(
                f"{theirs.parent} already holds the {other} warehouse "
                f"{theirs.name}, whose exports this {settings.engine} run would "
                f"overwrite: give the {settings.engine} run its own --data-dir "
                f"(or remove {theirs.name})"
            )
