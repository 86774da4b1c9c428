"""Silver tasks: run the window-function model and export its CSV."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa import refresh, warehouse
from ssa.exports import iso_local, write_csv
from ssa.refresh import FINAL_MODEL
from ssa.settings import Settings


def sql_params(settings: Settings) -> dict[str, object]:
    """Every threshold a model may bind, from the one settings object."""
    return {**settings.rules.model_dump(), **settings.risk.model_dump()}


def _build(settings: Settings, batch_ids: list[str] | None) -> dict[str, int]:
    with warehouse.connect(settings.paths.warehouse_path) as conn:
        warehouse.require_bronze(conn, settings.paths.warehouse_path)
        params = sql_params(settings)
        if batch_ids is not None:
            return refresh.refresh_batches(conn, params, batch_ids)
        return refresh.rebuild_all(conn, params)


@task(name="build-silver", cache_policy=NO_CACHE)
async def build_silver(
    settings: Settings, batch_ids: list[str] | None = None
) -> dict[str, object]:
    """All of Silver, or only the partitions the given Bronze batches touch."""
    rows = await asyncio.to_thread(_build, settings, batch_ids)
    mode = "full" if batch_ids is None else "incremental"
    get_run_logger().info(
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
    with warehouse.connect(settings.paths.warehouse_path) as conn:
        frame = warehouse.query(conn, "silver/export_silver.sql", {})
    frame.insert(
        1,
        "created_at",
        iso_local(frame["created_at_epoch"], settings.rules.utc_offset_seconds),
    )
    return write_csv(frame, settings.paths.silver_csv)


@task(name="export-silver-csv", cache_policy=NO_CACHE)
async def export_silver_csv(settings: Settings) -> dict[str, object]:
    rows = await asyncio.to_thread(_export, settings)
    get_run_logger().info("wrote %s (%d rows)", settings.paths.silver_csv, rows)
    return {"file": str(settings.paths.silver_csv), "rows": rows}
