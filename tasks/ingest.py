"""Ingest tasks: one drop into Bronze, and what a refresh after drops needs.

A retried ``ingest-file`` is safe: the load is one transaction and the
content hash is checked inside it, so a retry after a failure loads the file
once and a retry after a success finds it already done.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from ssa.engines import open_warehouse
from ssa.intake import ingest_log
from ssa.intake.drop_paths import UnusablePathError, can_heal, path_problem
from ssa.intake.ingest import ingest_file, quarantine_file
from ssa.settings import Settings
from tasks.retries import IO_RETRIES, IO_RETRY_DELAYS_SECONDS


def retry_if_it_can_heal(_task: Any, _run: TaskRun, state: State) -> bool:
    """Prefect's retry condition: a path that is not a file fails at once."""
    error = state.data
    return not isinstance(error, BaseException) or can_heal(error)


@task(
    name="ingest-file",
    task_run_name="ingest-{path}",
    retries=IO_RETRIES,
    retry_delay_seconds=IO_RETRY_DELAYS_SECONDS,
    retry_condition_fn=retry_if_it_can_heal,
    cache_policy=NO_CACHE,
)
async def ingest_drop(
    path: str,
    settings: Settings,
    source: str | None = None,
    keep_original: bool = False,
) -> dict[str, Any]:
    """Validate and load one drop; I/O trouble is retried, bad input is not."""
    problem = path_problem(Path(path))
    if problem is not None:  # it changed since the flow looked
        raise UnusablePathError(problem)
    result = await asyncio.to_thread(
        ingest_file, Path(path), settings, source=source, keep_original=keep_original
    )
    logger = get_run_logger()
    if result.status == "quarantined":
        logger.warning(result.summary())
    else:
        logger.info(result.summary())
    return {**result.as_dict(), "quarantine_file": quarantine_file(result.as_dict())}


def read_pending(settings: Settings) -> dict[str, int] | None:
    """The range of loads Silver/Gold have not taken in yet, if any.

    A plain function, not a task, like read_touched: the refresh flow calls
    them before its subflow, and Prefect 3.9 starts a subflow late when a
    task has just finished in the same flow run, on the drop's way to the
    dashboards."""
    with open_warehouse(settings).transaction() as session:
        session.require_bronze()
        pending = ingest_log.pending_refresh(session)
    if pending is None:
        return None
    return {
        "after_log_seq": pending.after_log_seq,
        "up_to_log_seq": pending.up_to_log_seq,
    }


def read_touched(settings: Settings, after: int, up_to: int) -> dict[str, Any]:
    """Files handled in the range (loaded, skipped, quarantined) and the
    customers the loaded rows belong to."""
    with open_warehouse(settings).transaction() as session:
        # Loads an earlier version logged may wait for this refresh: its log
        # gains the columns the rows are read with.
        session.apply_schema()
        return {
            "files": ingest_log.files_between(session, after, up_to),
            "customer_ids": ingest_log.touched_customers(session, after, up_to),
        }


def _record(
    settings: Settings, after: int, up_to: int, customers: int, started_at: str
) -> None:
    finished_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    with open_warehouse(settings).transaction() as session:
        ingest_log.record_refresh(
            session, after, up_to, customers, started_at, finished_at
        )


@task(name="record-refresh", cache_policy=NO_CACHE)
async def record_refresh(
    settings: Settings,
    after_log_seq: int,
    up_to_log_seq: int,
    customers: int,
    started_at: str,
) -> None:
    """Silver/Gold reflect these loads: a restarted watcher won't redo them."""
    await asyncio.to_thread(
        _record, settings, after_log_seq, up_to_log_seq, customers, started_at
    )


INGESTED_COLUMNS = (
    "log_seq",
    "file_name",
    "source",
    "status",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rows_duplicate",
    "rows_skipped",
    "missing_columns",
    "detail",
    "quarantine_file",
)


@task(name="publish-ingestion", cache_policy=NO_CACHE)
async def publish_ingestion(files: list[dict[str, Any]]) -> None:
    """The files this refresh takes in, with their accounting, in the UI."""
    await acreate_table_artifact(
        table=[ingested_row(f) for f in files],
        key="ingested-files",
        description="Drops handled since the last refresh (loaded, skipped or "
        "quarantined), each with the system it came from (source: the mapping's "
        "name, native for the input contract, unknown if logged before the "
        "column existed): rows read = loaded + rejected + duplicates + skipped "
        "(not payments, by the source mapping's skip); "
        "quarantine_file is where the rejected rows (or the unreadable file) "
        "went.",
    )


def ingested_row(log_row: dict[str, Any]) -> dict[str, Any]:
    """A file's row of the ingested-files table, from its ingestion-log row."""
    row = {**log_row, "quarantine_file": quarantine_file(log_row)}
    return {k: row[k] for k in INGESTED_COLUMNS}
