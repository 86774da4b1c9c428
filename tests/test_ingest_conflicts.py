"""A row sent again: unchanged it is a duplicate, changed it is a conflict,
kept beside the stored version in the quarantine and never loaded over it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ssa.intake.ingest import ingest_file
from tests.drops import assert_accounting, log_rows, query, sample, write


def read_conflicts(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def stored_cents(settings, transaction_id: str) -> int:
    rows = query(
        settings,
        "select amount_cents from bronze_transactions "
        f"where transaction_id = '{transaction_id}'",
    )
    return rows[0][0]


def test_a_resent_file_with_three_amounts_changed_gives_three_conflicts(
    settings, incoming
):
    frame = sample(300)
    first = ingest_file(write(incoming / "export.csv", frame), settings)
    assert first.rows_loaded == 300
    ids = frame.loc[[10, 150, 299], "transaction_id"].tolist()
    before = {i: stored_cents(settings, i) for i in ids}
    changed = frame.copy()
    changed.loc[[10, 150, 299], "amount"] = ["1.00", "2.00", "3.00"]
    again = ingest_file(write(incoming / "export.csv", changed), settings)

    assert (again.rows_loaded, again.rows_rejected, again.rows_duplicate) == (0, 3, 297)
    assert "3 ids already in Bronze with other content" in again.detail
    # Bronze keeps what it had: Silver and Gold judged that version.
    assert {i: stored_cents(settings, i) for i in ids} == before
    conflicts_to = Path(again.rejected_to).with_name("export.conflicts.csv")
    assert not Path(again.rejected_to).exists()  # no row failed a check
    both = read_conflicts(conflicts_to)
    assert both["transaction_id"].tolist() == [i for i in ids for _ in range(2)]
    assert both["version"].tolist() == ["stored", "incoming"] * 3
    assert both["source_line"].tolist() == ["12", "12", "152", "152", "301", "301"]
    assert set(both["differs"]) == {"amount_cents"}
    assert both["amount_cents"].tolist()[1::2] == ["100", "200", "300"]
    assert both["amount_cents"].tolist()[::2] == [str(before[i]) for i in ids]
    assert set(both["source"]) == {"file:export.csv"}
    assert_accounting(settings)


def test_unchanged_rows_sent_again_stay_duplicates(settings, incoming):
    frame = sample(120)
    ingest_file(write(incoming / "first.csv", frame.iloc[:80]), settings)
    result = ingest_file(write(incoming / "overlap.csv", frame.iloc[50:]), settings)
    assert (result.rows_loaded, result.rows_rejected, result.rows_duplicate) == (
        40,
        0,
        30,
    )
    assert result.rejected_to is None
    assert not list(settings.paths.quarantine_path.glob("*.conflicts.csv"))
    assert_accounting(settings)


def test_a_value_that_was_missing_is_a_conflict_too(settings, incoming):
    header = "transaction_id,created_at,customer_id,channel,amount,bairro"
    path = incoming / "a.csv"
    path.write_text(f"{header}\nt1,2026-10-01 08:15,C1,pix,10.00,Barra\n")
    ingest_file(path, settings)
    later = incoming / "b.csv"
    later.write_text(
        f"{header},payee_type\nt1,2026-10-01 08:15,C1,pix,10.00,Barra,PJ\n"
    )
    result = ingest_file(later, settings)
    assert (result.rows_rejected, result.rows_duplicate) == (1, 0)
    both = read_conflicts(Path(result.rejected_to).with_name("b.conflicts.csv"))
    assert both["differs"].tolist() == ["payee_type", "payee_type"]
    assert both["payee_type"].tolist() == ["", "PJ"]
    assert both["source"].tolist() == ["file:a.csv", "file:b.csv"]
    assert_accounting(settings)


def test_conflicts_and_rejected_rows_of_one_file_are_counted_apart(settings, incoming):
    frame = sample(60)
    ingest_file(write(incoming / "first.csv", frame), settings)
    again = frame.copy()
    again.loc[0, "amount"] = "7.77"  # a conflict
    again.loc[1, "amount"] = "0"  # fails a check
    result = ingest_file(write(incoming / "again.csv", again), settings)
    assert (result.rows_rejected, result.rows_duplicate) == (2, 58)
    rejected = pd.read_csv(result.rejected_to, dtype=str, encoding="utf-8-sig")
    assert rejected["reason"].tolist() == ["amount '0' must be more than zero"]
    conflicts = read_conflicts(
        Path(result.rejected_to).with_name("again.conflicts.csv")
    )
    assert conflicts["transaction_id"].nunique() == 1
    assert_accounting(settings)


def test_killed_before_the_conflicts_are_written_the_rerun_writes_them(
    settings, incoming, monkeypatch
):
    frame = sample(40)
    ingest_file(write(incoming / "first.csv", frame), settings)
    frame.loc[3, "amount"] = "9.99"
    path = write(incoming / "again.csv", frame)

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # the process dies right after the commit

    monkeypatch.setattr("ssa.intake.conflicts.write_conflicts", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest_file(path, settings)
    monkeypatch.undo()
    result = ingest_file(path, settings)
    assert "resumed" in result.detail
    both = read_conflicts(Path(result.rejected_to).with_name("again.conflicts.csv"))
    assert both["version"].tolist() == ["stored", "incoming"]
    assert [r["status"] for r in log_rows(settings)] == ["loaded", "loaded"]
    assert_accounting(settings)
