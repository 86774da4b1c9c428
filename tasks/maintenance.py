"""Warehouse housekeeping that runs at the end of a refresh."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa.engines import open_warehouse
from ssa.settings import Settings


@task(name="checkpoint-warehouse", cache_policy=NO_CACHE)
async def checkpoint_warehouse(settings: Settings) -> dict[str, int]:
    """Fold the refresh's write-ahead log into the store once it is all
    written (SQLite's connections do not checkpoint at each commit)."""
    done = await asyncio.to_thread(open_warehouse(settings).checkpoint)
    if "wal_pages" in done:
        get_run_logger().info(
            "checkpoint: %d of %d WAL pages copied%s",
            done["copied"],
            done["wal_pages"],
            " (readers hold the rest)"
            if done["busy"] or done["copied"] < done["wal_pages"]
            else "",
        )
    elif done.get("wal_folded"):
        get_run_logger().info("checkpoint: write-ahead log folded into the store")
    else:
        get_run_logger().info(
            "checkpoint: nothing to fold (each table write is whole when it returns)"
        )
    return done
