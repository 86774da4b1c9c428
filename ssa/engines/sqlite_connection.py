"""How the SQLite engine opens its file and indexes a model's table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ssa.engines.base import WarehouseError
from ssa.models import Model


def open_connection(path: Path) -> sqlite3.Connection:
    """A connection tuned for bulk analytics, in autocommit mode.

    Opened by URI so that it can attach in-memory scratch databases (the
    sliced build). WAL lets readers (the Silver slices, a watcher, a
    notebook) go on while one writer commits.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            path.resolve().as_uri(),
            uri=True,
            timeout=60,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute("pragma journal_mode = wal")
    except sqlite3.Error as exc:
        raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc
    conn.execute("pragma synchronous = normal")
    # The WAL is copied into the database file when the last connection
    # closes and at the end of every refresh (checkpoint()), not at every
    # commit: a drop's refresh commits many index pages, and checkpointing
    # them at each commit would delay the dashboards.
    conn.execute("pragma wal_autocheckpoint = 0")
    conn.execute("pragma temp_store = memory")
    conn.execute("pragma cache_size = -262144")  # 256 MiB
    return conn


def shadow_view(table: str, where: str | None = None, hint: str = "") -> str:
    """The statement that makes unqualified ``table`` mean only its rows
    matching ``where`` (all, without one) on this connection, read with the
    SQLite ``hint`` (such as NOT INDEXED): SQLite resolves an unqualified
    name to the temp schema first, so a model's unchanged SQL reads the view."""
    keep = f" where {where}" if where is not None else ""
    return f"create temp view {table} as select * from main.{table} {hint}{keep}"


def create_indexes(conn: sqlite3.Connection, model: Model) -> None:
    """The indexes the model's entry lists (``ssa.models``), on its table."""
    for columns in model.indexes:
        conn.execute(
            f"create index if not exists {model.table}_{'_'.join(columns)} "
            f"on {model.table} ({', '.join(columns)})"
        )
