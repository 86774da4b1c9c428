"""Warehouse housekeeping that runs at the end of a refresh."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa import engine, warehouse
from ssa.settings import Settings


@task(name="checkpoint-warehouse", cache_policy=NO_CACHE)
async def checkpoint_warehouse(settings: Settings) -> dict[str, int]:
    """Fold the refresh's WAL into the database file once it is all written
    (connections do not checkpoint at each commit: ssa/warehouse.py)."""
    if settings.engine in ("duckdb", "spark"):
        db = engine.module(settings)
        await asyncio.to_thread(db.checkpoint, settings.warehouse_path)
        get_run_logger().info("checkpoint: %s's log folded in", settings.engine)
        return {}
    busy, wal_pages, copied = await asyncio.to_thread(
        warehouse.checkpoint, settings.paths.warehouse_path
    )
    get_run_logger().info(
        "checkpoint: %d of %d WAL pages copied%s",
        copied,
        wal_pages,
        " (readers hold the rest)" if busy or copied < wal_pages else "",
    )
    return {"wal_pages": wal_pages, "copied": copied}
