"""Dashboard task: data/dashboard.html after every Gold build and refresh."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa.settings import Settings


def _write(settings: Settings, detection: Mapping[str, Any] | None) -> dict[str, Any]:
    # Imported here: Altair takes a few tenths of a second to import, paid by
    # every flow process (a deployment run's start) before the drop's CSVs.
    from ssa.report import dashboard
    from ssa.report.dashboard.vega import snapshot_png

    written = dashboard.write_dashboard(settings, detection)
    specs = written.pop("specs")
    written["png"] = snapshot_png(specs)
    return written


@task(name="write-dashboard", cache_policy=NO_CACHE)
async def write_dashboard(
    settings: Settings, detection: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The page people open, and a PNG of its map for the run page."""
    written = await asyncio.to_thread(_write, settings, detection)
    get_run_logger().info(
        "wrote %s (%.1f MB, %d alerts, %d flagged by the rules, "
        "%d bairros with transactions)",
        written["file"],
        written["bytes"] / 1e6,
        written["alerts"],
        written["flagged"],
        written["bairros_with_data"],
    )
    return written
