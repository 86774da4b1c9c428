"""Bronze tasks: make the synthetic month and land it in the warehouse."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa.engines import open_warehouse
from ssa.generator import Dataset, generate
from ssa.settings import Settings


def batch_id_for(settings: Settings) -> str:
    """The same generator settings always give the same batch id."""
    payload = json.dumps(settings.generator.model_dump(mode="json"), sort_keys=True)
    payload += json.dumps(settings.fraud.model_dump(mode="json"), sort_keys=True)
    return "gen-" + hashlib.sha256(payload.encode()).hexdigest()[:16]


@task(name="generate-transactions", cache_policy=NO_CACHE)
async def generate_transactions(settings: Settings) -> Dataset:
    """CPU-bound numpy work, run off the event loop."""
    g = settings.generator
    get_run_logger().info(
        "generating %d days for %d customers from %s (seed %d)...",
        g.days,
        g.n_customers,
        g.start_date,
        g.seed,
    )
    dataset = await asyncio.to_thread(generate, settings)
    get_run_logger().info(
        "generated %d transactions for %d customers (%d planted)",
        len(dataset.transactions),
        len(dataset.customers),
        len(dataset.labels),
    )
    return dataset


def _load(dataset: Dataset, settings: Settings) -> dict[str, int]:
    lineage = {
        "source": f"generator:seed={settings.generator.seed}",
        "batch_id": batch_id_for(settings),
        "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with open_warehouse(settings).transaction() as session:
        session.apply_schema()
        replaced = session.run_script("bronze/replace_synthetic_batch.sql", lineage)
        return {
            "replaced_rows": replaced,
            "bronze_customers": session.insert_new(
                "bronze_customers",
                "customer_id",
                dataset.customers.assign(**lineage),
            ),
            "bronze_merchants": session.insert_new(
                "bronze_merchants",
                "merchant_id",
                dataset.merchants.assign(**lineage),
            ),
            "bronze_transactions": session.insert_new(
                "bronze_transactions",
                "transaction_id",
                dataset.transactions.assign(**lineage),
            ),
            "ground_truth_labels": session.insert_new(
                "ground_truth_labels", "transaction_id", dataset.labels
            ),
        }


@task(
    name="load-bronze",
    retries=3,
    retry_delay_seconds=[2, 5, 15],
    cache_policy=NO_CACHE,
)
async def load_bronze(dataset: Dataset, settings: Settings) -> dict[str, int]:
    """One transaction for the whole batch: a retry never finds half of it."""
    get_run_logger().info(
        "loading %d transactions into %s...",
        len(dataset.transactions),
        settings.warehouse_path,
    )
    inserted = await asyncio.to_thread(_load, dataset, settings)
    get_run_logger().info(
        "bronze: %s new rows (already present rows are skipped)", inserted
    )
    return inserted
