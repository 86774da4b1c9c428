"""The Silver/Gold refresh: the subflow both the pipeline and the watcher run."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow

from ssa.settings import Settings
from tasks.artifacts import publish_gold_links
from tasks.gold import build_gold, export_gold_csv, score_with_model
from tasks.maintenance import checkpoint_warehouse
from tasks.report import evaluate_detection, publish_artifacts
from tasks.silver import build_silver, export_silver_csv


@flow(name="silver-gold-refresh")
async def silver_gold_refresh(
    settings: Settings | None = None, batch_ids: list[str] | None = None
) -> dict[str, Any]:
    """Silver features and flags, Gold scores and exports, detection report.

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
    model = await score_with_model(settings, incremental=incremental)
    gold = await build_gold(settings, incremental=incremental)
    exports = await export_gold_csv(settings)
    if silver_csv_run is None:
        silver_csv_run = asyncio.create_task(export_silver_csv(settings))
    report = await evaluate_detection(settings)
    silver_csv = await silver_csv_run
    await checkpoint_warehouse(settings)
    await publish_artifacts(settings, report)
    await publish_gold_links(settings)
    return {
        "silver": silver,
        "silver_csv": silver_csv,
        "model": model,
        "gold": gold,
        "exports": exports,
        "detection": report["rules"].round(4).to_dict("records"),
        "risk_score": report["score"],
    }
