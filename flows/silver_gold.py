"""The Silver/Gold refresh: the subflow both the pipeline and the watcher run."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, runtime

from ssa.settings import Settings
from tasks.dashboard import write_dashboard
from tasks.gold import build_gold, export_gold_csv
from tasks.maintenance import checkpoint_warehouse
from tasks.report import evaluate_detection
from tasks.silver import build_silver, export_silver_csv


def refresh_run_name() -> str:
    """'silver-gold full' or 'silver-gold 3 batches': what the subflow redoes."""
    batch_ids = runtime.flow_run.parameters.get("batch_ids")
    if batch_ids is None:
        return "silver-gold full"
    return f"silver-gold {len(batch_ids)} batch{'es' if len(batch_ids) != 1 else ''}"


@flow(name="silver-gold-refresh", flow_run_name=refresh_run_name)
async def silver_gold_refresh(
    settings: Settings | None = None, batch_ids: list[str] | None = None
) -> dict[str, Any]:
    """Silver features and flags, Gold scores and exports, detection report,
    dashboard. The run that called it publishes the artifacts, so a person
    finds them on the run they launched.

    With ``batch_ids`` (Bronze batches just loaded, e.g. CSV drops) only the
    partitions those rows touch are recomputed; with None, everything is.
    """
    settings = settings or Settings()
    silver = await build_silver(settings, batch_ids)
    incremental = silver["mode"] == "incremental"
    # The Silver CSV export only reads: with WAL it runs while Gold writes,
    # SQLite working on both cores. After a full build it starts at once
    # (bench/benchmark.py); after a drop the dashboards' files come first.
    silver_csv_run = None
    if not incremental:
        silver_csv_run = asyncio.create_task(export_silver_csv(settings))
    gold, model = await build_gold(settings, incremental=incremental)
    exports = await export_gold_csv(settings)
    if silver_csv_run is None:
        silver_csv_run = asyncio.create_task(export_silver_csv(settings))
    report = await evaluate_detection(settings)
    dashboard = await write_dashboard(settings, report)
    silver_csv = await silver_csv_run
    await checkpoint_warehouse(settings)
    return {
        "silver": silver,
        "silver_csv": silver_csv,
        "model": model,
        "gold": gold,
        "exports": exports,
        "detection": report["rules"].round(4).to_dict("records"),
        "risk_score": report["score"],
        "report": report,
        "dashboard": dashboard,
    }
