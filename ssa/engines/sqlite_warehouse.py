"""The SQLite warehouse: one file, no server, several readers beside a writer.

The default engine: Python ships it, a laptop needs nothing else, and its
WAL lets the watcher, a refresh and a notebook open the file at once, so a
drop is loaded by the watcher itself and refreshed incrementally. SQLite
runs a window one row at a time on one core per connection: the full build
runs per-customer models in slices of customers on all cores
(``sqlite_build``), and the big CSV export formats rows in SQL on one
connection per core.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ssa.engines import incremental as refresh
from ssa.engines import sqlite_arrow, sqlite_aside, sqlite_build, sqlite_csv
from ssa.engines.base import (
    Capabilities,
    Progress,
    Scorer,
    TableCsv,
    WarehouseError,
    bind,
    check_identifier,
    check_insert,
    checked_columns,
    model_sql,
    numeric_frame,
    sql_text,
    statements,
)
from ssa.engines.sqlite_connection import (
    create_indexes,
    open_connection,
    shadow_view,
)
from ssa.models import GOLD, Model

# Rows converted to Python values at a time during a bulk load: bounds the
# memory of a load to one chunk of Python objects, whatever the batch size.
LOAD_CHUNK_ROWS = 100_000
# From this many rows a load builds the table's secondary indexes afresh.
BULK_LOAD_ROWS = 100_000
# Rows per Arrow batch of a whole-result read (``query_numeric``).
ARROW_BATCH_ROWS = 100_000
# Columns earlier versions declared NOT NULL and a CSV drop may now leave
# empty (they used to get a guessed default; rules must not judge on one;
# a source with no customer at all leaves customer_id empty).
NOW_NULLABLE = ("payer_type", "auth_status", "customer_id")


class SQLiteSession:
    """One write transaction (``begin immediate``) on the warehouse file."""

    main = "main"  # the schema of the warehouse's own tables

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._begun = self._written()

    def _written(self) -> tuple[int, int]:
        """(rows changed, schema version) so far: what this transaction has
        written since it began, when compared with the values at its start."""
        schema = self.conn.execute("pragma schema_version").fetchone()[0]
        return self.conn.total_changes, schema

    def sees_committed(self) -> bool:
        """Whether another connection on the file reads what this session
        reads: the session holds the write lock from its start (``begin
        immediate``), so nobody else commits in between; it has changed no
        row and no table yet, and no temporary table or view shadows one."""
        if not self.path.is_file() or self._written() != self._begun:
            return False
        temp = self.conn.execute("select count(*) from temp.sqlite_master")
        return temp.fetchone()[0] == 0

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> int:
        before = self.conn.total_changes
        try:
            self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise WarehouseError(f"{self.path}: {exc} in: {sql[:200]}") from exc
        return self.conn.total_changes - before

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        before = self.conn.total_changes
        self.conn.executemany(sql, rows)
        return self.conn.total_changes - before

    def fetchall(
        self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def query(self, relative: str, params: Mapping[str, Any]) -> pd.DataFrame:
        sql = sql_text(relative)
        try:
            return pd.read_sql_query(sql, self.conn, params=bind(sql, params))
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise WarehouseError(f"query {relative} failed: {exc}") from exc

    def query_numeric(
        self,
        relative: str,
        params: Mapping[str, Any],
        text_columns: tuple[str, ...],
    ) -> pd.DataFrame:
        """Read as ``query_numeric_chunks`` reads, in one frame."""
        arrow = self._arrow_batches(relative, params, text_columns, ARROW_BATCH_ROWS)
        if arrow is not None:
            batches = list(arrow)
            if batches:
                return numeric_frame(
                    pa.Table.from_batches(batches), text_columns, relative
                )
        # Built from the cursor's rows: pandas' ``read_sql_query`` infers each
        # column's type value by value, three times as slow on a million rows.
        sql = sql_text(relative)
        try:
            cursor = self.conn.execute(sql, bind(sql, params))
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise WarehouseError(f"query {relative} failed: {exc}") from exc
        names = [d[0] for d in cursor.description]
        return _numeric_frame(rows, names, text_columns, relative)

    def query_numeric_chunks(
        self,
        relative: str,
        params: Mapping[str, Any],
        text_columns: tuple[str, ...],
        rows: int,
    ) -> Iterator[pd.DataFrame]:
        """Column-wise through Arrow (``sqlite_arrow``) where another
        connection sees what this session sees; else (after this session's
        own writes, or inside a shadowing view: scoring a drop's rows) from
        this connection's cursor, a Python object per cell."""
        arrow = self._arrow_batches(relative, params, text_columns, rows)
        if arrow is not None:
            for batch in arrow:
                yield numeric_frame(batch, text_columns, relative)
            return
        sql = sql_text(relative)
        try:
            cursor = self.conn.execute(sql, bind(sql, params))
            names = [d[0] for d in cursor.description]
            while chunk := cursor.fetchmany(rows):
                yield _numeric_frame(chunk, names, text_columns, relative)
        except sqlite3.Error as exc:
            raise WarehouseError(f"query {relative} failed: {exc}") from exc

    def _arrow_batches(
        self,
        relative: str,
        params: Mapping[str, Any],
        text_columns: tuple[str, ...],
        rows: int,
    ) -> Iterator[pa.RecordBatch] | None:
        """The query's Arrow batches, read on a connection of their own; None
        where that connection would not see what this session sees."""
        if not self.sees_committed():
            return None
        sql = sql_text(relative)
        bound = bind(sql, params)
        try:
            # Prepared, not run: the column names for the typed wrapper.
            probe = self.conn.execute(f"select * from ({sql}\n) limit 0", bound)
        except sqlite3.Error as exc:
            raise WarehouseError(f"query {relative} failed: {exc}") from exc
        names = [d[0] for d in probe.description]
        return sqlite_arrow.read_batches(
            self.path, sql, bound, names, text_columns, rows, relative
        )

    def read_table(self, table: str) -> pd.DataFrame:
        check_identifier(table)
        return pd.read_sql_query(f"select * from {table}", self.conn)

    def run_script(self, relative: str, params: Mapping[str, Any]) -> int:
        return sum(
            self.execute(statement, bind(statement, params))
            for statement in statements(sql_text(relative))
        )

    def insert_new(self, table: str, key: str, frame: pd.DataFrame) -> int:
        """Rows go in as given: the generator hands Bronze over in customer,
        then time order, the order the Silver windows read it."""
        if frame.empty:
            return 0
        check_insert(table, key, frame)
        insert = sql_text("bronze/insert_new_rows.sql").format(
            table=table,
            key=key,
            columns=", ".join(frame.columns),
            marks=", ".join("?" for _ in frame.columns),
        )
        written = 0
        with self._indexes_deferred(table, len(frame)):
            for start in range(0, len(frame), LOAD_CHUNK_ROWS):
                chunk = frame.iloc[start : start + LOAD_CHUNK_ROWS]
                written += self.executemany(insert, _rows(chunk))
        return written

    @contextmanager
    def _indexes_deferred(self, table: str, rows: int) -> Iterator[None]:
        """For a bulk load, drop the table's secondary indexes and build them
        again afterwards, inside the transaction.

        Kept up row by row, each index costs a b-tree insert per row; built
        at the end it is one sort. Small loads (a CSV drop) keep them. Primary
        keys and unique constraints stay: they are what skips known keys.
        """
        if rows < BULK_LOAD_ROWS:
            yield
            return
        recreate = self._drop_secondary_indexes(table)
        try:
            yield
        finally:
            for sql in recreate:
                self.conn.execute(sql)

    def stage_rows(self, name: str, like: str, frame: pd.DataFrame) -> None:
        check_identifier(name)
        columns = checked_columns(like, frame)
        self.conn.execute(f"drop table if exists temp.{name}")
        self.conn.execute(
            f"create temp table {name} as select {columns} from main.{like} where 0"
        )
        cells = frame.astype(object).where(frame.notna(), None)
        self.conn.executemany(
            f"insert into temp.{name} ({columns}) "
            f"values ({', '.join('?' for _ in frame.columns)})",
            cells.itertuples(index=False, name=None),
        )

    def keys_table(self, name: str, column: str, values: Iterable[Any]) -> None:
        self.conn.execute(f"drop table if exists temp.{name}")
        self.conn.execute(
            f"create temp table {name} ({column} varchar(64) not null primary key)"
        )
        self.conn.executemany(
            f"insert or ignore into temp.{name} values (?)", ((v,) for v in values)
        )

    def table_exists(self, table: str) -> bool:
        row = self.conn.execute(
            "select 1 from sqlite_master where type in ('table', 'view') and name = ?",
            (table,),
        ).fetchone()
        return row is not None

    def columns(self, table: str) -> list[str]:
        return [row[1] for row in self.conn.execute(f"pragma table_info({table})")]

    def require_bronze(self) -> None:
        if not self.table_exists("bronze_transactions"):
            raise WarehouseError(
                f"{self.path} has no bronze_transactions: run the medallion "
                "pipeline (or drop a CSV) first"
            )

    def apply_schema(self) -> None:
        """Also brings a warehouse made by an earlier version up to date:
        columns it declared NOT NULL that may now be empty, and tables that
        gained a NOT NULL column (a copy and swap, SQLite's way of changing
        columns and checks), columns added since."""
        rebuilt, added = schema_gaps(self.columns)
        for table in rebuilt:
            self._set_aside(table)
        outdated = [
            c[1]
            for c in self.conn.execute("pragma table_info(bronze_transactions)")
            if c[1] in NOW_NULLABLE and c[3]
        ]
        if outdated and "bronze_transactions" not in rebuilt:
            self._set_aside("bronze_transactions")
            rebuilt.append("bronze_transactions")
        for statement in schema_statements():
            self.conn.execute(statement)
        for table in rebuilt:
            old = ", ".join(self.columns(f"{table}_outdated"))
            self.conn.execute(
                f"insert into {table} ({old}) select {old} from {table}_outdated"
            )
            self.conn.execute(f"drop table {table}_outdated")
        for table, column, kind in added:
            if table not in rebuilt:  # made again from the DDL, whole
                self.conn.execute(f"alter table {table} add column {column} {kind}")

    def _set_aside(self, table: str) -> None:
        """The table renamed ``<table>_outdated`` without its indexes, whose
        names the DDL then gives the new table's."""
        self._drop_secondary_indexes(table)
        self.conn.execute(f"alter table {table} rename to {table}_outdated")

    def _drop_secondary_indexes(self, table: str) -> list[str]:
        """Drop the table's own indexes (not those of its primary key or
        unique constraints) and return the SQL that creates them again."""
        indexes = self.conn.execute(
            "select name, sql from sqlite_master "
            "where type = 'index' and tbl_name = ? and sql is not null",
            (table,),
        ).fetchall()
        for name, _ in indexes:
            self.conn.execute(f'drop index "{name}"')
        return [sql for _, sql in indexes]

    # --- what the builds need -------------------------------------------------

    def materialize(self, model: Model, params: Mapping[str, Any]) -> int:
        """Rebuild the model's table from its file and count its rows."""
        table, select = model_sql(model.name)
        with self._read_order(model):
            self.conn.execute(f"drop table if exists {table}")
            try:
                self.conn.execute(
                    f"create table {table} as {select}", bind(select, params)
                )
            except sqlite3.Error as exc:
                raise WarehouseError(f"model {model.name}.sql failed: {exc}") from exc
        self.index(model)
        return self.conn.execute(f"select count(*) from {table}").fetchone()[0]

    def _read_order(self, model: Model) -> AbstractContextManager[None]:
        if not model.table_order:
            return nullcontext()
        return self.shadowed("bronze_transactions", "1 = 1", hint="not indexed")

    def index(self, model: Model) -> None:
        create_indexes(self.conn, model)

    @contextmanager
    def shadowed(self, table: str, where: str, hint: str = "") -> Iterator[None]:
        """Unqualified ``table`` means only its rows matching ``where`` inside
        (``shadow_view``)."""
        self.conn.execute(f"drop view if exists temp.{table}")
        self.conn.execute(shadow_view(table, where, hint))
        try:
            yield
        finally:
            self.conn.execute(f"drop view temp.{table}")


def schema_statements() -> list[str]:
    """Bronze's DDL and the ingestion log's, in that order."""
    return [
        *statements(sql_text("bronze/schema.sql")),
        *statements(sql_text("bronze/ingestion_log.sql")),
    ]


def schema_gaps(
    existing: Callable[[str], list[str]],
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """What a warehouse made by an earlier version lacks of the DDL, read
    once: the tables to rebuild, and the nullable columns to add to the
    others as (table, column, type).

    A table that lacks a NOT NULL column the DDL declares now
    (``ingestion_log.rows_skipped``, which its accounting check reads) is
    rebuilt: neither SQLite nor DuckDB adds such a column or changes a check
    in place, so it is set aside, made again from the DDL, and its rows
    copied back, the new column taking its declared default. A nullable
    column is added instead, keeping every stored row as it was; a table the
    caller rebuilds for another reason gets it from the DDL, so the caller
    skips it there.
    """
    missing = _missing_columns(existing)
    rebuilt = sorted({table for table, _, _, not_null in missing if not_null})
    added = [
        (table, name, kind)
        for table, name, kind, not_null in missing
        if not not_null and table not in rebuilt
    ]
    return rebuilt, added


def _missing_columns(
    existing: Callable[[str], list[str]],
) -> list[tuple[str, str, str, bool]]:
    """(table, column, type, not null) the DDL declares and an existing
    table lacks. The DDL files stay the one description of the schema: they
    are read here by building them in a scratch in-memory database (any
    engine may ask)."""
    with closing(sqlite3.connect(":memory:")) as scratch:
        for statement in schema_statements():
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
            info = scratch.execute(f"pragma table_info({table})").fetchall()
            for _, name, kind, not_null, *_ in info:
                if name not in have:
                    out.append((table, name, kind, bool(not_null)))
    return out


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


class SQLiteWarehouse(refresh.RefreshesPartitions):
    """The warehouse file of a data folder."""

    engine = "sqlite"
    capabilities = Capabilities(
        incremental=True, shared_writers=True, writes_while_reading=True
    )

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def location(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def transaction(self) -> Iterator[SQLiteSession]:
        conn = open_connection(self.path)
        try:
            conn.execute("begin immediate")
            yield SQLiteSession(conn, self.path)
            conn.execute("commit")
        except BaseException:
            if conn.in_transaction:
                conn.execute("rollback")
            raise
        finally:
            conn.close()

    def full_silver(
        self, params: Mapping[str, Any], progress: Progress | None
    ) -> dict[str, int]:
        return sqlite_build.rebuild_silver(self.path, params, progress)

    def build_gold(
        self,
        params: Mapping[str, Any],
        incremental: bool = False,
        score: Scorer | None = None,
    ) -> dict[str, int]:
        """A full build with a model: SQLite runs a statement on one core, so
        the model scores (reading on one, writing its table) while the Gold
        models that do not read its scores are built beside it."""
        same = False
        if incremental:
            with self.transaction() as session:
                same = refresh.built_from_same(session, "gold", GOLD, params)
        if score is None or same:
            return super().build_gold(params, incremental, score)

        def scoring() -> None:
            with self.transaction() as session:
                score(session)

        before = refresh.gold_before_scores()
        rows = sqlite_build.build_beside(self.path, before, params, scoring)
        with self.transaction() as session:
            rows.update(refresh.rebuild(session, GOLD[len(before) :], params))
            refresh.gold_built(session, params)
        return rows

    def recompute_aside(self, session: refresh.PartialSession) -> refresh.Aside:
        assert isinstance(session, SQLiteSession)
        return partial(sqlite_aside.recompute_aside, self.path, session.conn)

    def write_table_csv(self, table: str, path: Path, layout: TableCsv) -> int:
        return sqlite_csv.write_table_csv(self.path, table, path, layout)

    def checkpoint(self) -> dict[str, int]:
        """Copy the WAL into the database file as far as readers allow,
        without waiting for them (connections do not checkpoint at each
        commit: see ``open_connection``)."""
        with closing(open_connection(self.path)) as conn:
            busy, pages, copied = conn.execute(
                "pragma wal_checkpoint(passive)"
            ).fetchone()
        return {"busy": busy, "wal_pages": pages, "copied": copied}

    @contextmanager
    def keep_open(self) -> Iterator[None]:
        """An idle connection held by a long-running process (the watcher):
        while one is open, closing the others does not checkpoint the WAL
        (SQLite does that when the last connection closes), so each step of
        a refresh does not pay for the one before; the refresh ends with
        checkpoint()."""
        with closing(open_connection(self.path)):
            yield
