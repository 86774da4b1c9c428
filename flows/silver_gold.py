"""The Silver/Gold refresh: the subflow both the pipeline and the watcher run."""

from __future__ import annotations

from typing import Any

from prefect import flow

from ssa.settings import Settings
from tasks.artifacts import publish_gold_links
from tasks.gold import build_gold, export_gold_csv
from tasks.report import evaluate_detection, publish_artifacts
from tasks.silver import build_silver, export_silver_csv


@flow(name="silver-gold-refresh", log_prints=True)
async def silver_gold_refresh(settings: Settings | None = None) -> dict[str, Any]:
    """Silver features and flags, Gold scores and exports, detection report."""
    settings = settings or Settings()
    silver = await build_silver(settings)
    silver_csv = await export_silver_csv(settings)
    gold = await build_gold(settings)
    exports = await export_gold_csv(settings)
    report = await evaluate_detection(settings)
    await publish_artifacts(settings, report)
    await publish_gold_links(settings)
    return {
        "silver": silver,
        "silver_csv": silver_csv,
        "gold": gold,
        "exports": exports,
        "detection": report["rules"].round(4).to_dict("records"),
        "risk_score": report["score"],
    }
