"""Silver tasks: run the window-function model and export its CSV."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa import warehouse
from ssa.exports import write_table_csv
from ssa.settings import Settings

SILVER_MODEL = "silver/silver_transactions"


def sql_params(settings: Settings) -> dict[str, object]:
    """Every threshold a model may bind, from the one settings object."""
    return {**settings.rules.model_dump(), **settings.risk.model_dump()}


def refresh_silver(settings: Settings, customer_ids: list[str] | None = None) -> int:
    """Rebuild Silver, or only the rows of the customers a batch touched.

    A customer's Silver rows depend on that customer's Bronze rows only (the
    windows are per customer), so after a CSV drop only the customers in it
    need recomputing: their rows are deleted and inserted again, the others
    are left alone. With ``customer_ids=None`` the whole table is rebuilt,
    in slices of customers on all cores. Returns the rows written.
    """
    path = settings.paths.warehouse_path
    if not path.exists():
        raise warehouse.WarehouseError(
            f"{path} has no bronze_transactions: "
            "run the medallion pipeline (or drop a CSV) first"
        )
    return warehouse.refresh_by_customer(
        path, SILVER_MODEL, sql_params(settings), customer_ids
    )


def _build(settings: Settings) -> int:
    return refresh_silver(settings)  # a full rebuild writes every row


@task(name="build-silver", cache_policy=NO_CACHE)
async def build_silver(
    settings: Settings, customer_ids: list[str] | None = None
) -> dict[str, object]:
    """The whole Silver table, or only the given customers' rows."""
    if customer_ids is None:
        rows = await asyncio.to_thread(_build, settings)
        get_run_logger().info("silver_transactions: %d rows", rows)
        return {"table": "silver_transactions", "rows": rows}
    written = await asyncio.to_thread(refresh_silver, settings, customer_ids)
    get_run_logger().info(
        "silver_transactions: %d rows rewritten for %d customers",
        written,
        len(set(customer_ids)),
    )
    return {"table": "silver_transactions", "rows_rewritten": written}


def _export(settings: Settings) -> int:
    """Every Silver row, in time order, with its ISO-8601 local time.

    A million rows: formatted by SQLite on all cores, not through pandas.
    """
    return write_table_csv(
        settings.paths.warehouse_path,
        "silver_transactions",
        settings.paths.silver_csv,
        order_by=("created_at_epoch", "transaction_id"),
        iso_times={"created_at": "created_at_epoch"},
        utc_offset_seconds=settings.rules.utc_offset_seconds,
    )


@task(name="export-silver-csv", cache_policy=NO_CACHE)
async def export_silver_csv(settings: Settings) -> dict[str, object]:
    rows = await asyncio.to_thread(_export, settings)
    get_run_logger().info("wrote %s (%d rows)", settings.paths.silver_csv, rows)
    return {"file": str(settings.paths.silver_csv), "rows": rows}
