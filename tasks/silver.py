"""Silver tasks: build the window-function models and export their CSV."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa import engine, refresh, warehouse
from ssa.exports import write_table_csv
from ssa.refresh import FINAL_MODEL
from ssa.settings import Settings


def sql_params(settings: Settings) -> dict[str, object]:
    """Every threshold a model may bind, from the one settings object."""
    region = {f"region_{k}": v for k, v in settings.region.model_dump().items()}
    return {
        **settings.rules.model_dump(),
        **settings.risk.model_dump(),
        **settings.features.model_dump(),
        **region,
    }


def _build(
    settings: Settings,
    batch_ids: list[str] | None,
    progress: Callable[[str], None] | None = None,
) -> tuple[str, dict[str, int]]:
    """("incremental" or "full", rows per model). Incremental only when Silver
    exists and the batches touch few enough customers."""
    params = sql_params(settings)
    if settings.engine in ("duckdb", "spark"):
        db = engine.module(settings)
        with db.connect(settings.warehouse_path) as conn:
            db.require_bronze(conn, settings.warehouse_path)
            return "full", db.rebuild_silver(conn, params)
    path = settings.paths.warehouse_path
    with warehouse.connect(path) as conn:
        warehouse.require_bronze(conn, path)
        if batch_ids is not None and warehouse.table_exists(
            conn, refresh.table_of(FINAL_MODEL)
        ):
            refresh.stage_batches(conn, batch_ids)
            share = refresh.touched_customer_share(conn)
            if share <= settings.ingest.incremental_max_customer_share:
                return "incremental", refresh.refresh_staged(conn, params)
    return "full", refresh.rebuild_all_parallel(path, params, progress)


@task(name="build-silver", cache_policy=NO_CACHE)
async def build_silver(
    settings: Settings, batch_ids: list[str] | None = None
) -> dict[str, object]:
    """All of Silver, or only the partitions the given Bronze batches touch."""
    logger = get_run_logger()
    mode, rows = await asyncio.to_thread(_build, settings, batch_ids, logger.info)
    logger.info(
        "silver_transactions: %d rows %s (%s)",
        rows[FINAL_MODEL],
        "rebuilt" if mode == "full" else "recomputed in the touched partitions",
        ", ".join(f"{m.split('/')[-1]} {n}" for m, n in rows.items()),
    )
    return {
        "table": "silver_transactions",
        "mode": mode,
        "rows": rows[FINAL_MODEL],
    }


def _export(settings: Settings) -> int:
    """Every Silver row, in time order, with its ISO-8601 local time.

    A million rows: formatted by the engine on all cores, not through pandas.
    """
    layout = {
        "order_by": ("created_at_epoch", "transaction_id"),
        "iso_times": {"created_at": "created_at_epoch"},
        "utc_offset_seconds": settings.rules.utc_offset_seconds,
    }
    if settings.engine in ("duckdb", "spark"):
        db = engine.module(settings)
        with db.connect(settings.warehouse_path) as conn:
            return db.write_table_csv(
                conn, "silver_transactions", settings.paths.silver_csv, **layout
            )
    return write_table_csv(
        settings.paths.warehouse_path,
        "silver_transactions",
        settings.paths.silver_csv,
        **layout,
    )


@task(name="export-silver-csv", cache_policy=NO_CACHE)
async def export_silver_csv(settings: Settings) -> dict[str, object]:
    get_run_logger().info("writing %s...", settings.paths.silver_csv)
    rows = await asyncio.to_thread(_export, settings)
    get_run_logger().info("wrote %s (%d rows)", settings.paths.silver_csv, rows)
    return {"file": str(settings.paths.silver_csv), "rows": rows}
