"""flows.rebuild: Silver and Gold again from a folder's own Bronze, nothing
generated, as a user re-scores their exports after training."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from flows.rebuild import main
from ssa.intake.ingest import ingest_file

EXAMPLE = Path(__file__).resolve().parents[1] / "sources" / "examples"


def _ingest_an_export(settings) -> int:
    """The Sparkov example into the folder's Bronze, as a user's export: its
    rows loaded."""
    path = settings.paths.incoming_path / "sparkov" / "cards.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes((EXAMPLE / "sparkov_example.csv").read_bytes())
    return ingest_file(path, settings, source="sparkov").rows_loaded


def test_a_folder_of_exports_is_rebuilt_without_a_synthetic_month(
    settings, prefect_harness, capsys
):
    loaded = _ingest_an_export(settings)
    assert loaded > 0 and not settings.paths.gold_anomalies_csv.exists()

    assert main(["--data-dir", str(settings.paths.data_path)]) == 0
    out = capsys.readouterr().out
    with sqlite3.connect(settings.warehouse_path) as conn:
        sources = {s for (s,) in conn.execute("select source from bronze_transactions")}
        silver = conn.execute("select count(*) from silver_transactions").fetchone()
    assert not any(s.startswith("generator:") for s in sources)
    assert silver == (loaded,)
    alerts = len(pd.read_csv(settings.paths.gold_anomalies_csv))
    assert f"Done: {loaded:,} transactions" in out
    assert f"{alerts:,} alerts (no risk model" in out
    assert settings.paths.dashboard_html.exists()


def test_a_folder_without_a_warehouse_is_refused_in_one_line(tmp_path, capsys):
    empty = tmp_path / "nothing"
    assert main(["--data-dir", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: no warehouse in {empty}")
    assert "\n" not in err


def test_the_medallion_refuses_a_folder_of_exports(settings, capsys):
    from flows.medallion import main as medallion

    _ingest_an_export(settings)
    folder = settings.paths.data_path
    assert medallion(["--data-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder} holds only ingested files" in err
    assert f"python -m flows.rebuild --data-dir {folder}" in err


def test_a_folder_of_unlabelled_exports_is_rebuilt(settings, prefect_harness, capsys):
    """An internet-banking export carries no labels: the report then lists
    only what each rule could judge, and the run's summary, which read
    precision and recall from it, failed the rebuild with KeyError."""
    path = settings.paths.incoming_path / "internet_banking_br" / "extrato.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes((EXAMPLE / "internet_banking_br_example.csv").read_bytes())
    loaded = ingest_file(path, settings, source="internet_banking_br").rows_loaded
    assert loaded > 0

    assert main(["--data-dir", str(settings.paths.data_path)]) == 0
    assert f"Done: {loaded:,} transactions" in capsys.readouterr().out
