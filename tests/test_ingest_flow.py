"""The ingest flows under Prefect's test harness, and the new settings."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from flows.ingest import incoming_refresh, ingest_drops
from ssa.engines import WarehouseError
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.intake.drop_paths import UnusablePathError
from ssa.settings import Settings
from tasks.ingest import ingest_drop, retry_if_it_can_heal
from tests.drops import assert_accounting, bronze_ids, sample, settings_for, write


def test_ingest_drops_reports_each_file(tmp_path, prefect_harness):
    settings = settings_for(tmp_path / "data")
    incoming = settings.paths.incoming_path
    good = write(incoming / "good.csv", sample(120))
    empty = incoming / "empty.csv"
    empty.write_bytes(b"")
    result = asyncio.run(ingest_drops([str(good), str(empty)], settings, refresh=False))
    assert [(f["file_name"], f["status"]) for f in result["files"]] == [
        ("good.csv", "loaded"),
        ("empty.csv", "quarantined"),
    ]
    assert result["rows_loaded"] == len(bronze_ids(settings)) == 120
    assert result["refresh"] is None
    assert_accounting(settings)


def test_an_ingest_run_is_named_after_its_files(tmp_path, prefect_harness):
    """Like the other runs, not Prefect's random 'witty-otter'."""
    from prefect.client.orchestration import get_client

    settings = settings_for(tmp_path / "data")
    drops = [
        write(tmp_path / f"{name}.csv", sample(10, start=date(2026, 10, 8 + n)))
        for n, name in enumerate(("lojas", "pix", "cartao", "boletos"))
    ]
    state = asyncio.run(
        ingest_drops(
            [str(d) for d in drops], settings, refresh=False, return_state=True
        )
    )

    async def name() -> str:
        async with get_client() as client:
            run = await client.read_flow_run(state.state_details.flow_run_id)
            return run.name

    given = asyncio.run(name())
    assert given.startswith("ingest · lojas.csv, pix.csv, cartao.csv +1 more · ")
    assert f"#{str(state.state_details.flow_run_id)[:4]}" in given


def test_incoming_refresh_with_nothing_pending_does_nothing(tmp_path, prefect_harness):
    settings = settings_for(tmp_path / "data")
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        conn.apply_schema()
    assert asyncio.run(incoming_refresh(settings)) == {"refreshed": False, "files": 0}


def test_incoming_refresh_without_a_warehouse_says_so(tmp_path, prefect_harness):
    settings = settings_for(tmp_path / "data")
    with pytest.raises(WarehouseError, match="has no bronze_transactions"):
        asyncio.run(incoming_refresh(settings))


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"ingest": {"stable_seconds": -1}}, "ingest.stable_seconds"),
        ({"ingest": {"debounce_seconds": 10_000}}, "ingest.debounce_seconds"),
        ({"ingest": {"poll_seconds": 0}}, "ingest.poll_seconds"),
        ({"paths": {"incoming_folder": "x"}}, "paths.incoming_folder"),
    ],
)
def test_bad_watcher_settings_name_the_field(override: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Settings(**override)
    assert field in str(err.value)


def test_watched_folders_live_in_the_data_dir_unless_absolute(tmp_path) -> None:
    settings = Settings(paths={"data_dir": tmp_path, "quarantine_dir": "/srv/q"})
    assert settings.paths.incoming_path == tmp_path / "incoming"
    assert settings.paths.processed_path == tmp_path / "processed"
    assert str(settings.paths.quarantine_path) == "/srv/q"


def test_odd_paths_are_reported_in_one_line_and_the_others_load(
    tmp_path, prefect_harness, capsys
):
    from flows.ingest import main

    settings = settings_for(tmp_path / "data")
    outside = tmp_path / "exports"
    first = write(outside / "a.csv", sample(30))
    second = write(outside / "b.csv", sample(30, start=date(2026, 10, 12)))
    (outside / "x.csv").mkdir()
    (outside / "dangling.csv").symlink_to(outside / "gone.csv")
    paths = [
        str(outside / "dangling.csv"),
        str(first),
        str(outside / "x.csv"),
        str(outside / "missing.csv"),
        str(second),
    ]
    code = main([*paths, "--data-dir", str(settings.paths.data_path), "--no-refresh"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines() == [
        f"{outside / 'dangling.csv'}: a dangling symbolic link (to "
        f"{outside / 'gone.csv'})",
        f"{outside / 'x.csv'}: a directory, not a file",
        f"{outside / 'missing.csv'}: no such file",
    ]
    assert "a.csv: loaded, read=30" in out and "b.csv: loaded, read=30" in out
    assert len(bronze_ids(settings)) == 60
    assert_accounting(settings)


def test_the_user_is_told_where_quarantined_rows_went(
    tmp_path, prefect_harness, capsys
):
    """Rows refused from a drop, and a file refused whole: the command's
    line, the run's return and the ingested-files row name the quarantine
    file, so the user can open it."""
    from flows.ingest import main
    from tasks.ingest import ingested_row

    settings = settings_for(tmp_path / "data")
    frame = sample(40)
    frame.loc[5, "amount"] = "0.00"
    mixed = write(tmp_path / "mixed.csv", frame)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = asyncio.run(
        ingest_drops([str(mixed), str(empty)], settings, refresh=False)
    )
    by_name = {f["file_name"]: f for f in result["files"]}
    rows_to = Path(by_name["mixed.csv"]["quarantine_file"])
    file_to = Path(by_name["empty.csv"]["quarantine_file"])
    assert rows_to.parent == file_to.parent == settings.paths.quarantine_path
    assert rows_to.name == "mixed.rejected.csv" and rows_to.is_file()
    assert file_to.name == "empty.csv" and file_to.is_file()
    assert result["quarantine_files"] == [str(rows_to), str(file_to)]
    log_row = {**by_name["mixed.csv"], "log_seq": 1, "missing_columns": None}
    assert ingested_row(log_row)["quarantine_file"] == str(rows_to)
    assert ingested_row(log_row)["source"] == "native"  # the input contract

    again = frame.assign(transaction_id=frame["transaction_id"] + "b")
    code = main(
        [
            str(write(tmp_path / "again.csv", again)),
            "--data-dir",
            str(settings.paths.data_path),
            "--no-refresh",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    rejected = settings.paths.quarantine_path / "again.rejected.csv"
    assert "again.csv: loaded, read=40 loaded=39 rejected=1" in out
    assert f"quarantined to {rejected}" in out


def test_the_exit_code_tells_a_refused_file_from_a_load(
    tmp_path, prefect_harness, capsys
):
    """0 when the files loaded (some rows refused or not), 3 when one was
    quarantined whole or none of its rows loaded: a scheduler can tell."""
    from flows.ingest import main

    settings = settings_for(tmp_path / "data")
    folder = ["--data-dir", str(settings.paths.data_path), "--no-refresh"]
    refused = sample(20).assign(amount="0.00")
    bad = write(tmp_path / "bad.csv", refused)
    assert main([str(bad), *folder]) == 3
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    good = write(tmp_path / "good.csv", sample(20))
    assert main([str(good), str(empty), *folder]) == 3
    # The same rows again under another name: nothing new, nothing refused.
    again = write(tmp_path / "again.csv", sample(20).assign(note=""))
    assert main([str(again), *folder]) == 0
    capsys.readouterr()
    later = write(tmp_path / "later.csv", sample(20, start=date(2026, 10, 20)))
    assert main([str(later), *folder[:2]]) == 0
    out = capsys.readouterr().out
    alerts = len(pd.read_csv(settings.paths.gold_anomalies_csv))
    assert f"Silver/Gold refreshed: {alerts:,} alerts (no risk model" in out
    assert f"Dashboard: {settings.paths.dashboard_html.as_uri()}" in out


def test_a_path_that_breaks_after_the_check_fails_without_retries(
    tmp_path, prefect_harness, monkeypatch
):
    import flows.ingest

    settings = settings_for(tmp_path / "data")
    good = write(tmp_path / "good.csv", sample(20))
    gone = tmp_path / "gone.csv"
    # The flow's look finds both usable; the task finds one missing.
    monkeypatch.setattr(
        flows.ingest, "split_usable", lambda paths: ([Path(p) for p in paths], [])
    )
    result = asyncio.run(ingest_drops([str(gone), str(good)], settings, refresh=False))
    assert result["problems"] == [
        f"{gone}: failed (UnusablePathError: {gone}: no such file)"
    ]
    assert [f["file_name"] for f in result["files"]] == ["good.csv"]


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (FileNotFoundError("x.csv"), False),
        (IsADirectoryError("x.csv"), False),
        (PermissionError("x.csv"), False),
        (UnusablePathError("x.csv: a directory, not a file"), False),
        (sqlite3.OperationalError("database is locked"), True),
        (OSError(28, "No space left on device"), True),
    ],
)
def test_only_what_can_heal_is_retried(error: BaseException, retried: bool) -> None:
    from prefect.states import Failed

    assert ingest_drop.retry_condition_fn is retry_if_it_can_heal
    assert retry_if_it_can_heal(ingest_drop, None, Failed(data=error)) is retried


def test_a_drop_into_a_duckdb_folder_is_refreshed_incrementally(
    tmp_path, prefect_harness
):
    """The watched folder on DuckDB: the one-shot ingest follows the folder's
    warehouse, loads the drop and refreshes only what it touches, through to
    gold_anomalies.csv."""
    import pandas as pd

    from ssa.engines import engine_in, open_warehouse
    from ssa.generator import generate
    from ssa.settings import sql_params
    from tasks.bronze import _load

    settings = settings_for(tmp_path / "data").model_copy(update={"engine": "duckdb"})
    _load(generate(settings), settings)
    warehouse = open_warehouse(settings)
    warehouse.build_silver(sql_params(settings))
    warehouse.build_gold(sql_params(settings))
    assert engine_in(settings_for(tmp_path / "data")) == "duckdb"
    drop = write(settings.paths.incoming_path / "next-week.csv", sample(80))
    # As the watcher does: load, then the refresh as a run of its own.
    result = asyncio.run(ingest_drops([str(drop)], settings, refresh=False))
    assert result["rows_loaded"] == 80
    refreshed = asyncio.run(incoming_refresh(settings))
    assert refreshed["silver"]["mode"] == "incremental"
    new = set(sample(80)["transaction_id"])
    with warehouse.transaction() as session:
        for table in ("silver_transactions", "gold_transaction_risk"):
            assert new <= set(session.read_table(table)["transaction_id"]), table
        flagged = set(session.read_table("gold_anomalies")["transaction_id"])
    exported = pd.read_csv(settings.paths.gold_anomalies_csv)
    assert set(exported["transaction_id"]) == flagged


HEADLINE_KEYS = {
    "run-summary",
    "top-anomalies",
    "detection-report",
    "detection-report-details",
    "dashboard",
    "output-files",
}


def test_ingest_drops_carries_the_headline_not_a_subflow(tmp_path, prefect_harness):
    """`python -m flows.ingest FILE` launches one run, ingest-drops: the run
    summary, findings and dashboard picture are on it, as on the daily run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
    )

    settings = settings_for(tmp_path / "data")
    drop = write(settings.paths.incoming_path / "lote.csv", sample(120))
    state = asyncio.run(ingest_drops([str(drop)], settings, return_state=True))
    assert state.is_completed(), state
    launched = state.state_details.flow_run_id

    async def published():
        async with get_client() as client:
            children = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[launched])
                )
            )
            ids = [launched, *(c.id for c in children)]
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=ids)
                )
            )
        return children, artifacts

    children, artifacts = asyncio.run(published())
    assert [c.name for c in children] == ["silver-gold 1 batch"]
    on_launched = {a.key for a in artifacts if a.flow_run_id == launched}
    assert on_launched >= HEADLINE_KEYS | {"ingested-files"}
    for artifact in artifacts:
        if artifact.key in HEADLINE_KEYS:
            assert artifact.flow_run_id == launched, artifact.key
            assert artifact.task_run_id is None, artifact.key
    result = state.result()
    assert result["refresh"]["refreshed"] is True
    assert result["refresh"]["files"] == 1
