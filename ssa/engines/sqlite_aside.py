"""SQLite's incremental refresh on both cores.

SQLite runs a statement on one core. After a drop, the models that read
Bronze alone (the customer windows and features, the day before, impossible
travel, night Pix, card testing, new device) are most of the refresh, and
none reads another: each is recomputed on a connection of its own, reading the
committed warehouse (WAL never blocks a reader, and the session holding the
write lock has staged keys only), into a private in-memory database, while
the session compares and writes the models before it. The rows are the
same SQL's over the same rows, so the refresh writes what it would have
written alone (tested against a full rebuild).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from queue import Empty, SimpleQueue

from ssa.engines.base import WarehouseError
from ssa.engines.incremental import Recompute
from ssa.engines.sqlite_connection import open_connection, shadow_view

# SQLite attaches at most ten databases to a connection: the session keeps
# room for two of its own.
_MOST_ASIDE = 8


@contextmanager
def recompute_aside(
    path: Path, session: sqlite3.Connection, jobs: Sequence[Recompute]
) -> Iterator[Mapping[str, Callable[[], str]]]:
    """Inside: for each job's model sent aside, a call that waits for it and
    gives the name (as ``session`` reads it) of the table holding the
    model's recomputed rows.

    Each worker takes the next job in the models' order, so the first ones
    the session compares are the first done. Each job writes a scratch
    database of its own, which an idle connection holds open meanwhile; the
    session attaches it only once it is written: a connection that finds a
    database changed by another reloads the schemas of every database it
    has attached, and would wait for the one a worker is still writing.
    Once read, the session's transaction holds it until the commit.
    """
    jobs = jobs[:_MOST_ASIDE]
    workers = max(1, min(len(jobs), (os.cpu_count() or 1)))
    tag = uuid.uuid4().hex[:12]
    keys = {
        name: _rows(session, name) for name in sorted({k for j in jobs for k in j.keys})
    }
    futures: dict[str, Future[str]] = {job.model.name: Future() for job in jobs}
    queue: SimpleQueue[tuple[str, Recompute]] = SimpleQueue()
    holder = sqlite3.connect(":memory:", uri=True, check_same_thread=False)
    for i, job in enumerate(jobs):
        name = f"aside_{tag}_{i}"
        holder.execute("attach database ? as ?", (_uri(name), name))
        queue.put((name, job))

    def attached(future: Future[str]) -> Callable[[], str]:
        def wait() -> str:
            name, table = future.result().split(".", 1)
            session.execute("attach database ? as ?", (_uri(name), name))
            return f"{name}.{table}"

        return wait

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for _ in range(workers):
            pool.submit(_work, path, keys, queue, futures)
        yield {model: attached(future) for model, future in futures.items()}
    finally:
        # If the session stopped early (an error), the jobs not started
        # never start; the running ones end before the session goes on.
        for future in futures.values():
            future.cancel()
        pool.shutdown(wait=True)
        holder.close()


def _uri(name: str) -> str:
    return f"file:/ssa-{name}?vfs=memdb"


def _rows(conn: sqlite3.Connection, table: str) -> tuple[str, list[tuple[object, ...]]]:
    """A temporary table's definition, as SQLite keeps it (the declared
    types, so a worker compares its keys as the session does), and rows."""
    (ddl,) = conn.execute(
        "select sql from temp.sqlite_master where type = 'table' and name = ?",
        (table,),
    ).fetchone()
    return ddl, conn.execute(f"select * from temp.{table}").fetchall()


def _work(
    path: Path,
    keys: Mapping[str, tuple[str, list[tuple[object, ...]]]],
    queue: SimpleQueue[tuple[str, Recompute]],
    futures: Mapping[str, Future[str]],
) -> None:
    """Take jobs until none is left, each into its scratch database. A
    worker that cannot start fails the jobs it takes, so the session never
    waits for a job nobody runs."""
    conn: sqlite3.Connection | None = None
    setup_error: BaseException | None = None
    try:
        conn = open_connection(path)
        for table, (ddl, rows) in keys.items():
            conn.execute(ddl.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                conn.executemany(f"insert into temp.{table} values ({marks})", rows)
    except BaseException as exc:  # handed to the session
        setup_error = exc
    try:
        while True:
            try:
                name, job = queue.get_nowait()
            except Empty:
                return
            future = futures[job.model.name]
            if not future.set_running_or_notify_cancel():
                continue
            try:
                if conn is None or setup_error is not None:
                    raise WarehouseError(
                        f"cannot recompute {job.model.name}: {setup_error}"
                    ) from setup_error
                future.set_result(_recompute(conn, name, job))
            except BaseException as exc:  # handed to the session
                future.set_exception(exc)
    finally:
        if conn is not None:
            conn.close()


def _recompute(conn: sqlite3.Connection, name: str, job: Recompute) -> str:
    """The job's rows into a table of scratch database ``name``."""
    table = job.model.table
    select, bound = job.statement
    try:
        conn.execute("attach database ? as aside", (_uri(name),))
        try:
            conn.execute("drop table if exists temp.scope")
            conn.execute(f"create temp table scope as {job.scope}")
            conn.execute(shadow_view(job.shadowed, job.view))
            try:
                conn.execute(f"create table aside.{table} as {select}", bound)
            finally:
                conn.execute(f"drop view temp.{job.shadowed}")
        finally:
            conn.execute("detach database aside")
    except sqlite3.Error as exc:
        raise WarehouseError(f"model {job.model.name}.sql failed: {exc}") from exc
    return f"{name}.{table}"
