"""The ingestion log's statements (sql/bronze/ingestion_log_*.sql,
ingestion_refresh_record.sql) give the same answers on SQLite and DuckDB.

Every entry here fills every column of ``LOG_COLUMNS`` with its own value, so
a column that the log's files leave out of a select or the insert shows as
a row that does not come back as it went in.
"""

from __future__ import annotations

from typing import Any

import pytest

from ssa.engines.duckdb_warehouse import DuckDBWarehouse
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.intake import ingest_log
from ssa.intake.ingest_log import LOG_COLUMNS

TEXT = {
    "status": "loaded",
    "delimiter": ";",
    "started_at": "2026-10-01T08:00:00.000+00:00",
    "finished_at": "2026-10-01T08:00:01.000+00:00",
}


def _entry(n: int, **values: Any) -> dict[str, Any]:
    """A log entry numbered n: each count a number of its own, whose sum is
    rows_read (the table checks it), each text a text of its own."""
    entry: dict[str, Any] = {}
    for i, column in enumerate(c for c in LOG_COLUMNS if c != "log_seq"):
        if column == "file_bytes" or column.startswith("rows_"):
            entry[column] = 10 * n + i
        else:
            entry[column] = TEXT.get(column, f"{column} {n}")
    entry.update(values)
    counts = [c for c in entry if c.startswith("rows_") and c != "rows_read"]
    entry["rows_read"] = sum(entry[c] for c in counts)
    return entry


@pytest.fixture(params=["sqlite", "duckdb"])
def warehouse(request, tmp_path):
    made = {"sqlite": SQLiteWarehouse, "duckdb": DuckDBWarehouse}[request.param]
    warehouse = made(tmp_path / f"ssa.{request.param}")
    with warehouse.transaction() as session:
        session.apply_schema()
    return warehouse


def test_an_appended_entry_comes_back_whole(warehouse) -> None:
    first = _entry(1, file_sha256="a" * 64)
    second = _entry(2, file_sha256="b" * 64, detail=None, rejected_to=None)
    with warehouse.transaction() as session:
        assert ingest_log.append(session, first) == 1
        assert ingest_log.append(session, second) == 2
    with warehouse.transaction() as session:
        assert ingest_log.find_loaded(session, "a" * 64) == {**first, "log_seq": 1}
        assert ingest_log.find_loaded(session, "b" * 64) == {**second, "log_seq": 2}


def test_a_column_the_entry_leaves_out_is_empty(warehouse) -> None:
    entry = _entry(1, file_sha256="a" * 64)
    del entry["missing_columns"]
    with warehouse.transaction() as session:
        ingest_log.append(session, entry)
        found = ingest_log.find_loaded(session, "a" * 64)
    assert found == {**entry, "missing_columns": None, "log_seq": 1}


def test_find_loaded_is_the_first_load_of_the_content(warehouse) -> None:
    sha = "c" * 64
    with warehouse.transaction() as session:
        ingest_log.append(session, _entry(1, file_sha256=sha, status="quarantined"))
        ingest_log.append(session, _entry(2, file_sha256=sha))
        ingest_log.append(session, _entry(3, file_sha256=sha))
        ingest_log.append(
            session, _entry(4, file_sha256="d" * 64, status="quarantined")
        )
        found = ingest_log.find_loaded(session, sha)
        assert ingest_log.find_loaded(session, "d" * 64) is None
        assert ingest_log.find_loaded(session, "e" * 64) is None
    assert found is not None
    assert (found["log_seq"], found["file_name"]) == (2, "file_name 2")


def test_files_between_are_the_rows_after_up_to_in_order(warehouse) -> None:
    entries = [_entry(n, file_sha256=f"{n:064d}") for n in range(1, 6)]
    with warehouse.transaction() as session:
        for entry in entries:
            ingest_log.append(session, entry)
        between = ingest_log.files_between(session, 1, 4)
        assert ingest_log.files_between(session, 5, 9) == []
    assert between == [{**e, "log_seq": n} for n, e in enumerate(entries, 1)][1:4]


def test_a_refresh_counts_the_loaded_files_it_took_in(warehouse) -> None:
    statuses = ["loaded", "quarantined", "loaded", "duplicate_file", "loaded"]
    entries = [
        _entry(n, file_sha256=f"{n:064d}", status=status)
        for n, status in enumerate(statuses, 1)
    ]
    with warehouse.transaction() as session:
        for entry in entries:
            ingest_log.append(session, entry)
        ingest_log.record_refresh(session, 0, 3, 7, "t0", "t1")
        ingest_log.record_refresh(session, 3, 5, 2, "t2", "t3")
        refreshes = session.fetchall(
            "select refresh_seq, after_log_seq, up_to_log_seq, files, rows_loaded,"
            " customers, started_at, finished_at from ingestion_refresh"
            " order by refresh_seq"
        )
        pending = ingest_log.pending_refresh(session)
    loaded = [e["rows_loaded"] for e in entries]
    assert [tuple(r) for r in refreshes] == [
        (1, 0, 3, 2, loaded[0] + loaded[2], 7, "t0", "t1"),
        (2, 3, 5, 1, loaded[4], 2, "t2", "t3"),
    ]
    assert pending is None


def test_a_refresh_of_no_loaded_file_counts_nothing(warehouse) -> None:
    with warehouse.transaction() as session:
        ingest_log.record_refresh(session, 0, 0, 0, "t0", "t1")
        rows = session.fetchall("select files, rows_loaded from ingestion_refresh")
    assert [tuple(r) for r in rows] == [(0, 0)]
