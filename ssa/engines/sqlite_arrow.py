"""Wide numeric reads from the SQLite file as Arrow columns.

Python's sqlite3 hands a result over as one Python object per cell: on a
million rows of the risk model's forty-odd features that was most of the
time scoring takes. Apache Arrow's ADBC driver for SQLite steps the same
statement in C and fills Arrow record batches, a column at a time.

It reads through a connection of its own, so it sees what is committed:
the session reads through it only while its own transaction has written
nothing and shadows nothing (``SQLiteSession.sees_committed``).

The driver fixes each column's Arrow type from the first batch and refuses
a later value of another type (a column of integers meeting a real, or one
NULL throughout the first batch meeting anything). SQLite types values,
not columns, so the query is read behind one leading row of the types
wanted, dropped again: a real in each numeric column, which the driver
then fills with integers and reals alike as doubles, and text in each text
column, whose values are cast to text. Numeric columns are not cast: a
cast costs more than the driver's conversion, and would turn text that
strayed into a number column into 0 where the driver refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi as adbc
import pyarrow as pa

from ssa.engines.base import PARAM, WarehouseError, strip_comments

# The reading connection's page cache, as the warehouse's own connections
# have it (sqlite_connection.open_connection): the features join reads
# Silver's tables by index.
CACHE_PRAGMA = "pragma cache_size = -262144"


def typed_select(sql: str, names: list[str], text_columns: tuple[str, ...]) -> str:
    """``sql`` wrapped so that each column keeps one type from row to row,
    behind a leading row of those types (``read_numeric_chunks`` drops it)."""
    for name in names:
        if not name.isidentifier():
            raise WarehouseError(f"not a plain column name: {name!r}")
    first = ", ".join(
        f"'' as {n}" if n in text_columns else f"0e0 as {n}" for n in names
    )
    cast = ", ".join(
        f"cast({n} as text) as {n}" if n in text_columns else n for n in names
    )
    return f"select {first} union all select {cast} from ({sql}\n)"


def positional(sql: str, params: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """``:name`` markers as SQLite's numbered ``?N`` ones and their values in
    that order: the driver binds parameters by position."""
    order: list[str] = []

    def number(match: Any) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"?{order.index(name) + 1}"

    text = PARAM.sub(number, strip_comments(sql))
    return text, tuple(params[name] for name in order)


def read_batches(
    path: Path,
    sql: str,
    params: Mapping[str, Any],
    names: list[str],
    text_columns: tuple[str, ...],
    rows: int,
    relative: str,
) -> Iterator[pa.RecordBatch]:
    """The rows of ``sql`` (columns ``names``) in Arrow batches of at most
    ``rows`` rows: ``text_columns`` as text, every other one as real."""
    text, values = positional(typed_select(sql, names, text_columns), params)
    try:
        with adbc.connect(str(path)) as conn, conn.cursor() as cursor:
            cursor.execute(CACHE_PRAGMA)
            cursor.fetchall()
            cursor.adbc_statement.set_options(
                **{"adbc.sqlite.query.batch_rows": str(rows)}
            )
            cursor.execute(text, values)
            first = True
            for batch in cursor.fetch_record_batch():
                if first:
                    batch, first = batch.slice(1), False
                if batch.num_rows:
                    yield batch
    except (adbc.Error, OSError) as exc:  # OSError: Arrow's reader
        raise WarehouseError(f"query {relative} failed: {exc}") from exc
