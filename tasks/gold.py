"""Gold tasks: score, summarise and export what dashboards read."""

from __future__ import annotations

import asyncio

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa import engine, model_scoring, refresh, warehouse
from ssa.documents import mask_names
from ssa.exports import (
    ANOMALY_LEAD_COLUMNS,
    CUSTOMER_LEAD_COLUMNS,
    SHEETS_TRUSTED_COLUMNS,
    iso_local,
    lead_with,
    local_date,
    reais,
    reasons,
    sheets_frame,
    write_csv,
)
from ssa.settings import Settings
from tasks.silver import sql_params


def _build(settings: Settings, incremental: bool = False) -> dict[str, int]:
    params = sql_params(settings)
    if settings.engine in ("duckdb", "spark"):  # full runs only: nothing incremental
        db = engine.module(settings)
        with db.connect(settings.warehouse_path) as conn:
            rows = db.rebuild_gold(conn, params)
    else:
        build = refresh.refresh_gold if incremental else refresh.rebuild_gold
        with warehouse.connect(settings.warehouse_path) as conn:
            rows = build(conn, params)
    return {refresh.table_of(model): n for model, n in rows.items()}


@task(name="build-gold", cache_policy=NO_CACHE)
async def build_gold(settings: Settings, incremental: bool = False) -> dict[str, int]:
    """All of Gold, or after an incremental Silver refresh only the customers
    and days whose Silver rows it changed."""
    rows = await asyncio.to_thread(_build, settings, incremental)
    get_run_logger().info(
        "gold tables (%s): %s", "incremental" if incremental else "full", rows
    )
    return rows


def _names(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Customer names masked (LGPD) unless the settings say otherwise."""
    if settings.exports.mask_customer_names and "customer_name" in frame:
        frame = frame.assign(customer_name=mask_names(frame["customer_name"]))
    return frame


def _score(settings: Settings, incremental: bool) -> dict[str, object]:
    db = engine.module(settings)
    with db.connect(settings.warehouse_path) as conn:
        return model_scoring.score(conn, db, settings, changed_only=incremental)


@task(name="score-with-model", cache_policy=NO_CACHE)
async def score_with_model(
    settings: Settings, incremental: bool = False
) -> dict[str, object]:
    """The risk model's probabilities for Gold to combine with the rules; after
    an incremental Silver refresh only the changed rows."""
    scored = await asyncio.to_thread(_score, settings, incremental)
    if scored["model"] is None:
        get_run_logger().info(
            "no risk model in %s (python -m flows.train makes one): Gold scores "
            "with the rules alone",
            settings.paths.models_path,
        )
    else:
        get_run_logger().info(
            "risk model v%s (%s) scored %d rows",
            scored["version"],
            scored["model"],
            scored["rows"],
        )
    return scored


def anomalies_frame(conn, settings: Settings) -> pd.DataFrame:
    """Gold anomalies, highest risk first, with readable times and reasons,
    the columns people read first."""
    frame = engine.module(settings).query(conn, "gold/export_anomalies.sql", {})
    offset = settings.rules.utc_offset_seconds
    frame.insert(1, "created_at", iso_local(frame["created_at_epoch"], offset))
    frame.insert(8, "amount", reais(frame["amount_cents"]))
    # The rules' sentences first, then the model's top contributions.
    rules = reasons(frame)
    model = "model: " + frame["model_reasons"].astype("string")
    has_rules = rules.str.len() > 0
    text = rules.mask(has_rules & model.notna(), rules + "; " + model)
    frame["reasons"] = text.mask(~has_rules & model.notna(), model)
    frame = frame.drop(columns="model_reasons")
    return lead_with(_names(frame, settings), ANOMALY_LEAD_COLUMNS)


def _export(settings: Settings) -> dict[str, int]:
    """The dashboards' files, the anomalies first (what a drop waits for)."""
    paths = settings.paths
    offset = settings.rules.utc_offset_seconds
    db = engine.module(settings)
    with db.connect(settings.warehouse_path) as conn:
        anomalies = anomalies_frame(conn, settings)
        written = {
            str(paths.gold_anomalies_csv): write_csv(
                anomalies, paths.gold_anomalies_csv
            )
        }
        customers = db.query(conn, "gold/export_customer_risk.sql", {})
        bairros = db.query(conn, "gold/export_bairro_daily.sql", {})
    for column in ("last_transaction_at_epoch", "last_flagged_at_epoch"):
        customers[column.replace("_epoch", "")] = iso_local(customers[column], offset)
    bairros.insert(1, "local_date", local_date(bairros["local_day"]))
    customers = lead_with(_names(customers, settings), CUSTOMER_LEAD_COLUMNS)
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
