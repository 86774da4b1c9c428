"""One drop into the warehouse: split, quarantine, exactly once, accounting.

Every test ends with the accounting identity over the whole ingestion log.
"""

from __future__ import annotations

import codecs
import signal
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from flows.make_drop import main as make_drop_main
from ssa.engines import incremental
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.intake.ingest import ingest_file
from ssa.models import SILVER
from ssa.settings import sql_params
from tests.drops import (
    assert_accounting,
    bronze_ids,
    kill_9_once_marked,
    log_rows,
    query,
    sample,
    write,
)


def test_a_good_drop_loads_every_row_and_moves_to_processed(settings, incoming):
    frame = sample(120)
    path = write(incoming / "good.csv", frame)
    result = ingest_file(path, settings)
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 120, 120)
    assert sorted(bronze_ids(settings)) == sorted(frame["transaction_id"])
    archived = Path(result.archived_to)
    assert archived.parent.parent == settings.paths.processed_path
    assert archived.read_bytes() and not path.exists()
    assert result.rejected_to is None
    assert_accounting(settings)


def test_mixed_rows_split_with_reasons_and_lines(settings, incoming):
    original = sample(120)
    frame = original.copy()
    frame.loc[10, "amount"] = "-3,00"
    frame.loc[20, "created_at"] = "ontem"
    frame.loc[30, ["bairro", "lat", "lon"]] = ["Atlântida", "", ""]
    frame.loc[40, "transaction_id"] = frame.loc[39, "transaction_id"]
    path = write(incoming / "mixed.csv", frame, sep=";")
    result = ingest_file(path, settings)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (
        120,
        116,
        4,
    )
    # The line the watcher and the ingest command show names the file.
    assert result.summary().endswith(f"; quarantined to {result.rejected_to}")
    rejected = pd.read_csv(
        result.rejected_to,
        sep=";",
        dtype=str,
        keep_default_na=False,
        encoding="utf-8-sig",
    )
    # Line 1 is the header: frame row i is on line i + 2.
    assert dict(
        zip(rejected["source_line"].astype(int), rejected["reason"], strict=True)
    ) == {
        12: "amount '-3,00' must be more than zero",
        22: "created_at 'ontem' is not an ISO-8601 date and time",
        32: "no usable location: bairro 'Atlântida' is not a Salvador bairro "
        "and no lat/lon",
        42: f"duplicate transaction_id '{frame.loc[39, 'transaction_id']}' "
        "(first at line 41)",
    }
    # The rejected file keeps the original columns: fix it and drop it again
    # (source_line and reason are ignored as extra columns).
    assert list(rejected.columns[2:]) == list(frame.columns)
    fixed = rejected.drop(index=3)
    fixed.loc[0, "amount"] = original.loc[10, "amount"]
    fixed.loc[1, "created_at"] = original.loc[20, "created_at"]
    fixed.loc[2, "bairro"] = "Barra"
    again = ingest_file(write(incoming / "fixed.csv", fixed, sep=";"), settings)
    assert (again.rows_read, again.rows_loaded, again.rows_rejected) == (3, 3, 0)
    assert len(bronze_ids(settings)) == 119
    assert_accounting(settings)


@pytest.mark.parametrize(
    ("data", "kind", "says"),
    [
        (b"", "empty", "the file is empty"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64, "not_csv", "ZIP archive"),
        (
            "transaction_id,created_at,customer_id,channel,amount,bairro\n"
            "t1,2026-10-01 08:15,C1,pix,10.00,São Marcos\n".encode("cp1252"),
            "encoding",
            "not UTF-8",
        ),
        (
            b"transaction_id;created_at;customer_id;channel;valor;bairro\n"
            b"t1;2026-10-01 08:15;C1;pix;10,00;Barra\n",
            "header",
            "the header lacks amount",
        ),
        (
            b"id,Created (UTC),Amount,Currency,Status\nch_1,2026-10-01,10,brl,paid\n",
            "foreign_schema",
            "another system's export",
        ),
    ],
)
def test_file_level_errors_quarantine_the_file_with_its_message(
    settings, incoming, data, kind, says
):
    path = incoming / "export.csv"
    path.write_bytes(data)
    result = ingest_file(path, settings)
    assert result.status == "quarantined"
    quarantined = settings.paths.quarantine_path / "export.csv"
    assert result.summary().endswith(f"; quarantined to {quarantined}")
    assert quarantined.read_bytes() == data and not path.exists()
    error = (settings.paths.quarantine_path / "export.error.txt").read_text("utf-8")
    assert "File: export.csv" in error
    assert says in error
    assert f"({kind})" in error
    assert "Expected: " in error and "Found: " in error
    assert "section 'Input contract'" in error
    [row] = log_rows(settings)
    assert (row["status"], row["rows_read"]) == ("quarantined", 0)
    assert says in row["detail"]
    assert bronze_ids(settings) == []
    assert_accounting(settings)


def test_same_name_quarantined_twice_keeps_both_with_their_errors(settings, incoming):
    for data in (b"", b"hello\n"):
        (incoming / "export.csv").write_bytes(data)
        ingest_file(incoming / "export.csv", settings)
    names = {p.name for p in settings.paths.quarantine_path.iterdir()}
    files = {n[: -len(".csv")] for n in names if n.endswith(".csv")}
    errors = {n[: -len(".error.txt")] for n in names if n.endswith(".error.txt")}
    assert len(names) == 4 and files == errors and "export" in files


def test_same_content_twice_is_not_loaded_again(settings, incoming):
    frame = sample(120)
    first = ingest_file(write(incoming / "a.csv", frame), settings)
    second = ingest_file(write(incoming / "copy of a.csv", frame), settings)
    third = ingest_file(write(incoming / "a.csv", frame), settings)
    assert first.status == "loaded"
    assert second.status == third.status == "duplicate_file"
    assert "same content as 'a.csv'" in second.detail
    assert len(bronze_ids(settings)) == 120
    # Both copies are filed away, neither overwrites the first.
    day = Path(first.archived_to).parent
    assert len(list(day.iterdir())) == 3
    assert_accounting(settings)


def test_ids_already_in_bronze_are_skipped_and_counted(settings, incoming):
    frame = sample(120)
    ingest_file(write(incoming / "first.csv", frame.iloc[:80]), settings)
    result = ingest_file(write(incoming / "overlap.csv", frame.iloc[50:]), settings)
    assert (result.rows_read, result.rows_loaded, result.rows_duplicate) == (70, 40, 30)
    assert sorted(bronze_ids(settings)) == sorted(frame["transaction_id"])
    assert_accounting(settings)


def test_an_error_inside_the_transaction_leaves_nothing_behind(settings, incoming):
    path = write(incoming / "drop.csv", sample(120))

    def fail() -> None:
        assert len(query(settings, "select 1 from bronze_transactions")) == 0
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        ingest_file(path, settings, before_commit=fail)
    assert bronze_ids(settings) == [] and log_rows(settings) == []
    assert path.exists()
    result = ingest_file(path, settings)
    assert result.rows_loaded == len(set(bronze_ids(settings))) == 120
    assert_accounting(settings)


KILLED_INGEST = """
import sys, time
from pathlib import Path
from ssa.intake.ingest import ingest_file
from tests.drops import settings_for

def hang():
    Path(sys.argv[3]).write_text("rows written, not committed")
    time.sleep(600)

ingest_file(Path(sys.argv[2]), settings_for(Path(sys.argv[1])), before_commit=hang)
"""


def test_kill_9_mid_file_then_rerun_loads_it_once(settings, incoming, tmp_path):
    frame = sample(120)
    path = write(incoming / "drop.csv", frame)
    marker = tmp_path / "in-transaction"
    code = kill_9_once_marked(
        KILLED_INGEST,
        str(settings.paths.data_path),
        str(path),
        str(marker),
        marker=marker,
    )
    assert code == -signal.SIGKILL
    assert bronze_ids(settings) == [] and log_rows(settings) == []
    assert path.exists()
    result = ingest_file(path, settings)
    ids = bronze_ids(settings)
    assert result.rows_loaded == len(ids) == len(set(ids)) == 120
    assert_accounting(settings)


def test_killed_after_commit_the_rerun_only_files_it_away(
    settings, incoming, monkeypatch
):
    frame = sample(120)
    frame.loc[5, "amount"] = "0"
    path = write(incoming / "drop.csv", frame)

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # the process dies right after the commit

    monkeypatch.setattr("ssa.intake.ingest.write_rejected", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest_file(path, settings)
    monkeypatch.undo()
    assert path.exists() and len(bronze_ids(settings)) == 119
    result = ingest_file(path, settings)
    assert result.status == "loaded" and "resumed" in result.detail
    assert Path(result.archived_to).exists() and Path(result.rejected_to).exists()
    assert [r["status"] for r in log_rows(settings)] == ["loaded"]
    assert len(bronze_ids(settings)) == 119
    assert_accounting(settings)


def test_rules_do_not_fire_on_fields_a_file_lacks(settings, incoming):
    """Three night Pix of R$ 600 to a person: over the R$ 1.000 night limit
    only if we know payer and payee are people and not the same owner."""
    header = "transaction_id,created_at,customer_id,channel,amount,bairro"
    rows = [f"n{i},2026-10-01 22:0{i},C9,pix,600.00,Barra" for i in range(3)]
    without = write_text(incoming / "without.csv", "\n".join([header, *rows]))
    with_fields = write_text(
        incoming / "with.csv",
        "\n".join(
            [header + ",payer_type,payee_type,is_same_owner"]
            + [f"w{r[1:]},PF,PF,0" for r in rows]
        ),
    )
    ingest_file(without, settings)
    ingest_file(with_fields, settings)
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        incremental.rebuild(conn, SILVER, sql_params(settings))
        flagged = {
            r[0]
            for r in conn.fetchall(
                "select transaction_id from silver_transactions "
                "where is_night_pix_limit = 1"
            )
        }
    assert flagged == {"w1", "w2"}  # 1.200 and 1.800 over the 1.000 limit
    [without_log, _] = log_rows(settings)
    assert "payee_type" in without_log["missing_columns"]


def write_text(path: Path, text: str) -> Path:
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_make_drop_writes_a_contract_file_atomically(settings, capsys):
    out = settings.paths.incoming_path
    code = make_drop_main(
        [
            "--rows",
            "150",
            "--customers",
            "40",
            "--style",
            "brazilian",
            "--bad-rows",
            "5",
            "--start",
            "2026-10-20",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    # No .part file left behind; the planted labels sit in labels/ beside it.
    [path, labels] = sorted(out.iterdir(), key=lambda p: p.is_dir())
    assert path.name == "transactions-2026-10-20-seed42-150.csv"
    assert [p.name for p in labels.iterdir()] == [
        "transactions-2026-10-20-seed42-150.labels.csv"
    ]
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    result = ingest_file(path, settings)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (150, 145, 5)
    assert_accounting(settings)


def test_make_drop_rejects_bad_arguments(capsys):
    assert make_drop_main(["--rows", "0"]) == 2
    assert "--rows" in capsys.readouterr().err


def test_drops_of_other_days_are_new_rows_for_the_same_customers():
    first, later = sample(120, date(2026, 10, 8)), sample(120, date(2026, 10, 12))
    assert first["created_at"].min() >= "2026-10-08"
    assert later["created_at"].min() >= "2026-10-12"
    assert not set(first["transaction_id"]) & set(later["transaction_id"])
    assert set(later["customer_id"]) <= {f"C{i:07d}" for i in range(1, 41)}
    pd.testing.assert_frame_equal(sample(120, date(2026, 10, 8)), first)
