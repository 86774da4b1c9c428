"""The SQLite engine's column-wise read gives what its cursor gives, and is
used only where a second connection sees what the session sees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssa.engines import sqlite_arrow
from ssa.engines.base import WarehouseError, numeric_frame
from ssa.engines.sqlite_warehouse import SQLiteWarehouse

# SQLite types values, not columns: integers, then reals, in one column; a
# column NULL for the first batches; text NULL at first; a text column of
# numbers.
ROWS = [
    (i, i if i < 7 else i + 0.5, None if i < 9 else 2.5, None if i < 5 else "x", i)
    for i in range(12)
]
SQL = "select k, a, b, t, cast(n as text) as n from t where k >= :low order by k"


@pytest.fixture
def warehouse(tmp_path):
    wh = SQLiteWarehouse(tmp_path / "w.db")
    with wh.transaction() as session:
        session.execute("create table t (k, a, b, t, n)")
        session.executemany("insert into t values (?, ?, ?, ?, ?)", ROWS)
    return wh


def _read(wh, rows: int) -> pd.DataFrame:
    batches = sqlite_arrow.read_batches(
        wh.path, SQL, {"low": 1}, ["k", "a", "b", "t", "n"], ("t", "n"), rows, "t"
    )
    return pd.concat(
        [numeric_frame(b, ("t", "n"), "t") for b in batches], ignore_index=True
    )


@pytest.mark.parametrize("rows", [1, 3, 100])
def test_mixed_and_late_types_read_as_sqlite_holds_them(warehouse, rows) -> None:
    frame = _read(warehouse, rows)
    want = [r for r in ROWS if r[0] >= 1]
    assert frame["k"].tolist() == [float(r[0]) for r in want]
    assert frame["a"].tolist() == [float(r[1]) for r in want]
    assert np.array_equal(
        frame["b"].to_numpy(),
        [np.nan if r[2] is None else r[2] for r in want],
        equal_nan=True,
    )
    assert frame["t"].isna().tolist() == [r[3] is None for r in want]
    assert frame["n"].tolist() == [str(r[4]) for r in want]
    assert (frame[["k", "a", "b"]].dtypes == "float64").all()


def test_parameters_bind_by_name_in_any_order() -> None:
    text, values = sqlite_arrow.positional(
        "select :b, :a -- :c\nwhere x = :b", {"a": 1, "b": 2, "c": 3}
    )
    assert text == "select ?1, ?2 \nwhere x = ?1"
    assert values == (2, 1)


def test_a_bad_query_names_the_file(warehouse) -> None:
    batches = sqlite_arrow.read_batches(
        warehouse.path, "select nope from t", {}, ["nope"], (), 10, "model/x.sql"
    )
    with pytest.raises(WarehouseError, match=r"model/x\.sql"):
        list(batches)


def test_a_session_reads_its_own_writes_through_its_cursor(warehouse) -> None:
    with warehouse.transaction() as session:
        assert session.sees_committed()
        session.execute("update t set a = -1 where k = 3")
        assert not session.sees_committed()
    with warehouse.transaction() as session:
        session.execute("create temp view t as select * from main.t where k = 3")
        assert not session.sees_committed()
    with warehouse.transaction() as session:
        session.execute("create table u (x)")
        assert not session.sees_committed()


@pytest.mark.parametrize("rows", [1, 100])
def test_text_in_a_numeric_column_is_an_error_not_a_number(warehouse, rows) -> None:
    with warehouse.transaction() as session:
        session.execute("update t set a = 'abc' where k = 6")
    with pytest.raises(WarehouseError, match=r"\bt\b.*(not numeric|failed)"):
        _read(warehouse, rows)


def test_the_read_leaves_the_other_connections_files_and_writes_alone(
    warehouse,
) -> None:
    """The driver links its own SQLite: in this process, its closing
    connection checkpointed and deleted the -wal and -shm files under the
    session's connections, and a transaction open across the read then
    committed into a deleted file."""
    from ssa.engines.sqlite_connection import open_connection

    wal = warehouse.path.with_name(warehouse.path.name + "-wal")
    shm = warehouse.path.with_name(warehouse.path.name + "-shm")
    writer = open_connection(warehouse.path)
    try:
        writer.execute("begin immediate")
        writer.execute("insert into t values (99, 1, 1, 'w', 1)")
        assert wal.exists() and shm.exists()
        assert len(_read(warehouse, 3)) == len(ROWS) - 1
        assert wal.exists() and shm.exists()
        writer.execute("commit")
    finally:
        writer.close()
    with warehouse.transaction() as session:
        assert session.fetchall("select count(*) from t where k = 99") == [(1,)]
