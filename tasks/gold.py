"""Gold tasks: score, summarise and export what dashboards read."""

from __future__ import annotations

import asyncio

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa.engines import Session, open_warehouse
from ssa.engines import incremental as refresh
from ssa.local_time import iso_local, local_date
from ssa.models import BY_NAME, GOLD
from ssa.report.anomalies import anomalies_frame, masked_names
from ssa.report.exports import (
    CUSTOMER_LEAD_COLUMNS,
    SHEETS_TRUSTED_COLUMNS,
    lead_with,
    sheets_frame,
    write_csv,
)
from ssa.risk import model_scoring
from ssa.settings import Settings, sql_params


def _build(
    settings: Settings, incremental: bool = False
) -> tuple[dict[str, int], dict[str, object], str | None]:
    """Gold's tables, what scored them, and why a refresh was a full build
    instead (None when it was not)."""
    warehouse = open_warehouse(settings)
    scored: dict[str, object] = {}

    def score(session: Session) -> None:
        scored.update(
            model_scoring.score(warehouse, session, settings, changed_only=incremental)
        )

    params = sql_params(settings)
    has_model = model_scoring.model_path(settings) is not None
    why_full = None
    with warehouse.transaction() as session:
        # What Gold reads and scoring writes, in a warehouse an earlier
        # version made (apart from a model's scoring: it reads best in a
        # session that has written nothing).
        session.apply_schema()
        if incremental:
            why_full = _why_full(session, settings, params)
            incremental = why_full is None
        if not has_model:
            score(session)  # nothing to score beside Gold: old scores cleared
    rows = warehouse.build_gold(params, incremental, score=score if has_model else None)
    return {BY_NAME[model].table: n for model, n in rows.items()}, scored, why_full


def _why_full(
    session: Session, settings: Settings, params: dict[str, object]
) -> str | None:
    """Why refreshing only the rows a drop touched would leave Gold wrong:
    its other rows were made by other SQL or settings, or scored by another
    model (or by one where there is none now)."""
    if not refresh.built_from_same(session, "gold", GOLD, params):
        return refresh.CHANGED_SINCE
    if model_scoring.scored_by_another_model(session, settings):
        return "the risk model changed since Gold was scored"
    return None


@task(name="score-and-build-gold", cache_policy=NO_CACHE)
async def build_gold(
    settings: Settings, incremental: bool = False
) -> tuple[dict[str, int], dict[str, object]]:
    """The risk model's scores and all of Gold, or after an incremental
    Silver refresh only the changed rows' scores and the customers and days
    whose Silver rows it changed. One task, so that the engine may score
    beside the Gold models that do not wait for the scores. (Rows per
    table, and which model scored.)"""
    rows, scored, why_full = await asyncio.to_thread(_build, settings, incremental)
    logger = get_run_logger()
    if why_full is not None:
        logger.info("Gold rebuilt in full, not refreshed: %s", why_full)
        incremental = False
    if scored["model"] is None:
        logger.info(
            "no risk model in %s (python -m flows.train makes one): Gold scores "
            "with the rules and the anomaly score",
            settings.paths.models_path,
        )
    else:
        logger.info(
            "risk model v%s (%s) scored %d rows",
            scored["version"],
            scored["model"],
            scored["rows"],
        )
    logger.info("gold tables (%s): %s", "incremental" if incremental else "full", rows)
    return rows, scored


def _export(settings: Settings) -> dict[str, int]:
    """The dashboards' files, the anomalies first (what a drop waits for)."""
    paths = settings.paths
    offset = settings.rules.utc_offset_seconds
    with open_warehouse(settings).transaction() as session:
        anomalies = anomalies_frame(session, settings)
        written = {
            str(paths.gold_anomalies_csv): write_csv(
                anomalies, paths.gold_anomalies_csv
            )
        }
        customers = session.query("gold/export_customer_risk.sql", {})
        bairros = session.query("gold/export_bairro_daily.sql", {})
    for column in ("last_transaction_at_epoch", "last_flagged_at_epoch"):
        customers[column.replace("_epoch", "")] = iso_local(customers[column], offset)
    bairros.insert(1, "local_date", local_date(bairros["local_day"]))
    customers = lead_with(masked_names(customers, settings), CUSTOMER_LEAD_COLUMNS)
    written[str(paths.gold_customer_csv)] = write_csv(
        customers, paths.gold_customer_csv
    )
    reference = pd.read_csv(paths.resolve(paths.bairros_csv), encoding="utf-8")
    written[str(paths.gold_sheets_csv)] = write_csv(
        sheets_frame(anomalies, reference, offset),
        paths.gold_sheets_csv,
        trusted=SHEETS_TRUSTED_COLUMNS,
    )
    written[str(paths.gold_bairro_daily_csv)] = write_csv(
        bairros, paths.gold_bairro_daily_csv
    )
    return written


@task(name="export-gold-csv", cache_policy=NO_CACHE)
async def export_gold_csv(settings: Settings) -> dict[str, int]:
    get_run_logger().info("writing the Gold CSV files...")
    written = await asyncio.to_thread(_export, settings)
    for path, rows in written.items():
        get_run_logger().info("wrote %s (%d rows)", path, rows)
    return written
