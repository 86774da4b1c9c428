"""Exports people open in Google Sheets: safe cells, readable values."""

from __future__ import annotations

import csv
import sqlite3

import pandas as pd

from ssa.engines import TableCsv
from ssa.engines.base import FORMULA_START
from ssa.engines.duckdb_warehouse import DuckDBWarehouse
from ssa.engines.sqlite_csv import write_table_csv
from ssa.local_time import iso_local, local_date
from ssa.report.exports import reasons, sheet_safe, write_csv
from ssa.wording import reais


def test_formula_cells_are_neutralised_numbers_are_not(tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x")', "+5511", "-cmd", "@SUM(A1)", "Ana"],
            "lon": [-38.5, -38.4, -38.3, -38.2, -38.1],
        }
    )
    safe = sheet_safe(frame)
    assert list(safe["name"]) == [
        '\'=HYPERLINK("http://x")',
        "'+5511",
        "'-cmd",
        "'@SUM(A1)",
        "Ana",
    ]
    assert safe["lon"].tolist() == frame["lon"].tolist()
    path = tmp_path / "out.csv"
    write_csv(frame, path)
    text = path.read_text(encoding="utf-8")
    assert "\n'+5511,-38.4\n" in text
    assert "\n\"'=HYPERLINK" in text
    assert not list(tmp_path.glob(".*.tmp"))


def test_counts_with_empty_cells_print_as_integers(tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "probes": [5.0, None, 8.0],  # an integer column with a NULL
            "ratio": [1.5, None, 2.0],
            "whole": [1.0, 2.0, 3.0],  # no empty cell: left alone
        }
    )
    path = tmp_path / "out.csv"
    write_csv(frame, path)
    assert path.read_text(encoding="utf-8").splitlines() == [
        "probes,ratio,whole",
        "5,1.5,1.0",
        ",,2.0",
        "8,2.0,3.0",
    ]


def test_iso_local_time_has_the_bahia_offset() -> None:
    out = iso_local(pd.Series([1_790_823_600, None]), -10_800)
    assert out.iloc[0] == "2026-10-01T00:00:00-03:00"
    assert pd.isna(out.iloc[1])


def test_local_date_and_money() -> None:
    assert local_date(pd.Series([20727])).iloc[0] == "2026-10-01"
    assert reais(pd.Series([123_456, 5])).tolist() == ["R$ 1.234,56", "R$ 0,05"]


def test_reasons_read_like_sentences() -> None:
    from ssa.rules import RULES

    row = {f"is_{r}": 0 for r in RULES} | {
        "is_impossible_travel": 1,
        "is_night_pix_limit": 1,
        "distance_km": 12.04,
        "minutes_since_prev": 4.0,
        "implied_speed_kmh": 180.6,
        "night_running_cents": 152_300,
        "night_limit_cents": 100_000,
    }
    text = reasons(pd.DataFrame([row])).iloc[0]
    assert text == (
        "moved 12.0 km in 4.0 min (181 km/h) since the previous payment; "
        "night Pix to people totals R$ 1.523,00, over the R$ 1.000,00 night limit"
    )


ROWS = [
    ("b", 1_790_823_660, '=HYPERLINK("http://x")', -38.5, None),
    ("a", 1_790_823_660, "Caixa D'Água, Salvador", -38.25, 7),
    ("c", 1_790_823_600, "+5511", None, 1),
    ("d", 1_790_910_000, "linha\nnova", -38.125, 2),
]
# Both engines write these cells: times in Bahia, text sheet-safe and quoted
# where needed, numbers as numbers, NULL empty, in (time, id) order.
EXPECTED = [
    ["id", "at", "at_epoch", "name", "lon", "n"],
    ["c", "2026-10-01T00:00:00-03:00", "1790823600", "'+5511", "", "1"],
    [
        "a",
        "2026-10-01T00:01:00-03:00",
        "1790823660",
        "Caixa D'Água, Salvador",
        "-38.25",
        "7",
    ],
    [
        "b",
        "2026-10-01T00:01:00-03:00",
        "1790823660",
        '\'=HYPERLINK("http://x")',
        "-38.5",
        "",
    ],
    ["d", "2026-10-02T00:00:00-03:00", "1790910000", "linha\nnova", "-38.125", "2"],
]
LAYOUT = {
    "order_by": ("at_epoch", "id"),
    "iso_times": {"at": "at_epoch"},
    "utc_offset_seconds": -10_800,
}


def _cells(path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_no_gold_export_carries_a_control_character(tmp_path) -> None:
    frame = pd.DataFrame({"customer_id": ["c\x00001", "ok", "\x1b=cmd"]})
    path = tmp_path / "out.csv"
    write_csv(frame, path)
    text = path.read_text(encoding="utf-8")
    assert "\x00" not in text and "\x1b" not in text
    assert "c\ufffd001" in text and "\ufffd=cmd" in text


def _sqlite_table(db, rows) -> None:
    """Table t of the export tests, in a SQLite file."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "create table t (id text, at_epoch int, name text, lon real, n int)"
        )
        conn.executemany("insert into t values (?, ?, ?, ?, ?)", rows)


def _duckdb_table(path, rows) -> DuckDBWarehouse:
    """The same table t in a DuckDB warehouse."""
    warehouse = DuckDBWarehouse(path)
    with warehouse.transaction() as session:
        session.execute(
            "create table t (id varchar, at_epoch bigint, name varchar, "
            "lon double, n bigint)"
        )
        session.executemany("insert into t values (?, ?, ?, ?, ?)", rows)
    return warehouse


def test_table_export_is_sheet_safe_quoted_and_in_order(tmp_path) -> None:
    db = tmp_path / "w.db"
    _sqlite_table(db, ROWS)
    out = tmp_path / "t.csv"
    assert write_table_csv(db, "t", out, TableCsv(**LAYOUT), workers=2) == 4
    assert _cells(out) == EXPECTED
    assert not list(tmp_path.glob(".t.csv*"))


def test_duckdb_table_export_writes_the_same_cells(tmp_path) -> None:
    out = tmp_path / "t.csv"
    warehouse = _duckdb_table(tmp_path / "w.duckdb", ROWS)
    assert warehouse.write_table_csv("t", out, TableCsv(**LAYOUT)) == 4
    assert _cells(out) == EXPECTED
    assert not list(tmp_path.glob(".t.csv*"))


def test_every_risky_first_character_is_neutralised_by_both_engines(tmp_path) -> None:
    """Each character a sheet evaluates, and text that starts just beside
    them (the DuckDB export clears most cells by one comparison first)."""
    names = [f"{c}x" for c in FORMULA_START] + ["", "?x", "Ax", "0x", "ñx", "x=1"]
    rows = [(f"r{i:02d}", 1_790_823_600 + i, n, None, i) for i, n in enumerate(names)]
    expected = [("'" + n) if n.startswith(FORMULA_START) else n for n in names]
    db = tmp_path / "w.db"
    _sqlite_table(db, rows)
    warehouse = _duckdb_table(tmp_path / "w.duckdb", rows)
    lite, duck = tmp_path / "lite.csv", tmp_path / "duck.csv"
    write_table_csv(db, "t", lite, TableCsv(**LAYOUT), workers=1)
    warehouse.write_table_csv("t", duck, TableCsv(**LAYOUT))
    assert [row[3] for row in _cells(duck)[1:]] == expected
    assert duck.read_bytes() == lite.read_bytes()
