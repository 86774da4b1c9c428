"""The whole medallion flow under Prefect's test harness, on a small month."""

from __future__ import annotations

import asyncio
import csv
import re
import sqlite3

import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.console import summary
from flows.medallion import medallion_pipeline
from ssa.rules import RULES
from ssa.settings import Settings

ARTIFACT_KEYS = {
    "pipeline-summary",
    "run-summary",
    "top-anomalies",
    "detection-report",
    "detection-report-details",
    "dashboard",
    "precision-recall",
    "output-files",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory, prefect_harness):
    data = tmp_path_factory.mktemp("data")
    settings = Settings(
        paths={"data_dir": data},
        generator={"n_customers": 600, "n_merchants": 120, "days": 14},
    )
    result = asyncio.run(medallion_pipeline(settings))
    return settings, result


def test_files_exist_and_gold_holds_the_flagged_and_the_unusual(run) -> None:
    settings, result = run
    paths = settings.paths
    silver = pd.read_csv(paths.silver_csv)
    gold = pd.read_csv(paths.gold_anomalies_csv)
    assert len(silver) == result["silver"]["rows"] > 0
    assert 0 < len(gold) < len(silver)
    # Every row a rule flagged; besides them only rows the anomaly score
    # alone made an alert (no model here), from level_medium up.
    flagged = gold["anomaly_flag"] != "Normal"
    assert set(gold.loc[flagged, "transaction_id"]) == set(
        silver.loc[silver["anomaly_flag"] != "Normal", "transaction_id"]
    )
    unusual = gold[~flagged]
    assert (unusual["anomaly_points"] >= settings.risk.level_medium).all()
    assert unusual["reasons"].str.startswith("unusual: ").all()
    assert gold["risk_score"].is_monotonic_decreasing
    assert gold["risk_score"].between(1, 100).all()
    assert gold["reasons"].str.len().gt(0).all()
    for path in (
        paths.gold_customer_csv,
        paths.gold_bairro_daily_csv,
        paths.detection_report_csv,
    ):
        assert path.exists() and path.stat().st_size > 0


def test_the_last_line_counts_the_csv_and_names_what_scored_it(run) -> None:
    settings, result = run
    alerts = len(pd.read_csv(settings.paths.gold_anomalies_csv))
    line = summary(result, settings)
    assert f"{alerts:,} alerts (no risk model: python -m flows.train" in line
    scored = {**result, "model": {**result["model"], "version": 3}}
    assert f"{alerts:,} alerts (risk model v3) -> " in summary(scored, settings)


def test_gold_masks_cpf_and_uses_iso_times(run) -> None:
    settings, _ = run
    with settings.paths.gold_anomalies_csv.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert all(
        re.fullmatch(r"\*\*\*\.\d{3}\.\d{3}-\*\*", r["customer_cpf_masked"])
        for r in rows
    )
    assert "cpf" not in rows[0]
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-03:00", r["created_at"])
        for r in rows
    )
    text = settings.paths.gold_anomalies_csv.read_text(encoding="utf-8")
    assert not re.search(r"\d{3}\.\d{3}\.\d{3}-\d{2}", text)  # no full CPF anywhere


def test_spreadsheets_lead_with_what_people_read_names_masked(run) -> None:
    from ssa.documents import mask_name
    from ssa.report.exports import ANOMALY_LEAD_COLUMNS, CUSTOMER_LEAD_COLUMNS

    settings, _ = run
    paths = settings.paths
    gold = pd.read_csv(paths.gold_anomalies_csv)
    customers = pd.read_csv(paths.gold_customer_csv)
    assert tuple(gold.columns[: len(ANOMALY_LEAD_COLUMNS)]) == ANOMALY_LEAD_COLUMNS
    assert tuple(customers.columns[: len(CUSTOMER_LEAD_COLUMNS)]) == (
        CUSTOMER_LEAD_COLUMNS
    )
    with sqlite3.connect(settings.warehouse_path) as conn:
        names = dict(conn.execute("select customer_id, name from bronze_customers"))
    for frame in (gold, customers):
        expected = frame["customer_id"].map(names).map(mask_name)
        assert (frame["customer_name"] == expected).all()
    sheets = pd.read_csv(paths.gold_sheets_csv, dtype=str)
    assert list(sheets["transaction_id"]) == list(gold["transaction_id"])
    assert sheets["bairro_location"].str.fullmatch(r"-\d+\.\d{5},-\d+\.\d{5}").all()
    assert sheets["date_time"].str.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d").all()
    assert sheets["amount_reais"].str.fullmatch(r"\d+,\d\d").all()


def test_tables_and_a_second_run_adds_no_duplicates(run) -> None:
    settings, result = run
    asyncio.run(medallion_pipeline(settings))
    with sqlite3.connect(settings.warehouse_path) as conn:
        count, distinct = conn.execute(
            "select count(*), count(distinct transaction_id) from bronze_transactions"
        ).fetchone()
        silver = conn.execute("select count(*) from silver_transactions").fetchone()[0]
        labels = conn.execute("select count(*) from ground_truth_labels").fetchone()[0]
    assert count == distinct == result["bronze"]["bronze_transactions"] == silver
    assert labels == result["bronze"]["ground_truth_labels"] > 0


def test_detection_report_meets_the_quality_bar(run) -> None:
    """Every rule catches its planted scenario without burying it in false
    alarms, look-alikes included. At this small size a rule has only a few
    incidents, so the bar is lower than at the default size (recall 0.9,
    precision 0.8, shown in the README's report and the benchmark)."""
    _, result = run
    assert tuple(r["rule"] for r in result["detection"]) == RULES
    for rule in result["detection"]:
        assert rule["recall"] >= 0.6, rule
        assert rule["precision"] >= 0.8, rule
        assert 0 <= rule["precision_at_real_prevalence"] <= rule["precision"], rule
        assert rule["lookalikes_flagged"] <= rule["false_positives"], rule


def test_artifacts_are_on_the_launched_run_not_its_subflow(run) -> None:
    async def published() -> dict[str, list]:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=sorted(ARTIFACT_KEYS))
                )
            )
            runs = {
                a.flow_run_id: await client.read_flow_run(a.flow_run_id)
                for a in artifacts
            }
        by_key: dict[str, list] = {}
        for a in artifacts:
            by_key.setdefault(a.key, []).append((a, runs[a.flow_run_id]))
        return by_key

    by_key = asyncio.run(published())
    assert set(by_key) == ARTIFACT_KEYS
    for key, found in by_key.items():
        for artifact, flow_run in found:
            assert flow_run.parent_task_run_id is None, (key, flow_run.name)
            assert artifact.task_run_id is None, key
    # The harness's server may hold other tests' runs (an ingest of reported
    # labels): read this month's, the medallion run's.
    ours = {
        key: [a for a, flow_run in found if flow_run.name.startswith("medallion")]
        for key, found in by_key.items()
    }
    image, *_ = ours["dashboard"]
    assert image.data.startswith("data:image/png;base64,")
    chart, *_ = ours["precision-recall"]
    assert chart.data.startswith("data:image/png;base64,")
    assert "Precision-recall, synthetic labels" in chart.description
    files, *_ = ours["output-files"]
    assert "data/dashboard.html" in files.data or "dashboard.html" in files.data
    assert "file://" not in files.data


def test_every_run_writes_the_dashboard(run) -> None:
    settings, result = run
    page = settings.paths.dashboard_html.read_text(encoding="utf-8")
    assert result["dashboard"]["file"] == str(settings.paths.dashboard_html)
    assert "png" not in result["dashboard"] and "report" not in result
    assert "Relatório de detecção" in page and 'id="relatorio-0"' in page


def test_duckdb_engine_gives_the_same_exports(run, tmp_path) -> None:
    """The same month through the flow on DuckDB: the same anomalies, scores,
    reasons and detection report, in data/ssa.duckdb; a re-run adds nothing."""
    settings, _ = run
    duck = settings.model_copy(
        update={
            "engine": "duckdb",
            "paths": settings.paths.model_copy(update={"data_dir": tmp_path}),
        }
    )
    result = asyncio.run(medallion_pipeline(duck))
    again = asyncio.run(medallion_pipeline(duck))
    assert again["bronze"]["bronze_transactions"] == 0
    assert duck.warehouse_path == tmp_path / "ssa.duckdb"
    assert duck.warehouse_path.exists()
    assert not (tmp_path / "ssa.db").exists()
    # Silver: the same values; SQLite prints floats to 15 significant digits,
    # DuckDB the shortest text that reads back exactly.
    ours = pd.read_csv(settings.paths.silver_csv).sort_values("transaction_id")
    theirs = pd.read_csv(duck.paths.silver_csv).sort_values("transaction_id")
    assert result["silver"]["rows"] == len(theirs)
    pd.testing.assert_frame_equal(
        ours.reset_index(drop=True), theirs.reset_index(drop=True), rtol=1e-12
    )
    for name in (
        "gold_anomalies_csv",
        "gold_customer_csv",
        "gold_bairro_daily_csv",
        "detection_report_csv",
        "detection_report_md",
    ):
        mine = getattr(settings.paths, name).read_bytes()
        assert getattr(duck.paths, name).read_bytes() == mine, name


def test_a_drop_never_overwrites_a_duckdb_folder(tmp_path) -> None:
    from flows.ingest import ingest_drops
    from ssa.engines import WarehouseError

    (tmp_path / "ssa.duckdb").touch()
    (tmp_path / "gold_anomalies.csv").write_text("kept\n", encoding="utf-8")
    settings = Settings(paths={"data_dir": tmp_path})
    with pytest.raises(WarehouseError, match="already holds the duckdb"):
        asyncio.run(ingest_drops([str(tmp_path / "x.csv")], settings))
    assert (tmp_path / "gold_anomalies.csv").read_text(encoding="utf-8") == "kept\n"
    assert not (tmp_path / "ssa.db").exists()
