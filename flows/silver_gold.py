"""The Silver/Gold refresh: the subflow both the pipeline and the watcher run."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow

from ssa.settings import Settings
from tasks.gold import build_gold, export_gold_csv
from tasks.report import evaluate_detection, publish_artifacts
from tasks.silver import build_silver, export_silver_csv


@flow(name="silver-gold-refresh", log_prints=True)
async def silver_gold_refresh(settings: Settings | None = None) -> dict[str, Any]:
    """Silver features and flags, Gold scores and exports, detection report."""
    settings = settings or Settings()
    silver = await build_silver(settings)
    # The CSV export only reads Silver and Gold only adds tables: with WAL they
    # run side by side, SQLite working on both cores (bench/benchmark.py).
    silver_csv, gold = await asyncio.gather(
        export_silver_csv(settings), build_gold(settings)
    )
    exports = await export_gold_csv(settings)
    report = await evaluate_detection(settings)
    await publish_artifacts(settings, report)
    return {
        "silver": silver,
        "silver_csv": silver_csv,
        "gold": gold,
        "exports": exports,
        "detection": report["rules"].round(4).to_dict("records"),
        "risk_score": report["score"],
    }
