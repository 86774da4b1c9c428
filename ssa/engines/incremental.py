"""Silver and Gold after a drop: only the partitions the new rows touch.

Each Silver model runs its windows over partitions (a customer, a card, a
device, a payee, an account). New Bronze rows can only change the rows of
the partitions they fall in, so the refresh runs the *same* SQL file with
its driving table shadowed by a temporary view of those partitions, then
replaces just the rows that differ: delete, insert (``sql/portable-sql.md``,
"Incremental refresh"). The cost follows the size of the drop, not of the
warehouse, and the result equals a full rebuild (tested on every engine
that can).

Written once for the engines whose sessions offer ``shadowed`` (a temporary
view that an unqualified table name resolves to) and ``main`` (how the
warehouse's own tables are named past such a view): SQLite and DuckDB.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from ssa.engines.base import (
    Progress,
    Scorer,
    Session,
    bind,
    names_read,
    sql_text,
)
from ssa.models import FINAL_MODEL, GOLD, SCORES_TABLE, SILVER, Model

# The ids of the Silver rows the last incremental refresh recomputed, for
# the Gold refresh and the model scoring after it; a full rebuild drops it
# (Gold is rebuilt too).
CHANGES_TABLE = "silver_changes"
_FINAL = SILVER[-1]
# What each layer was last built whole from (sql/bronze/schema.sql).
BUILDS_TABLE = "warehouse_builds"
# Why a layer whose digest differs is built whole, in a run's log.
CHANGED_SINCE = (
    "its SQL or settings changed since it was built whole, or a refresh "
    "stopped before it (or an earlier version built it)"
)
# The note, among the builds, that Silver holds changes Gold has not yet
# applied (silver_changes): a refresh that stopped between the two.
GOLD_PENDING = "gold_pending"


class PartialSession(Session, Protocol):
    main: str

    def shadowed(self, table: str, where: str) -> AbstractContextManager[None]: ...

    def materialize(self, model: Model, params: Mapping[str, Any]) -> int: ...

    def index(self, model: Model) -> None: ...


class RefreshesPartitions:
    """What a warehouse whose sessions can shadow a table gets from here:
    Silver and Gold rebuilt whole or, after a drop, only where it touched.
    The adapter gives ``transaction`` and its own full Silver build."""

    def transaction(self) -> AbstractContextManager[PartialSession]:
        raise NotImplementedError

    def full_silver(
        self, params: Mapping[str, Any], progress: Progress | None
    ) -> dict[str, int]:
        raise NotImplementedError

    def recompute_aside(self, session: PartialSession) -> Aside | None:
        """For engines that run a statement on one core (SQLite): how to run
        the refresh's independent recomputes on other connections while the
        session goes on; None where a statement already uses every core."""
        return None

    def build_silver(
        self,
        params: Mapping[str, Any],
        new_batches: Sequence[str] | None = None,
        max_customer_share: float = 1.0,
        progress: Progress | None = None,
    ) -> tuple[str, dict[str, int]]:
        with self.transaction() as session:
            session.require_bronze()
            refreshable = new_batches is not None and session.table_exists(_FINAL.table)
            if refreshable and not built_from_same(session, "silver", SILVER, params):
                refreshable = False
                if progress is not None:
                    progress(f"Silver rebuilt in full, not refreshed: {CHANGED_SINCE}")
            if refreshable:
                assert new_batches is not None
                stage_batches(session, new_batches)
                if touched_customer_share(session) <= max_customer_share:
                    # The session has staged keys only: other connections
                    # read what it reads.
                    aside = self.recompute_aside(session)
                    rows = refresh_silver(session, params, aside)
                    silver_changed(session, whole=False)
                    return "incremental", rows
        with self.transaction() as session:
            silver_changed(session, whole=True)
        rows = self.full_silver(params, progress)
        with self.transaction() as session:
            record_build(session, "silver", SILVER, params)
        return "full", rows

    def build_gold(
        self,
        params: Mapping[str, Any],
        incremental: bool = False,
        score: Scorer | None = None,
    ) -> dict[str, int]:
        if score is not None:
            with self.transaction() as session:
                score(session)
        with self.transaction() as session:
            if incremental and built_from_same(session, "gold", GOLD, params):
                rows = refresh_gold(session, params)
            else:
                rows = rebuild(session, GOLD, params)
            gold_built(session, params)
            return rows

    def changed_silver_only(
        self, session: PartialSession
    ) -> AbstractContextManager[None]:
        return changed_silver_only(session)


def fingerprint(models: Sequence[Model], params: Mapping[str, Any]) -> str:
    """What a layer's tables are built from: each model's entry (its
    partitions and slicing), its SQL as rendered and the values of the
    parameters it binds."""
    digest = hashlib.sha256()
    for model in models:
        sql = sql_text(f"{model.name}.sql")
        bound = json.dumps(bind(sql, params), sort_keys=True, default=str)
        for part in (repr(model), sql, bound):
            digest.update(part.encode())
            digest.update(b"\0")
    return digest.hexdigest()


def built_from_same(
    session: Session,
    layer: str,
    models: Sequence[Model],
    params: Mapping[str, Any],
) -> bool:
    """Whether the layer's tables were last built whole from what it would
    be built from now: only then may a refresh recompute some rows and
    keep the others. False for a warehouse that never noted it (an earlier
    version made it)."""
    if not session.table_exists(BUILDS_TABLE):
        return False
    stored = session.fetchall(
        f"select fingerprint from {BUILDS_TABLE} where layer = :layer",
        {"layer": layer},
    )
    return bool(stored) and stored[0][0] == fingerprint(models, params)


def record_build(
    session: Session,
    layer: str,
    models: Sequence[Model],
    params: Mapping[str, Any],
) -> None:
    """Note what the layer was just built whole from."""
    session.apply_schema()
    _forget(session, layer)
    session.execute(
        f"insert into {BUILDS_TABLE} (layer, fingerprint) "
        "values (:layer, :fingerprint)",
        {"layer": layer, "fingerprint": fingerprint(models, params)},
    )


def silver_changed(session: Session, whole: bool) -> None:
    """Note, with Silver's own writes, that Gold no longer matches it.

    After a refresh Gold may follow the changes it recorded; but if the
    refresh before stopped between Silver and Gold (or Silver is rebuilt
    whole), rows changed that no record points Gold at any more: Gold is
    then marked to be built whole."""
    if not session.table_exists(BUILDS_TABLE):
        return  # nothing noted yet: Gold is built whole anyway
    pending = session.fetchall(
        f"select 1 from {BUILDS_TABLE} where layer = :layer", {"layer": GOLD_PENDING}
    )
    if whole or pending:
        _forget(session, "gold")
    if not whole and not pending:
        session.execute(
            f"insert into {BUILDS_TABLE} (layer, fingerprint) values (:layer, '')",
            {"layer": GOLD_PENDING},
        )


def gold_built(session: Session, params: Mapping[str, Any]) -> None:
    """Note that Gold matches Silver again, built from what it is built
    from now."""
    record_build(session, "gold", GOLD, params)
    _forget(session, GOLD_PENDING)


def _forget(session: Session, layer: str) -> None:
    """Drop the layer's note from the builds."""
    session.execute(
        f"delete from {BUILDS_TABLE} where layer = :layer", {"layer": layer}
    )


def gold_before_scores() -> tuple[Model, ...]:
    """The leading Gold models, none of which reads the model's scores."""
    before: list[Model] = []
    for model in GOLD:
        if SCORES_TABLE in names_read(model.name):
            break
        before.append(model)
    return tuple(before)


def rebuild(
    session: PartialSession, models: Sequence[Model], params: Mapping[str, Any]
) -> dict[str, int]:
    """These models from scratch, in order, on one session."""
    if models and models[0] in SILVER:
        session.execute(f"drop table if exists {session.main}.{CHANGES_TABLE}")
    return {model.name: session.materialize(model, params) for model in models}


def stage_batches(session: PartialSession, batch_ids: Iterable[str]) -> int:
    """Note the Bronze rows of these batches as the new rows (temp.new_rows),
    in one scan of Bronze; returns how many there are."""
    session.keys_table("batches", "batch_id", batch_ids)
    session.execute("drop table if exists temp.new_rows")
    session.execute(
        "create temp table new_rows as select transaction_id "
        f"from {session.main}.bronze_transactions "
        "where batch_id in (select batch_id from temp.batches)"
    )
    return session.fetchall("select count(*) from temp.new_rows")[0][0]


def stage_rows(session: PartialSession, transaction_ids: Iterable[str]) -> None:
    """Note these Bronze rows as the new rows (temp.new_rows)."""
    session.keys_table("new_rows", "transaction_id", transaction_ids)


def touched_customer_share(session: PartialSession) -> float:
    """Share of all customers with rows among the staged new rows (0 in a
    warehouse of rows that name no customer: each is refreshed alone)."""
    bronze = f"{session.main}.bronze_transactions"
    touched, total = session.fetchall(
        f"select (select count(distinct customer_id) from {bronze} "
        "where transaction_id in (select transaction_id from temp.new_rows)), "
        f"(select count(distinct customer_id) from {bronze})"
    )[0]
    return touched / total if total else 0.0


def refresh_touched(
    session: PartialSession,
    params: Mapping[str, Any],
    new_transaction_ids: Iterable[str],
) -> dict[str, int]:
    """Recompute only the partitions the given new Bronze rows fall in."""
    stage_rows(session, new_transaction_ids)
    return refresh_silver(session, params)


def refresh_silver(
    session: PartialSession, params: Mapping[str, Any], aside: Aside | None = None
) -> dict[str, int]:
    """Recompute only the partitions the staged new rows fall in.

    A full rebuild when Silver does not exist yet. Returns the rows that
    changed per model. ``aside``: where the models that read Bronze alone
    are recomputed side by side, started before the first is compared
    (only while the session has written nothing but staged keys).
    """
    main = session.main
    if not session.table_exists(_FINAL.table):
        return rebuild(session, SILVER, params)
    for name, column in (
        ("touched_customers", "customer_id"),
        ("touched_cards", "card_id"),
        ("touched_devices", "device_id"),
    ):
        _touched_keys(session, name, column)
    session.execute(f"drop table if exists {main}.{CHANGES_TABLE}")
    session.execute(
        f"create table {main}.{CHANGES_TABLE} "
        "(transaction_id varchar(64) not null primary key)"
    )
    # The time of the earliest changed row of each table models read.
    earliest = {"bronze_transactions": _earliest(session, "temp.new_rows")}
    # Known now: what the models that read Bronze alone recompute.
    planned = {
        model.name: job
        for model in SILVER[:-1]
        if _reads_bronze_only(model)
        and (job := _recompute(session, model, params, earliest)) is not None
    }
    jobs = list(planned.values())
    replaced: dict[str, int] = {}
    with aside(jobs) if aside and jobs else nullcontext({}) as recomputed:
        for model in SILVER[:-1]:
            if model.partition is None:
                replaced[model.name] = session.materialize(model, params)
                continue
            job = planned.get(model.name) or _recompute(
                session, model, params, earliest
            )
            replaced[model.name], earliest[model.table] = _replace_partitions(
                session, model, job, recomputed.get(model.name)
            )
            if model.table == "silver_pix_transfers":
                # The Pix network rules' partitions follow from the new
                # transfers.
                _touched_payees_and_accounts(session)
            if model.table == "silver_customer_since":
                # A customer whose start moved (earlier rows came) moves the
                # first use known of every device they used.
                _touched_devices_of_changed(session)
    replaced[FINAL_MODEL] = _replace_changed(session, params)
    return replaced


def _earliest(session: PartialSession, ids: str) -> int | None:
    """The time of the earliest Bronze row among these ids, None if none."""
    return session.fetchall(
        f"select min(created_at_epoch) from {session.main}.bronze_transactions "
        f"where transaction_id in (select transaction_id from {ids})"
    )[0][0]


def _touched_keys(session: PartialSession, name: str, column: str) -> None:
    session.execute(f"drop table if exists temp.{name}")
    session.execute(
        f"create temp table {name} as select distinct {column} as key "
        f"from {session.main}.bronze_transactions where transaction_id in "
        f"(select transaction_id from temp.new_rows) and {column} is not null"
    )


def _touched_devices_of_changed(session: PartialSession) -> None:
    """Add to the touched devices those of the rows the last model changed
    (temp.differ): their device partitions must be recomputed too."""
    session.execute(
        "insert into temp.touched_devices select distinct device_id "
        f"from {session.main}.silver_customer_since where transaction_id in "
        "(select transaction_id from temp.differ) and device_id is not null "
        "and device_id not in (select key from temp.touched_devices)"
    )


def _touched_payees_and_accounts(session: PartialSession) -> None:
    """Payees whose windows may change: those of the new rows, and those of a
    touched payer's transfers from their first new row on (a new row shifts
    the payer's later history and first payments, never the earlier ones)."""
    main = session.main
    session.execute("drop table if exists temp.touched_since")
    session.execute(
        "create temp table touched_since as select customer_id, "
        f"min(created_at_epoch) as since from {main}.bronze_transactions "
        "where transaction_id in (select transaction_id from temp.new_rows) "
        "group by customer_id"
    )
    session.execute("drop table if exists temp.touched_payees")
    session.execute(
        # CROSS JOIN keeps this order on SQLite: from the few payers, through
        # the (customer_id, time) index, never a scan of every transfer.
        "create temp table touched_payees as select distinct p.payee_id as key "
        "from temp.touched_since as t "
        f"cross join {main}.silver_pix_transfers as p "
        "where p.customer_id = t.customer_id and p.created_at_epoch >= t.since"
    )
    session.execute("drop table if exists temp.touched_accounts")
    session.execute(
        "create temp table touched_accounts as "
        "select key from temp.touched_payees "
        "union select key from temp.touched_customers"
    )


def _changed_since(model: Model, earliest: Mapping[str, int | None]) -> int | None:
    """The time of the earliest changed row among the tables the model reads
    (None: none of them changed)."""
    read = names_read(model.name)
    times = [t for table, t in earliest.items() if table in read and t is not None]
    return min(times, default=None)


@dataclass(frozen=True)
class Recompute:
    """A Silver model's rows over the touched partitions, as statements any
    connection to the warehouse can run once it has the keys the refresh
    staged: the ids it answers for (``scope``, a select of transaction ids
    that ``keep`` reads as temp.scope), and its select of them with the
    table it reads shadowed by ``view``."""

    model: Model
    shadowed: str
    view: str
    scope: str
    params: Mapping[str, Any]
    keep: str = "m.transaction_id in (select transaction_id from temp.scope)"

    @property
    def statement(self) -> tuple[str, dict[str, Any]]:
        """The model's select of the kept rows, and its bound parameters."""
        return _model_select(self.model, self.params, self.keep)

    @property
    def keys(self) -> list[str]:
        """The refresh's temporary key tables the statements read
        (temp.touched_customers, ...; not the scope, which they make)."""
        staged = re.findall(r"temp\.(\w+)", f"{self.view} {self.scope} {self.keep}")
        return sorted(set(staged) - {"scope"})


# Recomputes other connections may run while this session holds the write
# lock: per model, a call that waits for its rows and names their table.
Aside = Callable[
    [Sequence[Recompute]], AbstractContextManager[Mapping[str, Callable[[], str]]]
]


def _recompute(
    session: PartialSession,
    model: Model,
    params: Mapping[str, Any],
    earliest: Mapping[str, int | None],
) -> Recompute | None:
    """What recomputing the model's touched partitions reads (None: nothing
    it reads changed)."""
    assert model.partition is not None
    partition = model.partition
    view = partition.view
    scope = partition.scope or partition.view
    if partition.window is not None:
        driver_changed_since = earliest.get(partition.driver)
        if driver_changed_since is None:
            return None
        reach = int(params[partition.window])
        view = f"({view}) and created_at_epoch >= {driver_changed_since - 2 * reach}"
        scope = f"({scope}) and created_at_epoch >= {driver_changed_since - reach}"
    elif partition.ahead is not None:
        since = _changed_since(model, earliest)
        if since is None:
            return None
        ahead = partition.ahead
        reach = int(params[ahead] if isinstance(ahead, str) else ahead)
        scope = f"({scope}) and created_at_epoch >= {since - reach}"
    return Recompute(
        model,
        partition.driver,
        view,
        f"select transaction_id from {session.main}.{partition.driver} where {scope}",
        params,
    )


def _reads_bronze_only(model: Model) -> bool:
    """Whether the model reads no Silver table: its recompute can start as
    soon as the new rows are staged, beside the others'."""
    read = names_read(model.name)
    return model.partition is not None and not any(m.table in read for m in SILVER)


def _replace_partitions(
    session: PartialSession,
    model: Model,
    job: Recompute | None,
    recomputed: Callable[[], str] | None = None,
) -> tuple[int, int | None]:
    """Recompute the touched partitions; write and record only the rows that
    differ from before (new rows, rows whose windows now see the new ones,
    flags that appeared or went away). Everything after this model, and
    Gold, then works on those rows alone: for a drop of the next day, the
    new rows and a few before them, not the customers' whole history.

    ``job``: what the recompute reads (``_recompute``; None: nothing it
    reads changed). ``recomputed``: where another connection recomputes the
    rows, if one does (waits, names the table). Returns the number of rows
    that changed and the time of the earliest of them.
    """
    if job is None:
        return 0, None
    main, table = session.main, model.table
    session.execute("drop table if exists temp.scope")
    session.execute(f"create temp table scope as {job.scope}")
    in_scope = "transaction_id in (select transaction_id from temp.scope)"
    session.execute("drop table if exists temp.fresh")
    if recomputed is not None:
        session.execute(f"create temp table fresh as select * from {recomputed()}")
    else:
        select, bound = job.statement
        with session.shadowed(job.shadowed, job.view):
            session.execute(f"create temp table fresh as {select}", bound)
    # Rows are compared whole: the same windows over the same rows give the
    # same values, so a row that did not change compares equal.
    session.execute("drop table if exists temp.stored")
    session.execute(
        f"create temp table stored as select * from {main}.{table} where {in_scope}"
    )
    session.execute("drop table if exists temp.differ")
    session.execute(
        "create temp table differ as select transaction_id from "
        "(select * from temp.fresh except select * from temp.stored) as a union "
        "select transaction_id from (select * from temp.stored except "
        "select * from temp.fresh) as b"
    )
    differ = "transaction_id in (select transaction_id from temp.differ)"
    changes = f"{main}.{CHANGES_TABLE}"
    session.execute(
        f"insert into {changes} select transaction_id from temp.differ "
        f"where transaction_id not in (select transaction_id from {changes})"
    )
    session.execute(f"delete from {main}.{table} where {differ}")
    written = session.execute(
        f"insert into {main}.{table} select * from temp.fresh where {differ}"
    )
    return written, _earliest(session, "temp.differ")


def changed_silver_rows(main: str) -> str:
    """The rows of silver_transactions the last incremental refresh changed,
    found through its customer_id index (an index on its ids would cost 1.3 s
    per full build on 1M rows); rows with no customer through its NULLs."""
    changes = f"(select transaction_id from {main}.{CHANGES_TABLE})"
    return (
        f"(customer_id in (select customer_id from {main}.bronze_transactions "
        f"where transaction_id in {changes}) or customer_id is null) "
        f"and transaction_id in {changes}"
    )


def _replace_changed(session: PartialSession, params: Mapping[str, Any]) -> int:
    """silver_transactions for every row whose inputs were recomputed."""
    main = session.main
    session.execute(
        f"delete from {main}.{_FINAL.table} where {changed_silver_rows(main)}"
    )
    changed = f"transaction_id in (select transaction_id from {main}.{CHANGES_TABLE})"
    with session.shadowed("bronze_transactions", changed):
        return _insert(session, _FINAL, params)


def changed_silver_only(session: PartialSession) -> AbstractContextManager[None]:
    """Inside, unqualified ``silver_transactions`` holds only the rows the
    last incremental refresh changed: what reads Silver after a drop (the
    risk model's scoring) reads the drop's rows, not the whole table."""
    return session.shadowed(_FINAL.table, changed_silver_rows(session.main))


def _insert(
    session: PartialSession,
    model: Model,
    params: Mapping[str, Any],
    keep: str | None = None,
) -> int:
    """Insert the model's rows (those satisfying ``keep``) into its table."""
    select, bound = _model_select(model, params, keep)
    return session.execute(f"insert into {session.main}.{model.table} {select}", bound)


def _model_select(
    model: Model, params: Mapping[str, Any], keep: str | None
) -> tuple[str, dict[str, Any]]:
    """The model's select (rows satisfying ``keep``, on alias m), bound."""
    select = sql_text(f"{model.name}.sql")
    where = f" where {keep}" if keep else ""
    return f"select * from ({select}) as m{where}", bind(select, params)


# --- Gold ---------------------------------------------------------------------


def refresh_gold(session: PartialSession, params: Mapping[str, Any]) -> dict[str, int]:
    """Recompute the Gold rows of the customers and bairro-days the last
    incremental Silver refresh changed; a full rebuild when there is no such
    record or no Gold yet. Returns the rows replaced per model. (Recomputed
    aside, the bairro-days, the one model no other waits for, cost more than
    they saved on two cores.)"""
    main = session.main
    if not session.table_exists(CHANGES_TABLE) or not all(
        session.table_exists(m.table) for m in GOLD
    ):
        return rebuild(session, GOLD, params)
    silver = _FINAL.table
    session.execute("drop table if exists temp.gold_changed")
    session.execute(
        "create temp table gold_changed as "
        "select transaction_id, customer_id, batch_id, created_at_epoch, "
        f"local_day, bairro from {main}.{silver} where {changed_silver_rows(main)}"
    )
    session.execute("drop table if exists temp.gold_customers")
    session.execute(
        "create temp table gold_customers as select customer_id, "
        "min(created_at_epoch) as since from temp.gold_changed "
        "where customer_id is not null group by customer_id"
    )
    # A changed row with no customer: itself, read with its file's other
    # such rows (the anomaly score measures it against them).
    session.execute("drop table if exists temp.gold_files")
    session.execute(
        "create temp table gold_files as select distinct batch_id "
        "from temp.gold_changed where customer_id is null"
    )
    session.execute("drop table if exists temp.gold_places")
    session.execute(
        "create temp table gold_places as select distinct local_day, bairro "
        "from temp.gold_changed"
    )
    # Each changed customer's transactions from their earliest change on.
    # CROSS JOIN keeps this order on SQLite: from the few customers, through
    # silver_transactions' customer_id index.
    session.execute("drop table if exists temp.gold_rows")
    session.execute(
        "create temp table gold_rows as select s.transaction_id "
        "from temp.gold_customers as g "
        f"cross join {main}.{silver} as s "
        "where s.customer_id = g.customer_id and s.created_at_epoch >= g.since "
        "union all select transaction_id from temp.gold_changed "
        "where customer_id is null"
    )
    replaced = {}
    for model in GOLD:
        assert model.gold_scope is not None
        session.execute(f"delete from {main}.{model.table} where {model.gold_scope}")
        with session.shadowed(silver, model.gold_reads or model.gold_scope):
            replaced[model.name] = _insert(session, model, params, model.gold_scope)
    return replaced
