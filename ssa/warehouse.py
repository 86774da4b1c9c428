"""The SQLite warehouse: connections, the SQL-file runner and bulk loads.

Models are plain ``select`` files under ``sql/``; the runner materialises a
file as the table named after it (dbt style) and binds only the parameters
the file mentions, so a threshold is never formatted into SQL text.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from ssa.settings import SQL_DIR

_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


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
    wanted = set(_PARAM.findall(_strip_comments(sql)))
    missing = wanted - params.keys()
    if missing:
        raise WarehouseError(f"SQL parameters without a value: {sorted(missing)}")
    return {k: params[k] for k in wanted}


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection tuned for bulk analytics; commits or rolls back as one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    except sqlite3.Error as exc:
        raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc
    try:
        conn.execute("pragma journal_mode = wal")
        conn.execute("pragma synchronous = normal")
        conn.execute("pragma temp_store = memory")
        conn.execute("begin immediate")
        yield conn
        conn.execute("commit")
    except BaseException:
        if conn.in_transaction:
            conn.execute("rollback")
        raise
    finally:
        conn.close()


def apply_schema(conn: sqlite3.Connection) -> None:
    """Create the Bronze tables if they are not there yet."""
    for statement in _statements(sql_text("bronze/schema.sql")):
        conn.execute(statement)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in _strip_comments(script).split(";") if s.strip()]


def materialize(conn: sqlite3.Connection, model: str, params: Mapping[str, Any]) -> int:
    """Rebuild the table named after ``sql/<model>.sql`` and count its rows."""
    table = Path(model).stem
    _check_identifier(table)
    select = sql_text(f"{model}.sql")
    conn.execute(f"drop table if exists {table}")
    try:
        conn.execute(f"create table {table} as {select}", bind(select, params))
    except sqlite3.Error as exc:
        raise WarehouseError(f"model {model}.sql failed: {exc}") from exc
    return conn.execute(f"select count(*) from {table}").fetchone()[0]


def insert_new(
    conn: sqlite3.Connection, table: str, key: str, frame: pd.DataFrame
) -> int:
    """Append the rows of frame whose key is not in table yet; count them."""
    for name in (table, key, *frame.columns):
        _check_identifier(name)
    staging = f"staging_{table}"
    columns = ", ".join(frame.columns)
    marks = ", ".join("?" for _ in frame.columns)
    conn.execute(f"drop table if exists temp.{staging}")
    conn.execute(
        f"create temp table {staging} as select {columns} from {table} where 0"
    )
    conn.executemany(
        f"insert into temp.{staging} ({columns}) values ({marks})",
        _rows(frame),
    )
    before = conn.total_changes
    conn.execute(
        sql_text("bronze/insert_new_rows.sql").format(
            table=table, staging=f"temp.{staging}", key=key, columns=columns
        )
    )
    inserted = conn.total_changes - before
    conn.execute(f"drop table temp.{staging}")
    return inserted


def _rows(frame: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """Plain Python values (None for missing) that sqlite3 can bind."""
    columns = []
    for name in frame.columns:
        col = frame[name]
        values = col.astype(object).where(col.notna(), None).tolist()
        columns.append(values)
    return zip(*columns, strict=True)


def query(
    conn: sqlite3.Connection, relative: str, params: Mapping[str, Any]
) -> pd.DataFrame:
    """Run ``sql/<relative>`` (a select) and return its rows."""
    sql = sql_text(relative)
    try:
        return pd.read_sql_query(sql, conn, params=bind(sql, params))
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise WarehouseError(f"query {relative} failed: {exc}") from exc


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


def _check_identifier(name: str) -> None:
    if not _IDENT.match(name):
        raise WarehouseError(f"not a plain SQL identifier: {name!r}")


def run_script(
    conn: sqlite3.Connection, relative: str, params: Mapping[str, Any]
) -> int:
    """Run each statement of ``sql/<relative>``; count the rows they changed."""
    before = conn.total_changes
    for statement in _statements(sql_text(relative)):
        conn.execute(statement, bind(statement, params))
    return conn.total_changes - before
