"""SQLite's full Silver build on all cores.

SQLite runs a statement on one core, and Python's sqlite3 releases the GIL
while it runs: so the big per-customer models run one at a time, each in
slices of customers on several connections, and the models between them
(the rules, over a few percent of the rows or one card, device or payee at
a time) run side by side, each on its own connection into a private
in-memory database, holding the writer lock only to copy their table in
(two SQLite scans on two cores run at well under twice one, but faster
than one after another). A model starts once the models it
reads are built.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

from ssa.engines.base import (
    Progress,
    WarehouseError,
    bind,
    model_sql,
    names_read,
)
from ssa.engines.incremental import CHANGES_TABLE
from ssa.engines.sqlite_connection import (
    create_indexes,
    open_connection,
    shadow_view,
)
from ssa.models import BY_NAME, SILVER, Model

# The table the per-customer models read; the slices shadow it.
SOURCE_TABLE = "bronze_transactions"


def rebuild_silver(
    path: Path, params: Mapping[str, Any], progress: Progress | None = None
) -> dict[str, int]:
    """Every Silver model from scratch; ``progress`` hears of each step done
    (the first month's Silver takes minutes)."""
    with closing(open_connection(path)) as conn:
        conn.execute(f"drop table if exists main.{CHANGES_TABLE}")
    rows: dict[str, int] = {}
    needs = upstream_models()
    for phase in _phases(needs):
        if BY_NAME[phase[0]].by_customer:
            (name,) = phase
            rows[name] = _by_customer(path, BY_NAME[name], params)
        else:
            rows.update(_side_by_side(path, phase, params, needs))
        if progress is not None:
            progress(
                f"Silver {len(rows)}/{len(SILVER)} models built "
                f"({', '.join(m.split('/')[-1] for m in phase)})"
            )
    return rows


def upstream_models() -> dict[str, list[str]]:
    """For each Silver model, the earlier Silver models its SQL reads."""
    needs: dict[str, list[str]] = {}
    for i, model in enumerate(SILVER):
        words = names_read(model.name)
        needs[model.name] = [m.name for m in SILVER[:i] if m.table in words]
    return needs


def _phases(needs: Mapping[str, list[str]]) -> list[list[str]]:
    """Silver cut into the sliced models, one each, and the runs of other
    models between them, those with inputs (``needs``) in their run last."""
    phases: list[list[str]] = []
    for model in SILVER:
        if model.by_customer or not phases or BY_NAME[phases[-1][0]].by_customer:
            phases.append([model.name])
        else:
            phases[-1].append(model.name)
    depth: dict[str, int] = {}
    for phase in phases:
        for name in phase:
            depth[name] = 1 + max(
                (depth[m] for m in needs[name] if m in phase), default=-1
            )
        phase.sort(key=depth.__getitem__)  # stable: build order within a depth
    return phases


def _side_by_side(
    path: Path,
    names: list[str],
    params: Mapping[str, Any],
    needs: Mapping[str, list[str]],
) -> dict[str, int]:
    """Build models at once, each after those of its inputs among them.

    Submitted with their inputs first and taken in that order, a model
    that waits for an input waits for one already running: no deadlock.
    """
    built: dict[str, Future[int]] = {}
    workers = min(len(names), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name in names:
            inputs = [built[m] for m in needs[name] if m in built]
            built[name] = pool.submit(_aside, path, BY_NAME[name], params, inputs)
        return {name: run.result() for name, run in built.items()}


def build_beside(
    path: Path,
    models: Sequence[Model],
    params: Mapping[str, Any],
    work: Callable[[], None],
) -> dict[str, int]:
    """These models built while ``work`` runs and writes on this thread:
    each into its private in-memory database on a thread of its own, swapped
    in once ``work`` has committed (its write transaction may outlast any
    wait for the writer lock). An error in ``work`` stops the swaps and is
    raised."""
    with ThreadPoolExecutor(max_workers=max(1, len(models))) as pool:
        done: Future[None] = Future()
        built = {
            m.name: pool.submit(_aside, path, m, params, [], [done]) for m in models
        }
        try:
            work()
        except BaseException as exc:
            done.set_exception(exc)
            raise
        done.set_result(None)
        return {name: run.result() for name, run in built.items()}


def _aside(
    path: Path,
    model: Model,
    params: Mapping[str, Any],
    inputs: list[Future[int]],
    swap_after: Sequence[Future[None]] = (),
) -> int:
    """The model built into a private in-memory database (reading the
    warehouse, which WAL never blocks), then swapped in by one short write
    transaction, after ``swap_after`` are done."""
    for run in inputs:
        run.result()  # an input that failed fails this model with its error
    table, select = model_sql(model.name)
    scratch = f"file:/ssa-{uuid.uuid4().hex[:12]}-aside?vfs=memdb"
    with closing(open_connection(path)) as conn:
        if model.table_order:
            conn.execute(shadow_view(SOURCE_TABLE, hint="not indexed"))
        conn.execute("attach database ? as aside", (scratch,))
        try:
            try:
                conn.execute(
                    f"create table aside.{table} as {select}", bind(select, params)
                )
            except sqlite3.Error as exc:
                raise WarehouseError(f"model {model.name}.sql failed: {exc}") from exc
            for other in swap_after:
                other.result()
            return _swap_in(conn, model, ["aside"])
        finally:
            if conn.in_transaction:
                conn.execute("rollback")
            conn.execute("detach database aside")


def _by_customer(path: Path, model: Model, params: Mapping[str, Any]) -> int:
    """Rebuild a per-customer model whole, in slices of customers on all cores.

    The model reads ``bronze_transactions`` by its unqualified name and keeps
    each customer's rows apart, so its rows for a set of customers depend on
    those customers' Bronze rows only. Each worker connection shadows Bronze
    with a TEMP view of one slice of customers, runs the unchanged SQL into
    a private in-memory database, and one short write transaction puts the
    slices into a new table.
    """
    table, select = model_sql(model.name)
    bound = bind(select, params)
    with closing(open_connection(path)) as main:
        slices = _slices(main, os.cpu_count() or 1)
        tag = uuid.uuid4().hex[:12]
        names = [f"slice_{i}" for i in range(len(slices))]
        attached: list[str] = []
        try:
            # The main connection holds every scratch database open, so each
            # lives until the swap, after its worker has closed.
            for name, ids in zip(names, slices, strict=True):
                main.execute(
                    "attach database ? as ?",
                    (f"file:/ssa-{tag}-{name}?vfs=memdb", name),
                )
                attached.append(name)
                main.execute(
                    f"create table {name}.slice_customers "
                    "(customer_id varchar(32) not null primary key)"
                )
                main.executemany(
                    f"insert into {name}.slice_customers values (?)",
                    ((c,) for c in ids if c is not None),
                )
            uris = [f"file:/ssa-{tag}-{name}?vfs=memdb" for name in names]
            with ThreadPoolExecutor(max_workers=len(uris)) as pool:
                runs = [
                    pool.submit(
                        _run_slice, path, uri, model, table, select, bound, None in ids
                    )
                    for uri, ids in zip(uris, slices, strict=True)
                ]
                for run in runs:
                    run.result()
            return _swap_in(main, model, names)
        finally:
            if main.in_transaction:
                main.execute("rollback")
            for name in attached:
                main.execute(f"detach database {name}")


def _slices(conn: sqlite3.Connection, workers: int) -> list[list[str | None]]:
    """Customers in contiguous id ranges with about the same rows each; the
    rows with no customer (None, first: SQLite orders NULL first) in one
    slice, as the models keep them apart from every customer's."""
    counts = conn.execute(
        f"select customer_id, count(*) from {SOURCE_TABLE} "
        "group by customer_id order by customer_id"
    ).fetchall()
    if not counts:
        return [[]]
    total = sum(n for _, n in counts)
    k = max(1, min(workers, len(counts)))
    slices: list[list[str | None]] = [[] for _ in range(k)]
    seen = 0
    for customer, n in counts:
        slices[min(k - 1, seen * k // total)].append(customer)
        seen += n
    return [s for s in slices if s] or [[]]


def _run_slice(
    path: Path,
    uri: str,
    model: Model,
    table: str,
    select: str,
    bound: dict,
    unnamed: bool,
) -> None:
    """One slice's rows; ``unnamed``: with the rows that have no customer."""
    where = "customer_id in (select customer_id from slice.slice_customers)"
    if unnamed:
        where += " or customer_id is null"
    with closing(open_connection(path)) as conn:
        conn.execute("pragma cache_size = -65536")  # 64 MiB: it reads each page once
        conn.execute("attach database ? as slice", (uri,))
        conn.execute(shadow_view(SOURCE_TABLE, where))
        try:
            conn.execute(f"create table slice.{table} as {select}", bound)
        except sqlite3.Error as exc:
            raise WarehouseError(f"model {model.name}.sql failed: {exc}") from exc


def _swap_in(conn: sqlite3.Connection, model: Model, names: list[str]) -> int:
    """The scratch tables copied into a new main table, then its indexes."""
    table = model.table
    conn.execute("begin immediate")
    conn.execute(f"drop table if exists main.{table}")
    # Same column types as the scratch tables, so the copies below are
    # SQLite's raw record transfer, not a decode and re-encode of each value.
    conn.execute(
        f"create table main.{table} as select * from {names[0]}.{table} where 0"
    )
    before = conn.total_changes
    for name in names:
        conn.execute(f"insert into main.{table} select * from {name}.{table}")
    written = conn.total_changes - before
    create_indexes(conn, model)
    conn.execute("commit")
    return written
