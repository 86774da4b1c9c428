"""Bronze tasks: make the synthetic month and land it in the warehouse."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ssa.engines import WarehouseError, open_warehouse
from ssa.generator import Dataset, chunk_count, generate_chunks
from ssa.intake.ingest import BATCH_DIGEST_CHARS
from ssa.intake.ingest_log import GENERATOR_LINEAGE
from ssa.settings import Settings
from tasks.retries import IO_RETRIES, IO_RETRY_DELAYS_SECONDS


def batch_id_for(settings: Settings) -> str:
    """The same generator settings always give the same batch id. The chunk
    size counts only where the month has several (one chunk is the month
    whatever the size)."""
    generator = settings.generator.model_dump(mode="json")
    if chunk_count(settings) == 1:
        del generator["chunk_customers"]
    payload = json.dumps(generator, sort_keys=True)
    payload += json.dumps(settings.fraud.model_dump(mode="json"), sort_keys=True)
    return "gen-" + hashlib.sha256(payload.encode()).hexdigest()[:BATCH_DIGEST_CHARS]


def _load(data: Dataset | Iterable[Dataset], settings: Settings) -> dict[str, int]:
    """A dataset, or a month's chunks as they are made (one in memory at a
    time), in one transaction."""
    chunks = [data] if isinstance(data, Dataset) else data
    lineage = {
        "source": f"{GENERATOR_LINEAGE}seed={settings.generator.seed}",
        "batch_id": batch_id_for(settings),
        "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with open_warehouse(settings).transaction() as session:
        session.apply_schema()
        replaced = session.query("bronze/synthetic_months_replaced.sql", lineage)
        session.run_script("bronze/replace_synthetic_batch.sql", lineage)
        done = {
            "replaced_transactions": int(replaced["transactions"].iloc[0]),
            "bronze_customers": 0,
            "bronze_merchants": 0,
            "bronze_transactions": 0,
            "ground_truth_labels": 0,
        }
        for chunk in chunks:
            for table, key, frame in (
                ("bronze_customers", "customer_id", chunk.customers),
                ("bronze_merchants", "merchant_id", chunk.merchants),
                ("bronze_transactions", "transaction_id", chunk.transactions),
            ):
                done[table] += session.insert_new(table, key, frame.assign(**lineage))
            done["ground_truth_labels"] += session.insert_new(
                "ground_truth_labels", "transaction_id", chunk.labels
            )
        return done


def refuse_exports_folder(settings: Settings) -> None:
    """A synthetic Salvador month beside a fintech's own exports would make one
    warehouse of two worlds (customers, periods, places): a folder whose
    Bronze holds files only is refused, with the command that rebuilds it."""
    warehouse = open_warehouse(settings)
    if not warehouse.exists():
        return
    with warehouse.transaction() as session:
        if not session.table_exists("bronze_transactions"):
            return
        found = session.query("bronze/bronze_sources.sql", {}).iloc[0]
    if int(found["ingested"]) and not int(found["generated"]):
        folder = settings.paths.data_path
        raise WarehouseError(
            f"{folder} holds only ingested files ({int(found['ingested']):,} "
            "transactions): the medallion would add a synthetic month beside "
            "them. Rebuild Silver and Gold there with python -m flows.rebuild "
            f"--data-dir {folder}, or give the synthetic month its own --data-dir"
        )


@task(
    name="generate-and-load-bronze",
    retries=IO_RETRIES,
    retry_delay_seconds=IO_RETRY_DELAYS_SECONDS,
    cache_policy=NO_CACHE,
)
async def generate_and_load(settings: Settings) -> dict[str, int]:
    """The synthetic month into Bronze, chunk by chunk as it is made, so a
    month of millions of rows needs the memory of one chunk. One transaction
    for the whole month: a retry never finds half of it, and makes the same
    bytes again (the generator is a function of its settings)."""
    g = settings.generator
    chunks = chunk_count(settings)
    get_run_logger().info(
        "generating %d days for %d customers from %s (seed %d%s) into %s...",
        g.days,
        g.n_customers,
        g.start_date,
        g.seed,
        f", {chunks} chunks of {g.chunk_customers:,} customers" if chunks > 1 else "",
        settings.warehouse_path,
    )
    made = {"transactions": 0, "customers": 0, "fraud": 0, "lookalikes": 0}

    def counted() -> Iterator[Dataset]:
        for chunk in generate_chunks(settings):
            made["transactions"] += len(chunk.transactions)
            made["customers"] += len(chunk.customers)
            made["fraud"] += int(chunk.labels["is_fraud"].sum())
            made["lookalikes"] += int((chunk.labels["is_fraud"] == 0).sum())
            yield chunk

    inserted = await asyncio.to_thread(_load, counted(), settings)
    if inserted["replaced_transactions"]:
        get_run_logger().warning(
            "replaced the synthetic month already in %s: its %d transactions, made "
            "with other generator settings, are deleted with their customers, "
            "merchants and labels (rows from drops stay); a data folder of its own "
            "(--data-dir, paths.data_dir) keeps both",
            settings.warehouse_path,
            inserted["replaced_transactions"],
        )
    get_run_logger().info(
        "generated %d transactions for %d customers (%d planted fraud, "
        "%d planted legitimate look-alikes)",
        made["transactions"],
        made["customers"],
        made["fraud"],
        made["lookalikes"],
    )
    get_run_logger().info(
        "bronze: %s new rows (already present rows are skipped)",
        {k: v for k, v in inserted.items() if k != "replaced_transactions"},
    )
    return inserted
