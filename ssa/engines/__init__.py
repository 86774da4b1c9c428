"""The warehouse seam: the one place that knows which engines exist.

A run's settings name an engine; ``open_warehouse`` turns that into a
``Warehouse`` (``base``), and everything else in the project works through
that protocol and its ``Session``. Adding an engine is an adapter module
here and one entry in ``names`` and ``open_warehouse``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ssa.engines.base import (
    Capabilities,
    Session,
    TableCsv,
    Warehouse,
    WarehouseError,
)
from ssa.engines.names import WAREHOUSE_FOLDER, WAREHOUSE_SUFFIX, EngineName

if TYPE_CHECKING:  # settings reads the engine names from this package
    from ssa.settings import Settings

__all__ = [
    "Capabilities",
    "Session",
    "TableCsv",
    "Warehouse",
    "WarehouseError",
    "check_data_folder",
    "engine_in",
    "following_folder",
    "open_warehouse",
]


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse the settings choose (nothing is opened yet)."""
    path = settings.warehouse_path
    if settings.engine == "duckdb":
        from ssa.engines.duckdb_warehouse import DuckDBWarehouse

        return DuckDBWarehouse(
            path,
            memory_limit=settings.engines.duckdb_memory_limit,
            threads=settings.engines.duckdb_threads,
        )
    if settings.engine == "spark":
        from ssa.engines.spark_warehouse import SparkWarehouse

        return SparkWarehouse(
            path,
            settings.engines.spark_remote,
            settings.engines.spark_local,
            settings.engines.spark_schema,
        )
    from ssa.engines.sqlite_warehouse import SQLiteWarehouse

    return SQLiteWarehouse(path)


def _warehouse_files(settings: Settings) -> dict[str, Path]:
    """Each engine's warehouse (file or folder) in the settings' data folder."""
    plain = settings.paths.data_path / settings.paths.warehouse_file
    files = {"sqlite": plain}
    files.update({name: plain.with_suffix(s) for name, s in WAREHOUSE_SUFFIX.items()})
    data = settings.paths.data_path
    files.update({name: data / folder for name, folder in WAREHOUSE_FOLDER.items()})
    return files


def engine_in(settings: Settings) -> EngineName | None:
    """The engine whose warehouse the settings' data folder holds, if one
    does: the watcher and a one-shot ingest follow the folder's warehouse
    unless told otherwise."""
    found = [name for name, f in _warehouse_files(settings).items() if f.exists()]
    return found[0] if len(found) == 1 else None  # type: ignore[return-value]


def following_folder(settings: Settings) -> Settings:
    """The settings with the engine of the warehouse their data folder holds
    (when it holds one and it is another engine's): what adds to a folder
    (an ingest, the watcher, the refresh after a drop) follows it."""
    found = engine_in(settings)
    if found is None or found == settings.engine:
        return settings
    return settings.model_copy(update={"engine": found})


def check_data_folder(settings: Settings) -> None:
    """One engine per data folder: all write the same export files there, so
    a run on one would silently replace what another's warehouse produced
    (a drop refreshed on SQLite would overwrite a DuckDB month's exports)."""
    for name, theirs in _warehouse_files(settings).items():
        if name != settings.engine and theirs.exists():
            raise WarehouseError(
                f"{theirs.parent} already holds the {name} warehouse {theirs.name}, "
                f"whose exports this {settings.engine} run would overwrite: give the "
                f"{settings.engine} run its own --data-dir (or remove {theirs.name})"
            )
