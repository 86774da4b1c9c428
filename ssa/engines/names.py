"""The engines a run may choose, by name: the one list settings and the
adapters share (this module imports nothing, so settings can read it)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

EngineName = Literal["sqlite", "duckdb", "spark"]
DEFAULT_ENGINE: EngineName = "sqlite"

# The warehouse file each engine keeps in its data folder, from the one
# ``paths.warehouse_file`` name: SQLite's is that name, the others' its stem
# with their own suffix.
WAREHOUSE_SUFFIX: dict[str, str] = {"duckdb": ".duckdb"}
# Engines whose warehouse is a folder of the data folder (Spark's local
# server: its tables, log and scratch).
WAREHOUSE_FOLDER: dict[str, str] = {"spark": "spark-warehouse"}

# Where an engine writes when a run gives it no data folder of its own: one
# engine per data folder (all write the same export files), so a DuckDB run
# works beside the default SQLite month in data/.
OWN_DATA_DIR: dict[str, Path] = {
    "duckdb": Path("data") / "duckdb",
    "spark": Path("data") / "spark",
}
