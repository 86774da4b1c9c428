"""SQLite's export of a whole table as CSV, fast enough for millions of rows.

The same cells as ``exports.write_csv`` without building a frame: SQLite
formats each row as one CSV line and Python only writes the lines, from one
connection per core.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from itertools import pairwise
from pathlib import Path

from ssa.engines.base import TableCsv, WarehouseError, export_columns
from ssa.local_time import utc_suffix

# The spreadsheet rules of ssa.report.exports as SQLite GLOB patterns: a cell that
# starts a formula, and one that needs CSV quoting.
_GLOB_FORMULA = "[-=+@\t\r]*"
_GLOB_NEEDS_QUOTES = '*[,"\n\r]*'


def write_table_csv(
    db_path: Path,
    table: str,
    path: Path,
    layout: TableCsv,
    workers: int | None = None,
) -> int:
    """Export a whole warehouse table as CSV, fast enough for millions of rows.

    The same cells as ``write_csv`` without building a frame: SQLite formats
    each row as one CSV line (ISO-8601 local times, text cells sheet-safe and
    quoted where needed, numbers as SQLite prints them, 15 significant
    digits, as ``sqlite3 -csv`` does) and Python only writes the lines. The
    rows are split into ranges of the first ``order_by`` column (numeric,
    e.g. epoch seconds), one connection each: SQLite releases the GIL while
    it formats, so the ranges use all cores. ``iso_times`` maps each new
    column to the epoch column it is written before. The file is replaced
    atomically.
    """
    order_by = layout.order_by
    with closing(sqlite3.connect(db_path, timeout=60)) as conn:
        columns = [row[1] for row in conn.execute(f"pragma table_info({table})")]
        if not columns:
            raise WarehouseError(f"no table {table} in {db_path}")
        total, low, high = conn.execute(
            f"select count(*), min({order_by[0]}), max({order_by[0]}) from {table}"
        ).fetchone()
    shown = export_columns(columns, layout.iso_times)
    header = [name for name, _ in shown]
    cells = [_iso_cell(epoch) if epoch else _safe_cell(name) for name, epoch in shown]
    line = f"printf('{','.join(['%s'] * len(cells))}', {', '.join(cells)})"
    select = (
        f"select {line} from {table} "
        f"where {order_by[0]} >= :low and {order_by[0]} < :high "
        f"order by {', '.join(order_by)}"
    )
    params = {
        "formula": _GLOB_FORMULA,
        "needs_quotes": _GLOB_NEEDS_QUOTES,
        "utc_offset_seconds": layout.utc_offset_seconds,
        "utc_suffix": utc_suffix(layout.utc_offset_seconds),
    }
    ranges = _ranges(low, high, workers or os.cpu_count() or 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    parts = [tmp] + [
        path.with_name(f".{path.name}.part{i}") for i in range(1, len(ranges))
    ]
    try:
        tmp.write_text(",".join(header) + "\n", encoding="utf-8")
        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            runs = [
                pool.submit(_write_lines, db_path, select, {**params, **bounds}, part)
                for part, bounds in zip(parts, ranges, strict=True)
            ]
            rows = sum(run.result() for run in runs)
        if rows != total:
            raise WarehouseError(
                f"{table}: {total - rows} rows have no {order_by[0]}; cannot export"
            )
        with tmp.open("ab") as out:
            for part in parts[1:]:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 24)
        os.replace(tmp, path)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    return rows


def _safe_cell(column: str) -> str:
    """SQL for one CSV cell: text sheet-safe, quoted if needed; NULL empty."""
    safe = f"case when {column} glob :formula then '''' || {column} else {column} end"
    return (
        f"case when typeof({column}) <> 'text' then {column} "
        f"when {column} glob :needs_quotes "
        f"""then '"' || replace({safe}, '"', '""') || '"' """
        f"else {safe} end"
    )


def _iso_cell(epoch_column: str) -> str:
    return (
        "strftime('%Y-%m-%dT%H:%M:%S', "
        f"{epoch_column} + :utc_offset_seconds, 'unixepoch') || :utc_suffix"
    )


def _ranges(low: float | None, high: float | None, n: int) -> list[dict]:
    """n half-open ranges covering [low, high] (one if that is too narrow)."""
    if low is None or high is None:
        return [{"low": 0, "high": 0}]
    if n <= 1 or high - low < n:
        return [{"low": low, "high": high + 1}]
    edges = [low + (high - low) * i // n for i in range(n)] + [high + 1]
    return [{"low": a, "high": b} for a, b in pairwise(edges)]


def _write_lines(db_path: Path, select: str, params: dict, part: Path) -> int:
    rows = 0
    with (
        closing(sqlite3.connect(db_path, timeout=60, check_same_thread=False)) as conn,
        part.open("a", encoding="utf-8", newline="") as f,
    ):
        cursor = conn.execute(select, params)
        while batch := cursor.fetchmany(20_000):
            f.write("\n".join([row[0] for row in batch]))
            f.write("\n")
            rows += len(batch)
    return rows
