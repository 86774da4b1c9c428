"""The SQLite warehouse: connections, the SQL-file runner and bulk loads.

Models are plain ``select`` files under ``sql/``; the runner materialises a
file as the table named after it (dbt style) and binds only the parameters
the file mentions, so a threshold is never formatted into SQL text.

Per-customer models (Silver) can also be rebuilt in slices of customers on
several connections at once, or only for the customers a new batch touched:
see ``refresh_by_customer``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssa.settings import SQL_DIR

PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

# Rows converted to Python values at a time during a bulk load: bounds the
# memory of a load to one chunk of Python objects, whatever the batch size.
LOAD_CHUNK_ROWS = 100_000
# From this many rows a load builds the table's secondary indexes afresh.
BULK_LOAD_ROWS = 100_000
# The table the per-customer models read; refresh_by_customer shadows it.
SOURCE_TABLE = "bronze_transactions"


class WarehouseError(RuntimeError):
    """The warehouse file or a model is unusable; the message says which."""


def sql_text(relative: str) -> str:
    """The text of ``sql/<relative>``."""
    path = SQL_DIR / relative
    if not path.exists():
        raise WarehouseError(f"SQL file not found: {path}")
    return path.read_text(encoding="utf-8")


def bind(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of params the SQL names; a missing one is an error."""
    wanted = set(PARAM.findall(strip_comments(sql)))
    missing = wanted - params.keys()
    if missing:
        raise WarehouseError(f"SQL parameters without a value: {sorted(missing)}")
    return {k: params[k] for k in wanted}


def strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def _open(path: Path) -> sqlite3.Connection:
    """A connection tuned for bulk analytics, in autocommit mode.

    Opened by URI so that it can attach the in-memory scratch databases of
    ``refresh_by_customer``. WAL lets readers (the Silver slices, a watcher,
    a notebook) go on while one writer commits.
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
    # commit: a drop's refresh commits some 100 MB of index pages, and
    # checkpointing them at each commit cost ~1 s on the way to the
    # dashboards.
    conn.execute("pragma wal_autocheckpoint = 0")
    conn.execute("pragma temp_store = memory")
    conn.execute("pragma cache_size = -262144")  # 256 MiB
    return conn


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction on the warehouse: commits or rolls back as one."""
    conn = _open(path)
    try:
        conn.execute("begin immediate")
        yield conn
        conn.execute("commit")
    except BaseException:
        if conn.in_transaction:
            conn.execute("rollback")
        raise
    finally:
        conn.close()


@contextmanager
def autocommit(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection where each statement is its own transaction: it holds no
    lock between statements (``materialize_aside`` takes the writer lock
    only for its copy)."""
    with closing(_open(path)) as conn:
        yield conn


def checkpoint(path: Path) -> tuple[int, int, int]:
    """Copy the WAL into the database file as far as readers allow, without
    waiting for them; SQLite's (busy, WAL pages, pages copied)."""
    with closing(_open(path)) as conn:
        return conn.execute("pragma wal_checkpoint(passive)").fetchone()


def hold_open(path: Path) -> sqlite3.Connection:
    """An idle connection for a long-running process (the watcher) to keep:
    while one is open, closing the others does not checkpoint the WAL (SQLite
    does that when the last connection closes), so each step of a refresh
    does not pay for the one before; the refresh ends with checkpoint()."""
    return _open(path)


def apply_schema(conn: sqlite3.Connection) -> None:
    """Create the Bronze tables if they are not there yet, and bring a
    warehouse made by an earlier version up to the current schema."""
    outdated = _outdated_columns(conn)
    if outdated:
        _set_aside(conn, "bronze_transactions", "bronze_transactions_outdated")
    for statement in statements(sql_text("bronze/schema.sql")):
        conn.execute(statement)
    if outdated:
        old_columns = ", ".join(_columns(conn, "bronze_transactions_outdated"))
        conn.execute(
            f"insert into bronze_transactions ({old_columns}) "
            f"select {old_columns} from bronze_transactions_outdated"
        )
        conn.execute("drop table bronze_transactions_outdated")
    for table, column, kind in added_columns(lambda t: _columns(conn, t)):
        conn.execute(f"alter table {table} add column {column} {kind}")


def added_columns(
    existing: Callable[[str], list[str]],
) -> list[tuple[str, str, str]]:
    """Columns the Bronze DDL declares that a table made by an earlier version
    lacks, with their types: (table, column, type). New columns are always
    nullable, so adding them keeps every stored row as it was. The DDL file
    stays the one description of the schema: it is read here by building it
    in a scratch in-memory database."""
    with closing(sqlite3.connect(":memory:")) as scratch:
        for statement in statements(sql_text("bronze/schema.sql")):
            scratch.execute(statement)
        tables = [
            row[0]
            for row in scratch.execute(
                "select name from sqlite_master where type = 'table'"
            )
        ]
        out = []
        for table in tables:
            have = set(existing(table))
            if not have:
                continue
            for _, name, kind, *_ in scratch.execute(f"pragma table_info({table})"):
                if name not in have:
                    out.append((table, name, kind))
    return out


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"pragma table_info({table})")]


# Columns earlier versions declared NOT NULL and a CSV drop may now leave
# empty (they used to get a guessed default; rules must not judge on one).
_NOW_NULLABLE = ("payer_type", "auth_status")


def _outdated_columns(conn: sqlite3.Connection) -> list[str]:
    columns = conn.execute("pragma table_info(bronze_transactions)").fetchall()
    return [c[1] for c in columns if c[1] in _NOW_NULLABLE and c[3]]


def _set_aside(conn: sqlite3.Connection, table: str, new_name: str) -> None:
    """Rename a table out of the way, its indexes dropped (their names are
    the new table's), for SQLite's copy-and-swap way of changing columns."""
    _drop_secondary_indexes(conn, table)
    conn.execute(f"alter table {table} rename to {new_name}")


def _drop_secondary_indexes(conn: sqlite3.Connection, table: str) -> list[str]:
    """Drop the table's own indexes (not those of its primary key or unique
    constraints) and return the SQL that creates them again."""
    indexes = conn.execute(
        "select name, sql from sqlite_master "
        "where type = 'index' and tbl_name = ? and sql is not null",
        (table,),
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'drop index "{name}"')
    return [sql for _, sql in indexes]


def statements(script: str) -> list[str]:
    return [s.strip() for s in strip_comments(script).split(";") if s.strip()]


def model_sql(model: str) -> tuple[str, str]:
    """(table, select) of ``sql/<model>.sql``: the table is named after the
    file, and must be a plain identifier to go into SQL text."""
    table = Path(model).stem
    check_identifier(table)
    return table, sql_text(f"{model}.sql")


def materialize(conn: sqlite3.Connection, model: str, params: Mapping[str, Any]) -> int:
    """Rebuild the table named after ``sql/<model>.sql`` and count its rows."""
    table, select = model_sql(model)
    conn.execute(f"drop table if exists {table}")
    try:
        conn.execute(f"create table {table} as {select}", bind(select, params))
    except sqlite3.Error as exc:
        raise WarehouseError(f"model {model}.sql failed: {exc}") from exc
    return conn.execute(f"select count(*) from {table}").fetchone()[0]


def materialize_aside(
    conn: sqlite3.Connection, model: str, params: Mapping[str, Any]
) -> int:
    """``materialize``, holding the warehouse's writer lock only to copy.

    The select runs into a private in-memory database (reading the
    warehouse, which WAL never blocks), then one short write transaction
    swaps the table in: models that do not read each other can build at
    the same time on their own connections.
    """
    table, select = model_sql(model)
    scratch = f"file:/ssa-{uuid.uuid4().hex[:12]}-aside?vfs=memdb"
    conn.execute("attach database ? as aside", (scratch,))
    try:
        try:
            conn.execute(
                f"create table aside.{table} as {select}", bind(select, params)
            )
        except sqlite3.Error as exc:
            raise WarehouseError(f"model {model}.sql failed: {exc}") from exc
        return _swap_in(conn, table, ["aside"])
    finally:
        if conn.in_transaction:
            conn.execute("rollback")
        conn.execute("detach database aside")


# --- Bulk load ------------------------------------------------------------


def insert_new(
    conn: sqlite3.Connection, table: str, key: str, frame: pd.DataFrame
) -> int:
    """Append the rows of frame whose key is not in table yet; count them.

    A key already in the table is skipped (re-running a batch adds nothing);
    a key repeated inside the batch is an error naming the rows, never a
    silent drop. Rows go in as given: the generator hands Bronze over in
    customer, then time order, the order the Silver windows read it.
    """
    if frame.empty:
        return 0
    check_insert(table, key, frame)
    insert = sql_text("bronze/insert_new_rows.sql").format(
        table=table,
        key=key,
        columns=", ".join(frame.columns),
        marks=", ".join("?" for _ in frame.columns),
    )
    before = conn.total_changes
    with _indexes_deferred(conn, table, len(frame)):
        for start in range(0, len(frame), LOAD_CHUNK_ROWS):
            conn.executemany(insert, _rows(frame.iloc[start : start + LOAD_CHUNK_ROWS]))
    return conn.total_changes - before


@contextmanager
def _indexes_deferred(
    conn: sqlite3.Connection, table: str, rows: int
) -> Iterator[None]:
    """For a bulk load, drop the table's secondary indexes and build them
    again afterwards, inside the caller's transaction.

    Kept up row by row, each index costs a b-tree insert per row; built at
    the end it is one sort (Bronze on 1M rows with its four indexes: 11.2 s
    against 9.3 s). Small loads (a CSV drop) keep them. Primary keys and
    unique constraints stay: they are what skips known keys.
    """
    if rows < BULK_LOAD_ROWS:
        yield
        return
    recreate = _drop_secondary_indexes(conn, table)
    try:
        yield
    finally:
        for sql in recreate:
            conn.execute(sql)


def check_insert(table: str, key: str, frame: pd.DataFrame) -> None:
    """Plain identifiers, and no key twice in the batch: an error naming the
    rows, never a silent drop."""
    for name in (table, key, *frame.columns):
        check_identifier(name)
    repeated = frame[key].duplicated(keep=False)
    if repeated.any():
        rows = frame.index[repeated.to_numpy()][:6].tolist()
        keys = frame.loc[repeated, key].unique()[:3].tolist()
        raise WarehouseError(
            f"{table}: {key} repeated inside one batch ({int(repeated.sum())} "
            f"rows, e.g. {keys} at rows {rows}); fix the source, nothing was loaded"
        )


def _rows(frame: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """Plain Python values (None for missing) that sqlite3 can bind."""
    columns = []
    for name in frame.columns:
        col = frame[name]
        # Plain numpy ints and bools cannot be missing; pandas' nullable
        # Int64 (kind "i" too) can, and its NA must become None.
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iub":
            columns.append(col.tolist())
        else:
            columns.append(col.to_numpy(dtype=object, na_value=None).tolist())
    return zip(*columns, strict=True)


# --- Per-customer models in slices -----------------------------------------


def refresh_by_customer(
    path: Path,
    model: str,
    params: Mapping[str, Any],
    workers: int | None = None,
) -> int:
    """Rebuild a per-customer model whole, in slices of customers on all cores.

    The model reads ``bronze_transactions`` by its unqualified name and keeps
    each customer's rows apart (windows partitioned by customer), so its
    rows for a set of customers depend on those customers' Bronze rows only.
    Each worker connection shadows ``bronze_transactions`` with a TEMP view
    of one slice of customers (temp names win over main for unqualified
    names), runs the unchanged SQL into a private in-memory database, and
    one short write transaction puts the slices into a new table. Python's
    sqlite3 releases the GIL while a statement runs, so slices use all
    cores. (Refreshing only some partitions is ssa/refresh.py's job.)

    Returns the number of rows written.
    """
    table, select = model_sql(model)
    bound = bind(select, params)
    workers = workers or os.cpu_count() or 1
    with closing(_open(path)) as main:
        require_bronze(main, path)
        slices = _slices(main, workers)
        return _refresh(main, path, model, table, select, bound, slices)


def _refresh(
    main: sqlite3.Connection,
    path: Path,
    model: str,
    table: str,
    select: str,
    bound: dict[str, Any],
    slices: list[list[str]],
) -> int:
    tag = uuid.uuid4().hex[:12]
    names = [f"slice_{i}" for i in range(len(slices))]
    attached: list[str] = []
    try:
        # The main connection holds every scratch database open, so each
        # lives until the swap, after its worker has closed.
        for name, ids in zip(names, slices, strict=True):
            main.execute(
                "attach database ? as ?", (f"file:/ssa-{tag}-{name}?vfs=memdb", name)
            )
            attached.append(name)
            main.execute(
                f"create table {name}.slice_customers "
                "(customer_id varchar(32) not null primary key)"
            )
            main.executemany(
                f"insert into {name}.slice_customers values (?)", ((c,) for c in ids)
            )
        uris = [f"file:/ssa-{tag}-{name}?vfs=memdb" for name in names]
        with ThreadPoolExecutor(max_workers=len(uris)) as pool:
            runs = [
                pool.submit(_run_slice, path, uri, model, table, select, bound)
                for uri in uris
            ]
            for run in runs:
                run.result()
        return _swap_in(main, table, names)
    finally:
        if main.in_transaction:
            main.execute("rollback")
        for name in attached:
            main.execute(f"detach database {name}")


def _slices(conn: sqlite3.Connection, workers: int) -> list[list[str]]:
    """Customers in contiguous id ranges with about the same rows each."""
    counts = conn.execute(
        f"select customer_id, count(*) from {SOURCE_TABLE} "
        "group by customer_id order by customer_id"
    ).fetchall()
    if not counts:
        return [[]]
    total = sum(n for _, n in counts)
    k = max(1, min(workers, len(counts)))
    slices: list[list[str]] = [[] for _ in range(k)]
    seen = 0
    for customer, n in counts:
        slices[min(k - 1, seen * k // total)].append(customer)
        seen += n
    return [s for s in slices if s] or [[]]


def _run_slice(
    path: Path, uri: str, model: str, table: str, select: str, bound: dict
) -> None:
    with closing(_open(path)) as conn:
        conn.execute("pragma cache_size = -65536")  # 64 MiB: it reads each page once
        conn.execute("attach database ? as slice", (uri,))
        conn.execute(
            f"create temp view {SOURCE_TABLE} as "
            f"select * from main.{SOURCE_TABLE} "
            "where customer_id in (select customer_id from slice.slice_customers)"
        )
        try:
            conn.execute(f"create table slice.{table} as {select}", bound)
        except sqlite3.Error as exc:
            raise WarehouseError(f"model {model}.sql failed: {exc}") from exc


def _swap_in(conn: sqlite3.Connection, table: str, names: list[str]) -> int:
    conn.execute("begin immediate")
    conn.execute(f"drop table if exists main.{table}")
    # Same column types as the slices, so the copies below are SQLite's raw
    # record transfer, not a decode and re-encode of every value.
    conn.execute(
        f"create table main.{table} as select * from {names[0]}.{table} where 0"
    )
    before = conn.total_changes
    for name in names:
        conn.execute(f"insert into main.{table} select * from {name}.{table}")
    written = conn.total_changes - before
    conn.execute("commit")
    return written


# --- Reading ----------------------------------------------------------------


def query(
    conn: sqlite3.Connection, relative: str, params: Mapping[str, Any]
) -> pd.DataFrame:
    """Run ``sql/<relative>`` (a select) and return its rows."""
    sql = sql_text(relative)
    try:
        return pd.read_sql_query(sql, conn, params=bind(sql, params))
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise WarehouseError(f"query {relative} failed: {exc}") from exc


def query_numeric(
    conn: sqlite3.Connection,
    relative: str,
    params: Mapping[str, Any],
    text_columns: tuple[str, ...],
) -> pd.DataFrame:
    """Run ``sql/<relative>``; ``text_columns`` as text, every other column as
    float64 with NULL as NaN.

    For wide numeric reads (the risk model's features of every row): pandas'
    ``read_sql_query`` infers each column's type value by value and took
    three times as long as this on a million rows of forty features.
    """
    sql = sql_text(relative)
    try:
        cursor = conn.execute(sql, bind(sql, params))
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        raise WarehouseError(f"query {relative} failed: {exc}") from exc
    names = [d[0] for d in cursor.description]
    return _numeric_frame(rows, names, text_columns, relative)


def query_numeric_chunks(
    conn: sqlite3.Connection,
    relative: str,
    params: Mapping[str, Any],
    text_columns: tuple[str, ...],
    rows: int,
) -> Iterator[pd.DataFrame]:
    """``query_numeric`` in frames of at most ``rows`` rows, read as they are
    consumed: a caller can work on one (the risk model scoring, which lets
    go of the GIL) while the next is read, and never holds every row's
    Python objects at once."""
    sql = sql_text(relative)
    try:
        cursor = conn.execute(sql, bind(sql, params))
        names = [d[0] for d in cursor.description]
        while chunk := cursor.fetchmany(rows):
            yield _numeric_frame(chunk, names, text_columns, relative)
    except sqlite3.Error as exc:
        raise WarehouseError(f"query {relative} failed: {exc}") from exc


def _numeric_frame(
    rows: list[tuple[Any, ...]],
    names: list[str],
    text_columns: tuple[str, ...],
    relative: str,
) -> pd.DataFrame:
    cells = np.array(rows, dtype=object).reshape(len(rows), len(names))
    del rows
    columns: dict[str, Any] = {}
    for i, name in enumerate(names):
        column = cells[:, i]
        if name in text_columns:
            columns[name] = column
            continue
        missing = np.equal(column, None)
        if missing.any():
            column = column.copy()
            column[missing] = np.nan
        try:
            columns[name] = column.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise WarehouseError(
                f"query {relative}: column {name} is not numeric ({exc})"
            ) from exc
    return pd.DataFrame(columns)


def table_exists(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute(
        "select 1 from sqlite_master where type = 'table' and name = ?", (table,)
    ).fetchone()
    return row is not None


def require_bronze(conn: sqlite3.Connection, path: Path) -> None:
    """Fail with a message a person can act on when there is nothing to refine."""
    if not table_exists(conn, "bronze_transactions"):
        raise WarehouseError(
            f"{path} has no bronze_transactions: run the medallion pipeline "
            "(or drop a CSV) first"
        )


def check_identifier(name: str) -> None:
    if not _IDENT.match(name):
        raise WarehouseError(f"not a plain SQL identifier: {name!r}")


def run_script(
    conn: sqlite3.Connection, relative: str, params: Mapping[str, Any]
) -> int:
    """Run each statement of ``sql/<relative>``; count the rows they changed."""
    before = conn.total_changes
    for statement in statements(sql_text(relative)):
        conn.execute(statement, bind(statement, params))
    return conn.total_changes - before
