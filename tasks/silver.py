"""Silver tasks: build the window-function models and export their CSV."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa.engines import TableCsv, open_warehouse
from ssa.models import FINAL_MODEL
from ssa.settings import Settings, sql_params


def _build(
    settings: Settings,
    batch_ids: list[str] | None,
    progress: Callable[[str], None] | None = None,
) -> tuple[str, dict[str, int]]:
    """("incremental" or "full", rows per model). Incremental only when Silver
    exists, the engine can, and the batches touch few enough customers."""
    return open_warehouse(settings).build_silver(
        sql_params(settings),
        new_batches=batch_ids,
        max_customer_share=settings.ingest.incremental_max_customer_share,
        progress=progress,
    )


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
    layout = TableCsv(
        order_by=("created_at_epoch", "transaction_id"),
        iso_times={"created_at": "created_at_epoch"},
        utc_offset_seconds=settings.rules.utc_offset_seconds,
    )
    return open_warehouse(settings).write_table_csv(
        "silver_transactions", settings.paths.silver_csv, layout
    )


@task(name="export-silver-csv", cache_policy=NO_CACHE)
async def export_silver_csv(settings: Settings) -> dict[str, object]:
    get_run_logger().info("writing %s...", settings.paths.silver_csv)
    rows = await asyncio.to_thread(_export, settings)
    get_run_logger().info("wrote %s (%d rows)", settings.paths.silver_csv, rows)
    return {"file": str(settings.paths.silver_csv), "rows": rows}
