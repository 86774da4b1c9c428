"""The DuckDB warehouse: the same SQL files as SQLite's, columnar, on all cores.

Why a second engine: SQLite runs a window function one row at a time on one
core per connection, so a month of a big fintech does not fit a laptop's
patience; DuckDB runs the same Silver and Gold files several times faster
(README, "Speed"). Nothing is rewritten for it: the files keep to the
portable subset (``sql/portable-sql.md``), only the parameter marker differs
(``:name`` in the files, ``$name`` here), and the parity tests run every
file on each engine and compare.

DuckDB lets one process at a time open the file to write: no
``shared_writers``, so the watcher hands files to the process that
refreshes (``ssa/intake/watcher.py``). Its temporary views shadow a table as
SQLite's do, so the incremental refresh after a drop is the same code
(``incremental``); the warehouse's own tables are named through their
catalog there, since ``main.x`` inside a temporary view means the view's
own schema.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from ssa.engines import incremental as refresh
from ssa.engines.base import (
    FORMULA_START,
    PARAM,
    Capabilities,
    Progress,
    TableCsv,
    WarehouseError,
    bind,
    check_identifier,
    check_insert,
    checked_columns,
    export_columns,
    model_sql,
    numeric_frame,
    sql_text,
    statements,
)
from ssa.engines.sqlite_warehouse import (
    NOW_NULLABLE,
    schema_gaps,
    schema_statements,
)
from ssa.local_time import utc_suffix
from ssa.models import SILVER, Model

Connection = duckdb.DuckDBPyConnection
_BRONZE = "bronze/schema.sql"


def to_duckdb(sql: str) -> str:
    """``:name`` parameter markers as DuckDB's ``$name``."""
    return PARAM.sub(r"$\1", sql)


class DuckDBSession:
    """One transaction on the DuckDB file."""

    def __init__(self, conn: Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        catalog = conn.execute("select current_database()").fetchall()[0][0]
        self.main = f'"{catalog}".main'

    def _do(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run a statement of the adapter's own and read it to the end (DuckDB
        refuses new work on a connection with a result left unread)."""
        return self.conn.execute(sql, params).fetchall()

    def _run(
        self, sql: str, params: Mapping[str, Any] | Sequence[Any]
    ) -> duckdb.DuckDBPyConnection:
        try:
            if isinstance(params, Mapping):
                return self.conn.execute(to_duckdb(sql), dict(params))
            return self.conn.execute(sql, list(params))
        except duckdb.Error as exc:
            raise WarehouseError(f"{self.path}: {exc} in: {sql[:200]}") from exc

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> int:
        result = self._run(sql, params)
        counted = bool(result.description) and result.description[0][0] == "Count"
        rows = result.fetchall()  # DuckDB wants every result read to the end
        return int(rows[0][0]) if counted and rows else 0

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return sum(self.execute(sql, row) for row in rows)

    def fetchall(
        self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        return self._run(sql, params).fetchall()

    def query(self, relative: str, params: Mapping[str, Any]) -> pd.DataFrame:
        sql = sql_text(relative)
        try:
            return self.conn.execute(to_duckdb(sql), bind(sql, params)).df()
        except duckdb.Error as exc:
            raise WarehouseError(f"query {relative} failed: {exc}") from exc

    def query_numeric(
        self,
        relative: str,
        params: Mapping[str, Any],
        text_columns: tuple[str, ...],
    ) -> pd.DataFrame:
        """Fetched as Arrow: DuckDB hands columns over whole."""
        return numeric_frame(
            self._arrow(relative, params).read_all(), text_columns, relative
        )

    def query_numeric_chunks(
        self,
        relative: str,
        params: Mapping[str, Any],
        text_columns: tuple[str, ...],
        rows: int,
    ) -> Iterator[pd.DataFrame]:
        """Arrow record batches of ``rows`` rows, fetched as consumed."""
        for batch in self._arrow(relative, params, rows):
            yield numeric_frame(batch, text_columns, relative)

    def _arrow(
        self, relative: str, params: Mapping[str, Any], rows: int = 1_000_000
    ) -> pa.RecordBatchReader:
        sql = sql_text(relative)
        try:
            relation = self.conn.sql(to_duckdb(sql), params=bind(sql, params))
            return relation.to_arrow_reader(rows)
        except duckdb.Error as exc:
            raise WarehouseError(f"query {relative} failed: {exc}") from exc

    def read_table(self, table: str) -> pd.DataFrame:
        check_identifier(table)
        return self.conn.execute(f"select * from {self.main}.{table}").df()

    def run_script(self, relative: str, params: Mapping[str, Any]) -> int:
        return sum(
            self.execute(statement, bind(statement, params))
            for statement in statements(sql_text(relative))
        )

    def insert_new(self, table: str, key: str, frame: pd.DataFrame) -> int:
        """DuckDB reads the frame where it is, column by column."""
        if frame.empty:
            return 0
        check_insert(table, key, frame)
        sql = sql_text("bronze/insert_new_frame.sql").format(
            table=table, key=key, columns=", ".join(frame.columns), frame="new_rows"
        )
        self.conn.register("new_rows", frame)
        try:
            return self.execute(sql)
        finally:
            self.conn.unregister("new_rows")

    def stage_rows(self, name: str, like: str, frame: pd.DataFrame) -> None:
        """DuckDB reads the frame in place; the cast is the insert's."""
        check_identifier(name)
        columns = checked_columns(like, frame)
        self._do(
            f"create or replace temp table {name} as "
            f"select {columns} from {like} limit 0"
        )
        self.conn.register("staged_rows", frame)
        try:
            self._do(
                f"insert into temp.{name} ({columns}) select {columns} from staged_rows"
            )
        finally:
            self.conn.unregister("staged_rows")

    def keys_table(self, name: str, column: str, values: Iterable[Any]) -> None:
        check_identifier(name)
        check_identifier(column)
        frame = pd.DataFrame({column: pd.Series(list(values), dtype="string")})
        self.conn.register("staged_keys", frame.drop_duplicates())
        try:
            self._do(
                f"create or replace temp table {name} as "
                f"select cast({column} as varchar) as {column} from staged_keys"
            )
        finally:
            self.conn.unregister("staged_keys")

    def table_exists(self, table: str) -> bool:
        rows = self.conn.execute(
            "select 1 from information_schema.tables where table_name = ?", [table]
        ).fetchall()
        return bool(rows)

    def columns(self, table: str) -> list[str]:
        rows = self.conn.execute(
            "select column_name from information_schema.columns "
            "where table_name = ? and table_catalog = current_database() "
            "order by ordinal_position",
            [table],
        ).fetchall()
        return [row[0] for row in rows]

    def require_bronze(self) -> None:
        if not self.table_exists("bronze_transactions"):
            raise WarehouseError(
                f"{self.path} has no bronze_transactions: run the medallion "
                "pipeline (or drop a CSV) first"
            )

    def apply_schema(self) -> None:
        """Also brings a warehouse made by an earlier version up to date: a
        table that gained a NOT NULL column is copied into the DDL's (DuckDB
        changes no check in place), nullable columns are added, and columns
        it declared NOT NULL that may now be empty lose the constraint."""
        rebuilt, added = schema_gaps(self.columns)
        for table in rebuilt:
            # An index holds its table: DuckDB renames none that has one.
            indexes = self._do(
                "select index_name from duckdb_indexes() "
                "where table_name = ? and database_name = current_database()",
                [table],
            )
            for (index,) in indexes:
                self._do(f"drop index {index}")
            self._do(f"alter table {table} rename to {table}_outdated")
        for statement in bronze_ddl(schema_statements()):
            self._do(statement)
        for table in rebuilt:
            old = ", ".join(self.columns(f"{table}_outdated"))
            self._do(f"insert into {table} ({old}) select {old} from {table}_outdated")
            self._do(f"drop table {table}_outdated")
        for table, column, kind in added:
            self._do(f"alter table {table} add column {column} {kind}")
        outdated = self._do(
            "select column_name from information_schema.columns "
            "where table_name = 'bronze_transactions' "
            "and table_catalog = current_database() and is_nullable = 'NO'"
        )
        for (column,) in outdated:
            if column in NOW_NULLABLE:
                self._do(
                    f"alter table bronze_transactions alter column {column} "
                    "drop not null"
                )

    # --- what the builds need -------------------------------------------------

    def materialize(self, model: Model, params: Mapping[str, Any]) -> int:
        """The model's table, written in whatever order its rows come.

        A model's table is a set: every reader orders what it reads (the
        exports, the windows over it, the report), so the order the select
        produced its rows in is no contract. Keeping it makes DuckDB write
        the rows in that order, holding each finished batch until the ones
        before it are written: on a large month under a memory limit the
        widest models then insert on about one thread. Only the build lets
        go of the order: queries and exports keep DuckDB's default.
        """
        table, select = model_sql(model.name)
        (kept,) = self._do("select current_setting('preserve_insertion_order')")[0]
        self._do("set preserve_insertion_order = false")
        try:
            self._do(
                f"create or replace table {self.main}.{table} as {to_duckdb(select)}",
                bind(select, params),
            )
        except duckdb.Error as exc:
            # The failed transaction takes no more statements, and its
            # connection closes with it: nothing to set back.
            raise WarehouseError(f"model {model.name}.sql failed: {exc}") from exc
        self._do(f"set preserve_insertion_order = {bool(kept)}")
        return int(self._do(f"select count(*) from {self.main}.{table}")[0][0])

    def index(self, model: Model) -> None:
        """Nothing: DuckDB finds a drop's rows by its min-max zone maps, and an
        index would slow every insert and delete of the refresh."""

    @contextmanager
    def shadowed(self, table: str, where: str) -> Iterator[None]:
        self._do(
            f"create or replace temp view {table} as "
            f"select * from {self.main}.{table} where {where}"
        )
        try:
            yield
        finally:
            self._do(f"drop view temp.{table}")


_KEY = re.compile(r"\s+primary\s+key\b", re.IGNORECASE)
_INDEX = re.compile(
    r"^create\s+index\s+if\s+not\s+exists\s+([a-z_][a-z0-9_]*)\s", re.IGNORECASE
)


def bronze_ddl(ddl: Sequence[str]) -> list[str]:
    """The shared DDL with Bronze's keys and indexes left to SQLite.

    DuckDB keeps a key or an index as an ART tree that every insert updates
    row by row: on a month's bulk load that upkeep costs as much CPU as the
    load itself, and grows with the table. What the key guarantees is kept
    set-based instead, as on Spark: the loader rejects a batch that repeats
    an id and inserts only the ids not yet stored (``insert_new_frame.sql``),
    in a transaction no other process can write beside (one writer per
    file). A drop's rows are found by the min-max zone maps (``index``). A
    warehouse made when DuckDB had the indexes loses them (they only slow
    it); a key it was made with stays, harmless. The ingestion log keeps its
    keys and checks: it gains a row per file, and they guard its invariants.
    """
    tables = set(re.findall(r"create table if not exists (\w+)", sql_text(_BRONZE)))
    out = []
    for statement in ddl:
        made = re.match(r"create table if not exists (\w+)", statement)
        index = _INDEX.match(statement)
        if made and made.group(1) in tables:
            out.append(_KEY.sub("", statement))
        elif index and re.search(rf"\bon\s+({'|'.join(tables)})\b", statement):
            out.append(f"drop index if exists {index.group(1)}")
        else:
            out.append(statement)
    return out


class DuckDBWarehouse(refresh.RefreshesPartitions):
    """The DuckDB file of a data folder."""

    engine = "duckdb"
    capabilities = Capabilities(incremental=True, shared_writers=False)

    def __init__(
        self, path: Path, memory_limit: str | None = None, threads: int | None = None
    ) -> None:
        self.path = path
        self.config: dict[str, Any] = {}
        if memory_limit:
            self.config["memory_limit"] = memory_limit
        if threads:
            self.config["threads"] = threads

    @property
    def location(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def _connect(self) -> Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return duckdb.connect(str(self.path), config=self.config)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {self.path}: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[DuckDBSession]:
        conn = self._connect()
        try:
            conn.begin()
            yield DuckDBSession(conn, self.path)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def full_silver(
        self, params: Mapping[str, Any], progress: Progress | None
    ) -> dict[str, int]:
        with self.transaction() as session:
            rows = refresh.rebuild(session, SILVER, params)
        if progress is not None:
            progress(f"Silver {len(rows)}/{len(SILVER)} models built")
        return rows

    def write_table_csv(self, table: str, path: Path, layout: TableCsv) -> int:
        """DuckDB's COPY formats and writes on all cores; the text cells are
        made safe in the select (``base.FORMULA_START``), the quoting is
        COPY's."""
        with self.transaction() as session:
            return _copy_csv(session.conn, table, path, layout)

    def checkpoint(self) -> dict[str, int]:
        """Fold DuckDB's write-ahead log into the database file."""
        conn = self._connect()
        try:
            conn.execute("checkpoint")
        finally:
            conn.close()
        return {"wal_folded": 1}

    def keep_open(self) -> AbstractContextManager[None]:
        """Nothing to hold: a DuckDB file held open would lock out the
        process that refreshes."""
        return nullcontext()


def _copy_csv(conn: Connection, table: str, path: Path, layout: TableCsv) -> int:
    types = dict(
        conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = ? and table_catalog = current_database() "
            "order by ordinal_position",
            [table],
        ).fetchall()
    )
    if not types:
        raise WarehouseError(f"no table {table} in the warehouse")
    offset = int(layout.utc_offset_seconds)
    starts = ", ".join("'" + c.replace("'", "''") + "'" for c in FORMULA_START)
    # Every risky first character sorts below this bound, and so does the
    # empty text, so one comparison of the first bytes clears nearly every
    # cell (ids and names start with a letter) before the costlier tests.
    # Empty text is written as NULL is, unquoted, as SQLite's export does
    # (COPY would quote it).
    below = chr(max(map(ord, FORMULA_START)) + 1).replace("'", "''")
    cells = []
    for name, epoch in export_columns(list(types), layout.iso_times):
        check_identifier(name)
        if epoch is not None:
            cells.append(
                f"strftime(make_timestamp(({epoch} + {offset}) * 1000000), "
                f"'%Y-%m-%dT%H:%M:%S') || '{utc_suffix(offset)}' as {name}"
            )
        elif types[name] == "VARCHAR":
            cells.append(
                f"case when {name} >= '{below}' then {name} "
                f"when left({name}, 1) in ({starts}) then '''' || {name} "
                f"when {name} = '' then null else {name} end as {name}"
            )
        else:
            cells.append(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    select = (
        f"select {', '.join(cells)} from {table} order by {', '.join(layout.order_by)}"
    )
    target = str(tmp).replace("'", "''")
    try:
        rows = conn.execute(
            f"copy ({select}) to '{target}' (format csv, header true)"
        ).fetchall()[0][0]
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return int(rows)
