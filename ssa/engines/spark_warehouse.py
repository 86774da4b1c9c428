"""The Spark warehouse: the same SQL files, on a cluster through Spark Connect.

Why a third engine: DuckDB ends where one machine ends. Through Spark
Connect the pipeline sends its unchanged ``sql/`` files (Spark binds the
``:name`` markers itself) to any Spark 4 cluster, and without a
``spark_remote`` to a local server it starts (``ssa/engines/spark_server.py``), so
the path a laptop runs is the one a cluster runs.

Tables are Parquet. On a cluster they are the cluster's managed tables in
the session's current schema, kept by its metastore. The local server has
Spark's in-memory catalog (a Hive metastore on Derby doubled its start time
and locks the folder to one JVM), so its tables are folders of its own
warehouse with explicit locations: each connection to a new local server
registers the folders an earlier one left, and a rebuild writes over its
folder. Either way a table survives the server.

What Spark's Parquet tables lack is emulated here, not in the SQL files:
primary keys and indexes (the Bronze DDL is read for its columns only; the
loader keeps keys unique), ``delete`` (the kept rows are set aside and
written back), transactions (each table write is whole, and a retried load
skips the rows it already stored). Exports are written from the driver, the
machine running the pipeline, not as part files on the cluster.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.csv as pa_csv

from ssa.engines import spark_server
from ssa.engines.base import (
    FORMULA_START,
    Capabilities,
    Progress,
    Scorer,
    TableCsv,
    WarehouseError,
    bind,
    check_identifier,
    check_insert,
    export_columns,
    in_pieces,
    model_sql,
    numeric_frame,
    sql_text,
    statements,
    strip_comments,
)
from ssa.engines.sqlite_warehouse import schema_statements
from ssa.local_time import utc_suffix
from ssa.models import GOLD, SILVER, Model

if TYPE_CHECKING:
    from ssa.settings import SparkLocalSettings

# The ``temp.`` schema the other engines keep session tables in: Spark's
# session views have no schema, so the prefix is dropped.
_TEMP = re.compile(r"\btemp\.(?=[a-z_])", re.I)
# Statements that change tables (a delete is emulated by these).
_WRITES = re.compile(r"^\s*(insert|create|drop|alter)\b", re.I)
# The file each write to a local warehouse rewrites (Connection.catch_up).
WRITE_MARK = ".last-write"
# On a cluster: the table whose property each writing transaction sets, and
# the property (the catalog, unlike a table's file listing, is read fresh).
WRITE_MARK_TABLE = "ssa_write_mark"
WRITE_MARK_PROPERTY = "ssa.last_write"
# A whole delete statement: its table, and its condition if it has one.
_DELETE = re.compile(r"^\s*delete\s+from\s+(\w+)(?:\s+where\s+(.*))?$", re.I | re.S)
_INTEGRAL = ("bigint", "int", "integer", "smallint", "tinyint")
# Rows of a frame sent to Spark in one plan. A frame travels inside the plan
# that reads it, and the local server keeps each plan for its SQL listener:
# a month's Bronze rows in one plan can run its heap out of memory.
_FRAME_PIECE_ROWS = 100_000


@dataclass
class Connection:
    """A Spark Connect session and where its tables' folders live (None on a
    cluster, whose catalog places them)."""

    session: Any
    root: Path | None
    # The warehouse's write mark this session last wrote or caught up with
    # (catch_up).
    seen: str = ""
    # Whether this transaction wrote a table of a cluster's warehouse (its
    # mark is set once, as the transaction ends: ``finish``).
    wrote: bool = False

    def sql(
        self,
        statement: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
    ) -> Any:
        statement = spark_dialect(statement)
        if isinstance(params, Mapping):
            args: Any = dict(params) or None
        else:
            args = list(params) if params else None
        try:
            result = self.session.sql(statement, args=args)
        except Exception as exc:  # pyspark raises its own tree of errors
            raise WarehouseError(f"Spark: {_first_line(exc)}") from exc
        if _WRITES.match(strip_comments(statement)):
            self._mark_written()
        return result

    def _mark_written(self) -> None:
        """Tell the other sessions on this warehouse that its tables changed
        (a command has run when ``sql`` returns): on a local warehouse at
        once, in a file beside its folders; on a cluster, where the mark is
        a round trip, when the transaction ends (``finish``)."""
        if self.root is None:
            self.wrote = True
            return
        self.seen = uuid.uuid4().hex
        mark = self.root / WRITE_MARK
        mark.parent.mkdir(parents=True, exist_ok=True)
        tmp = mark.with_name(f".{mark.name}.{self.seen}")
        tmp.write_text(self.seen, encoding="utf-8")
        os.replace(tmp, mark)

    def finish(self) -> None:
        """At the end of a transaction that wrote a cluster's tables, set the
        mark table's property to a new value (the mark table is created on
        the first write)."""
        if not self.wrote:
            return
        self.seen = uuid.uuid4().hex
        try:
            self.session.sql(
                f"create table if not exists {WRITE_MARK_TABLE} (mark string) "
                "using parquet"
            )
            self.session.sql(
                f"alter table {WRITE_MARK_TABLE} set tblproperties "
                f"('{WRITE_MARK_PROPERTY}' = '{self.seen}')"
            )
        except Exception as exc:  # pyspark raises its own tree of errors
            raise WarehouseError(f"Spark: {_first_line(exc)}") from exc
        self.wrote = False

    def mark(self) -> str:
        """The warehouse's write mark now ("" before any write)."""
        if self.root is not None:
            return _write_mark(self.root)
        try:
            rows = self.session.sql(f"show tblproperties {WRITE_MARK_TABLE}").collect()
        except Exception:  # no mark table: nobody wrote through a mark yet
            return ""
        return next((r[1] for r in rows if r[0] == WRITE_MARK_PROPERTY), "")

    def catch_up(self) -> None:
        """Forget the file listings this session cached if another session
        wrote the warehouse since: a Spark session reads a Parquet table's
        files as it listed them first, even when another session on the same
        server (a cluster's) or another process's local server rewrote them
        (a refresh run in a long-lived worker would miss what a medallion
        run wrote meanwhile)."""
        mark = self.mark()
        if mark == self.seen:
            return
        for table in self.session.catalog.listTables():
            if not table.isTemporary:
                self.session.catalog.refreshTable(table.name)
        self.seen = mark

    def execute(
        self, statement: str, params: Mapping[str, Any] | None = None
    ) -> _Result:
        """One statement, as a DB-API cursor would run it (what engine-neutral
        code such as the model scoring calls), ``delete`` included."""
        params = params or {}
        if _DELETE.match(strip_comments(statement)):
            _delete(self, statement, params)
            return _Result([])
        rows = self.sql(statement, bind(statement, params)).collect()
        return _Result([tuple(row) for row in rows])  # NULL as None

    def location(self, table: str) -> str:
        """The ``location`` clause of a table of the local warehouse."""
        if self.root is None:
            return ""
        check_identifier(table)
        return " location '" + str(self.root / table).replace("'", "\\'") + "'"


@dataclass
class _Result:
    rows: list[tuple[Any, ...]]

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


def _write_mark(root: Path | None) -> str:
    try:
        return (root / WRITE_MARK).read_text(encoding="utf-8") if root else ""
    except FileNotFoundError:
        return ""


def spark_dialect(statement: str) -> str:
    """A statement of the shared SQL as Spark reads it: session tables
    without the ``temp.`` schema."""
    return _TEMP.sub("", statement)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# One session per (server, schema) for the whole process, opened on first
# use: a session costs round trips to open, and stopping sessions between
# the tasks of a run raced with the client's own clean-up of finished
# queries (a later call hung).
_sessions: dict[tuple[str, str | None], Connection] = {}
_sessions_lock = threading.Lock()


@contextmanager
def connect(
    path: Path,
    remote: str | None = None,
    local: SparkLocalSettings | None = None,
    *,
    schema: str | None = None,
) -> Iterator[Connection]:
    """The session on ``remote``, or on the local server of the warehouse
    folder ``path`` (started on first use, stopped at exit), in ``schema``
    when one is given.

    Spark has no transaction to commit or roll back here: each statement
    is whole when it returns (see the module docstring).
    """
    root = None
    server = None
    if remote is None:
        assert local is not None
        server = spark_server.shared(
            path,
            cores=local.cores,
            driver_memory=local.driver_memory,
            start_timeout_seconds=local.start_timeout_seconds,
        )
        remote, root = server.remote, server.warehouse_dir
        if schema is not None:  # one folder per schema, as a metastore keeps them
            root = root / schema.replace(".", "/")
    with _sessions_lock:
        conn = _sessions.get((remote, schema))
        if conn is None:
            conn = _open(remote, root, schema, server)
            _sessions[(remote, schema)] = conn
        else:
            conn.catch_up()
    try:
        yield conn
    finally:
        conn.finish()


def _open(
    remote: str,
    root: Path | None,
    schema: str | None,
    server: spark_server.LocalSparkServer | None = None,
) -> Connection:
    from pyspark.sql import SparkSession

    try:
        session = SparkSession.builder.remote(remote).create()
    except Exception as exc:
        raise WarehouseError(f"cannot reach Spark at {remote}: {exc}") from exc
    if server is not None:
        session.client.set_retry_policies([server.retry_policy()])
    # Times are epoch seconds in the SQL; only exports format them, in the
    # rules' offset, never in the cluster's zone.
    session.conf.set("spark.sql.session.timeZone", "UTC")
    conn = Connection(session, root)
    if schema is not None:
        conn.sql(f"create schema if not exists {schema}")
        conn.sql(f"use {schema}")
        conn.wrote = False  # a schema is no table a session may have cached
    conn.seen = conn.mark()
    if root is not None:
        _register_folders(conn)
    return conn


# Sessions forgotten but kept referenced: when pyspark 4.0's client is
# garbage-collected it shuts down a thread pool every session of the process
# shares, and a query running in another session then fails ("cannot
# schedule new futures after shutdown").
_retired: list[Connection] = []


def forget_sessions() -> None:
    """Open new sessions from now on (their server stopped, or a test wants
    a fresh catalog's first connection); the old ones are kept, not closed."""
    with _sessions_lock:
        _retired.extend(_sessions.values())
        _sessions.clear()


def _bronze_tables() -> dict[str, list[tuple[str, str, bool]]]:
    """The tables of the Bronze DDL and the ingestion log's, with their
    (column, type, not null), read by building the files in a scratch
    SQLite: the files stay the one description of the schema, its keys,
    checks and indexes SQLite's and DuckDB's."""
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    with closing(sqlite3.connect(":memory:")) as scratch:
        for statement in schema_statements():
            scratch.execute(statement)
        names = scratch.execute(
            "select name from sqlite_master where type = 'table' order by rowid"
        ).fetchall()
        for (name,) in names:
            info = scratch.execute(f"pragma table_info({name})").fetchall()
            tables[name] = [
                (col, kind, bool(notnull or pk))
                for _, col, kind, notnull, _, pk in info
            ]
    return tables


def _create_bronze(
    conn: Connection, table: str, columns: list[tuple[str, str, bool]]
) -> None:
    cells = ", ".join(
        f"{c} {kind}{' not null' if nn else ''}" for c, kind, nn in columns
    )
    if conn.root is not None:  # an empty table's folder too marks it as made
        (conn.root / table).mkdir(parents=True, exist_ok=True)
    where = conn.location(table)
    conn.sql(f"create table if not exists {table} ({cells}) using parquet{where}")


def _register_folders(conn: Connection) -> None:
    """Tables an earlier local server left as folders, back in the catalog."""
    assert conn.root is not None
    bronze = _bronze_tables()
    models = [m.table for m in (*SILVER, *GOLD)]
    known = {t.name for t in conn.session.catalog.listTables()}
    for table in [*bronze, *models]:
        folder = conn.root / table
        if table in known or not folder.is_dir():
            continue
        if table in bronze:
            _create_bronze(conn, table, bronze[table])
        elif any(folder.glob("*.parquet")):  # a model's schema is its files'
            where = conn.location(table)
            conn.sql(f"create table if not exists {table} using parquet{where}")


def apply_schema(conn: Connection) -> None:
    """The Bronze tables from the same DDL file, and columns a later version
    added."""
    for table, columns in _bronze_tables().items():
        _create_bronze(conn, table, columns)
        have = set(_columns(conn, table))
        added = [f"{c} {kind}" for c, kind, _ in columns if c not in have]
        if added:
            conn.sql(f"alter table {table} add columns ({', '.join(added)})")


def _columns(conn: Connection, table: str) -> list[str]:
    return list(conn.session.table(table).columns) if table_exists(conn, table) else []


def _count(
    conn: Connection,
    table: str,
    where: str = "",
    params: Mapping[str, Any] | None = None,
) -> int:
    sql = f"select count(*) from {table}" + (f" where {where}" if where else "")
    return int(conn.sql(sql, params).collect()[0][0])


def _delete(conn: Connection, statement: str, params: Mapping[str, Any]) -> int:
    """``delete from t where c`` on a Parquet table, which has none: the kept
    rows are set aside, then written back over the table."""
    match = _DELETE.match(strip_comments(statement))
    assert match is not None
    table, where = match.group(1), (match.group(2) or "true").strip()
    bound = bind(statement, params)
    # Never `where (` right after a table name: Spark reads `where (...)`
    # as an alias with column names.
    doomed = _count(conn, table, f"coalesce(({where}), false)", bound)
    if doomed == 0:
        return 0
    kept = f"{table}__kept"
    conn.sql(f"drop table if exists {kept}")
    conn.sql(
        f"create table {kept} using parquet as "
        f"select * from {table} where not coalesce(({where}), false)",
        bound,
    )
    try:
        conn.sql(f"insert overwrite table {table} select * from {kept}")
    finally:
        conn.sql(f"drop table if exists {kept}")
    return doomed


def execute(conn: Connection, sql: str, params: Mapping[str, Any]) -> int:
    """Run one statement of a SQL file; the rows it deleted (0 otherwise:
    Spark does not count what a command changed)."""
    if _DELETE.match(strip_comments(sql)):
        return _delete(conn, sql, params)
    conn.sql(sql, bind(sql, params))
    return 0


def run_script(conn: Connection, relative: str, params: Mapping[str, Any]) -> int:
    """Each statement of ``sql/<relative>``; the rows they changed."""
    return sum(
        execute(conn, statement, params) for statement in statements(sql_text(relative))
    )


def _typed(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """The frame's columns as Arrow carries them into the Spark types named
    (NULL as None, integers nullable)."""
    typed = frame.copy()
    for name in typed.columns:
        if kinds[name] in _INTEGRAL:
            typed[name] = pd.to_numeric(typed[name]).astype("Int64")
        elif kinds[name] == "double":
            typed[name] = pd.to_numeric(typed[name]).astype("float64")
        elif kinds[name] == "string" or kinds[name].startswith("varchar"):
            typed[name] = typed[name].astype(object).where(typed[name].notna(), None)
    return typed


def insert_new(conn: Connection, table: str, key: str, frame: pd.DataFrame) -> int:
    """Append the rows of frame whose key is not in table yet; count them.

    The same contract as ``warehouse.insert_new``. The frame travels to
    Spark as Arrow batches, typed as the table's columns.
    """
    if frame.empty:
        return 0
    check_insert(table, key, frame)
    kinds = {
        f.name: f.dataType.simpleString() for f in conn.session.table(table).schema
    }
    unknown = [c for c in frame.columns if c not in kinds]
    if unknown:
        raise WarehouseError(f"{table} has no columns {unknown}")
    typed = _typed(frame, kinds)
    view = f"new_rows_{table}"
    sql = sql_text("bronze/insert_new_frame.sql").format(
        table=table, key=key, columns=", ".join(frame.columns), frame=view
    )
    before = _count(conn, table)
    for start in range(0, len(typed), _FRAME_PIECE_ROWS):
        piece = typed.iloc[start : start + _FRAME_PIECE_ROWS]
        conn.session.createDataFrame(piece).createOrReplaceTempView(view)
        try:
            conn.sql(sql)
        finally:
            conn.session.catalog.dropTempView(view)
    return _count(conn, table) - before


def materialize(conn: Connection, model: str, params: Mapping[str, Any]) -> int:
    """Rebuild the table named after ``sql/<model>.sql`` and count its rows."""
    table, select = model_sql(model)
    try:
        conn.sql(f"drop table if exists {table}")
        conn.sql(
            f"create table {table} using parquet{conn.location(table)} as {select}",
            bind(select, params),
        )
    except WarehouseError as exc:
        raise WarehouseError(f"model {model}.sql failed: {exc}") from exc
    return _count(conn, table)


def query(conn: Connection, relative: str, params: Mapping[str, Any]) -> pd.DataFrame:
    """Run ``sql/<relative>`` (a select) and return its rows."""
    sql = sql_text(relative)
    try:
        return conn.sql(sql, bind(sql, params)).toPandas()
    except WarehouseError as exc:
        raise WarehouseError(f"query {relative} failed: {exc}") from exc
    except Exception as exc:
        raise WarehouseError(f"query {relative} failed: {_first_line(exc)}") from exc


def query_numeric(
    conn: Connection,
    relative: str,
    params: Mapping[str, Any],
    text_columns: tuple[str, ...],
) -> pd.DataFrame:
    """``warehouse.query_numeric``: ``text_columns`` as text, the others as
    float64 with NULL as NaN, from the Arrow columns Spark Connect sends."""
    sql = sql_text(relative)
    try:
        table = conn.sql(sql, bind(sql, params)).toArrow()
    except WarehouseError as exc:
        raise WarehouseError(f"query {relative} failed: {exc}") from exc
    except Exception as exc:
        raise WarehouseError(f"query {relative} failed: {_first_line(exc)}") from exc
    return numeric_frame(table, text_columns, relative)


def table_exists(conn: Connection, table: str) -> bool:
    return bool(conn.session.catalog.tableExists(table))


def require_bronze(conn: Connection, path: Path) -> None:
    """Fail with a message a person can act on when there is nothing to refine."""
    if not table_exists(conn, "bronze_transactions"):
        raise WarehouseError(
            f"{path} has no bronze_transactions: run the medallion pipeline first"
        )


def write_table_csv(
    conn: Connection,
    table: str,
    path: Path,
    *,
    order_by: tuple[str, ...],
    iso_times: Mapping[str, str],
    utc_offset_seconds: int,
) -> int:
    """A whole table as CSV with the cells ``exports.write_table_csv`` writes:
    ISO-8601 local times, text cells sheet-safe, quoted where needed.

    Spark formats the cells; the rows come to the driver as Arrow and
    pyarrow writes them, so the file lands here and not as part files on
    the cluster. The file is replaced atomically.
    """
    if not table_exists(conn, table):
        raise WarehouseError(f"no table {table} in the warehouse")
    types = {
        f.name: f.dataType.simpleString() for f in conn.session.table(table).schema
    }
    params: dict[str, Any] = {
        "quote": "'",
        "suffix": utc_suffix(utc_offset_seconds),
        "iso_pattern": "yyyy-MM-dd'T'HH:mm:ss",
    }
    starts = []
    for i, char in enumerate(FORMULA_START):
        params[f"formula_{i}"] = char
        starts.append(f":formula_{i}")
    cells = []
    for name, epoch in export_columns(list(types), iso_times):
        check_identifier(name)
        if epoch is not None:
            cells.append(
                f"date_format(timestamp_seconds({epoch} + {int(utc_offset_seconds)}), "
                f":iso_pattern) || :suffix as {name}"
            )
        elif types[name] == "string" or types[name].startswith("varchar"):
            cells.append(
                f"case when left({name}, 1) in ({', '.join(starts)}) "
                f"then :quote || {name} else {name} end as {name}"
            )
        else:
            cells.append(name)
    select = f"select {', '.join(cells)} from {table} order by {', '.join(order_by)}"
    rows = conn.sql(select, params).toArrow()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pa_csv.write_csv(
            rows,
            tmp,
            pa_csv.WriteOptions(quoting_style="needed", quoting_header="none"),
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows.num_rows


# --- the seam ---------------------------------------------------------------


class SparkSqlSession:
    """The Session protocol on a Spark Connect session. Statements are whole
    when they return; nothing here is rolled back (module docstring)."""

    def __init__(self, conn: Connection, location: str) -> None:
        self.conn = conn
        self.location = location

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> int:
        if isinstance(params, Mapping) or not params:
            return execute(self.conn, sql, dict(params or {}))
        if _DELETE.match(strip_comments(sql)):
            raise WarehouseError("Spark: a delete takes named parameters here")
        self._positional(sql, params)
        return 0

    def _positional(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            rows = self.conn.sql(sql, params).collect()
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(f"Spark: {_first_line(exc)}") from exc
        return [tuple(row) for row in rows]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return sum(self.execute(sql, row) for row in rows)

    def fetchall(
        self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        if isinstance(params, Mapping) or not params:
            return self.conn.execute(sql, dict(params or {})).fetchall()
        return self._positional(sql, params)

    def query(self, relative: str, params: Mapping[str, Any]) -> pd.DataFrame:
        return query(self.conn, relative, params)

    def query_numeric(
        self, relative: str, params: Mapping[str, Any], text_columns: tuple[str, ...]
    ) -> pd.DataFrame:
        return query_numeric(self.conn, relative, params, text_columns)

    def query_numeric_chunks(
        self,
        relative: str,
        params: Mapping[str, Any],
        text_columns: tuple[str, ...],
        rows: int,
    ) -> Iterator[pd.DataFrame]:
        """Arrow hands the columns over whole: read at once, handed on in
        pieces."""
        return in_pieces(self.query_numeric(relative, params, text_columns), rows)

    def read_table(self, table: str) -> pd.DataFrame:
        check_identifier(table)
        return self.conn.sql(f"select * from {table}").toPandas()

    def run_script(self, relative: str, params: Mapping[str, Any]) -> int:
        return run_script(self.conn, relative, params)

    def insert_new(self, table: str, key: str, frame: pd.DataFrame) -> int:
        return insert_new(self.conn, table, key, frame)

    def stage_rows(self, name: str, like: str, frame: pd.DataFrame) -> None:
        """A session view typed as ``like``'s columns (the SQL names it
        ``temp.<name>``; spark_dialect drops the schema)."""
        check_identifier(name)
        check_identifier(like)
        schema = self.conn.session.table(like).select(*frame.columns).schema
        kinds = {f.name: f.dataType.simpleString() for f in schema}
        self.conn.session.createDataFrame(
            _typed(frame, kinds), schema=schema
        ).createOrReplaceTempView(name)

    def keys_table(self, name: str, column: str, values: Iterable[Any]) -> None:
        """A session view of distinct keys (``temp.<name>`` in the SQL)."""
        check_identifier(name)
        check_identifier(column)
        frame = pd.DataFrame({column: pd.Series(list(values), dtype=object)})
        self.conn.session.createDataFrame(
            frame.drop_duplicates()
        ).createOrReplaceTempView(name)

    def table_exists(self, table: str) -> bool:
        return table_exists(self.conn, table)

    def apply_schema(self) -> None:
        apply_schema(self.conn)

    def require_bronze(self) -> None:
        require_bronze(self.conn, Path(self.location))

    def materialize(self, model: Model, params: Mapping[str, Any]) -> int:
        return materialize(self.conn, model.name, params)


class SparkWarehouse:
    """The tables of a Spark warehouse: a cluster's (``spark_remote``) or the
    local server's, whose folder is in the data folder.

    Silver and Gold are rebuilt whole after a drop too: a Parquet table has
    no delete, so the partition-by-partition refresh would rewrite every
    table it touches anyway; on a cluster a full rebuild is what scales.
    """

    engine = "spark"
    capabilities = Capabilities(incremental=False, shared_writers=False)

    def __init__(
        self,
        path: Path,
        remote: str | None,
        local: SparkLocalSettings,
        schema: str | None,
    ) -> None:
        self.path = path
        self.remote = remote
        self.local = local
        self.schema = schema

    @property
    def location(self) -> str:
        return self.remote or str(self.path)

    def exists(self) -> bool:
        return self.remote is not None or self.path.exists()

    @contextmanager
    def transaction(self) -> Iterator[SparkSqlSession]:
        with connect(self.path, self.remote, self.local, schema=self.schema) as conn:
            yield SparkSqlSession(conn, self.location)

    def build_silver(
        self,
        params: Mapping[str, Any],
        new_batches: Sequence[str] | None = None,
        max_customer_share: float = 1.0,
        progress: Progress | None = None,
    ) -> tuple[str, dict[str, int]]:
        rows: dict[str, int] = {}
        with self.transaction() as session:
            session.require_bronze()
            for model in SILVER:
                rows[model.name] = session.materialize(model, params)
                if progress is not None:
                    progress(f"Silver {len(rows)}/{len(SILVER)} models built")
        return "full", rows

    def build_gold(
        self,
        params: Mapping[str, Any],
        incremental: bool = False,
        score: Scorer | None = None,
    ) -> dict[str, int]:
        with self.transaction() as session:
            if score is not None:
                score(session)
            return {m.name: session.materialize(m, params) for m in GOLD}

    def changed_silver_only(
        self, session: SparkSqlSession
    ) -> AbstractContextManager[None]:
        raise WarehouseError("Spark rebuilds Silver whole: there is no partial change")

    def write_table_csv(self, table: str, path: Path, layout: TableCsv) -> int:
        with self.transaction() as session:
            return write_table_csv(
                session.conn,
                table,
                path,
                order_by=layout.order_by,
                iso_times=layout.iso_times,
                utc_offset_seconds=layout.utc_offset_seconds,
            )

    def checkpoint(self) -> dict[str, int]:
        """Nothing to fold: each Parquet table write is whole when it returns."""
        return {}

    def keep_open(self) -> AbstractContextManager[None]:
        return nullcontext()
