"""Silver refresh: every model in full, or only the partitions a drop touches.

Each Silver model runs its windows over partitions (a customer, a card, a
device, a payee, an account). New Bronze rows can only change the rows of the
partitions they fall in, so an incremental refresh runs the *same* SQL file
with its driving table shadowed by a TEMP view of those partitions (SQLite
resolves unqualified names to the temp schema first), then replaces just
those rows: delete, insert (``sql/portable-sql.md``,
"Incremental refresh"). The cost follows the size of the drop, not of the
warehouse, and the result equals a full rebuild (tested).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssa import warehouse
from ssa.rules import GOLD_MODELS, SILVER_MODELS


@dataclass(frozen=True)
class Partition:
    """How a model is partitioned, as filters on the table that drives it.

    ``view`` keeps the rows the model must read to recompute the touched
    partitions; ``scope`` the rows whose output it may replace (the same,
    except for pass-through, which reads an account's inflows from other
    payers but only answers for the account's own outflows).

    ``window`` names the parameter with the model's widest window, in
    seconds either side, for models whose windows are all time ranges. An
    output row then sees only inputs within that reach, so when the earliest
    changed input is at T, rows before T - window keep their output and need
    no recompute, and the rest read nothing before T - 2 * window: a drop of
    tomorrow's transactions reads minutes of a payee's history, not months.
    """

    driver: str
    view: str
    scope: str | None = None
    window: str | None = None


_BY_CUSTOMER = "customer_id in (select key from temp.touched_customers)"
_BY_PAYEE = "payee_id in (select key from temp.touched_payees)"
_BY_ACCOUNT = (
    "customer_id in (select key from temp.touched_accounts)"
    " or payee_id in (select key from temp.touched_accounts)"
)

PARTITIONS: dict[str, Partition] = {
    "silver/silver_customer_windows": Partition("bronze_transactions", _BY_CUSTOMER),
    "silver/silver_customer_features": Partition("bronze_transactions", _BY_CUSTOMER),
    "silver/silver_pix_transfers": Partition("bronze_transactions", _BY_CUSTOMER),
    "silver/silver_night_pix": Partition("bronze_transactions", _BY_CUSTOMER),
    "silver/silver_rule_impossible_travel": Partition(
        "bronze_transactions", _BY_CUSTOMER
    ),
    "silver/silver_rule_night_pix_limit": Partition("silver_night_pix", _BY_CUSTOMER),
    "silver/silver_rule_structuring": Partition("silver_night_pix", _BY_CUSTOMER),
    "silver/silver_rule_card_testing": Partition(
        "bronze_transactions",
        "card_id in (select key from temp.touched_cards)",
        window="card_testing_window_seconds",
    ),
    "silver/silver_rule_new_device": Partition(
        "bronze_transactions", "device_id in (select key from temp.touched_devices)"
    ),
    "silver/silver_rule_mule_fan_in": Partition(
        "silver_pix_transfers", _BY_PAYEE, window="fan_in_window_seconds"
    ),
    "silver/silver_rule_pass_through": Partition(
        "silver_pix_transfers",
        _BY_ACCOUNT,
        scope="customer_id in (select key from temp.touched_accounts)",
        window="pass_through_window_seconds",
    ),
    "silver/silver_rule_first_time_payee": Partition(
        "silver_pix_transfers", _BY_PAYEE, window="first_payee_window_seconds"
    ),
}
# Models partitioned by card or device: on a full build SQLite would walk
# Bronze's card and device indexes (there for the incremental refresh) to
# save a sort, fetching rows in random order (new device on 1M rows: 0.84 s
# against 0.33 s); they read Bronze in table order instead.
READ_IN_TABLE_ORDER = frozenset(
    {"silver/silver_rule_card_testing", "silver/silver_rule_new_device"}
)
# Small models rebuilt whole at every refresh: they only gather the rows of
# models before them, whose changes those models have recorded already.
REBUILT_WHOLE = frozenset({"silver/silver_rule_flags"})
FINAL_MODEL = SILVER_MODELS[-1]
# The ids of the Silver rows the last incremental refresh recomputed, for
# the Gold refresh after it; a full rebuild drops it (Gold is rebuilt too).
CHANGES_TABLE = "silver_changes"
# The changed rows of silver_transactions, found through its customer_id
# index (an index on its ids would cost 1.3 s per full build on 1M rows).
CHANGED_SILVER_ROWS = (
    "customer_id in (select customer_id from main.bronze_transactions "
    f"where transaction_id in main.{CHANGES_TABLE}) "
    f"and transaction_id in main.{CHANGES_TABLE}"
)


# Models whose windows run over one customer's rows at a time and that read
# Bronze through its unqualified name: rebuilt in slices of customers on all
# cores (warehouse.refresh_by_customer). They are the big ones; the others
# run on a few percent of the rows, or across customers (payee, account).
SLICED_BY_CUSTOMER = frozenset(
    {
        "silver/silver_customer_windows",
        "silver/silver_customer_features",
        "silver/silver_pix_transfers",
        "silver/silver_rule_impossible_travel",
        "silver/silver_transactions",
    }
)


# Indexes a model gets after every full build: the ids later models join on
# (an index built once beats the automatic index SQLite would build for every
# join and slice: silver_transactions on 1M rows 10.7 s -> 7.7 s for 1.1 s of
# indexing), and the columns an incremental refresh finds the touched
# partitions and replaced rows by, so that its cost follows the size of the
# drop instead of a scan of the table. The rule tables hold a few hundred
# rows and need none. Gold's score table holds every transaction: a refresh
# replaces a customer's rows through its customer_id index.
INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "gold/gold_transaction_risk": (("customer_id",),),
    "silver/silver_customer_windows": (("transaction_id",),),
    "silver/silver_customer_features": (("transaction_id",),),
    "silver/silver_pix_transfers": (
        ("transaction_id",),
        ("customer_id", "created_at_epoch"),
        ("payee_id", "created_at_epoch"),
    ),
    "silver/silver_night_pix": (("transaction_id",), ("customer_id",)),
    "silver/silver_rule_impossible_travel": (("transaction_id",),),
    "silver/silver_transactions": (
        ("customer_id",),
        ("local_day", "bairro"),
    ),
}


def index_model(conn: sqlite3.Connection, model: str) -> None:
    """Create the indexes INDEXES lists for this model's table."""
    table = table_of(model)
    for columns in INDEXES.get(model, ()):
        conn.execute(
            f"create index if not exists {table}_{'_'.join(columns)} "
            f"on {table} ({', '.join(columns)})"
        )


def rebuild_all(conn: sqlite3.Connection, params: Mapping[str, Any]) -> dict[str, int]:
    """Rebuild every Silver model from scratch on one connection."""
    conn.execute(f"drop table if exists main.{CHANGES_TABLE}")
    rows = {}
    for model in SILVER_MODELS:
        rows[model] = _materialize(conn, model, params)
        index_model(conn, model)
    return rows


def rebuild_all_parallel(
    path: Path,
    params: Mapping[str, Any],
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """The same rebuild on all cores; ``progress`` hears of each step done
    (the first month's Silver takes minutes).

    The big per-customer models run one at a time, each in parallel slices.
    The models between them (the rules, over a few percent of the rows or
    one card, device or payee at a time) run side by side, each on its own
    connection into a private in-memory database, holding the writer lock
    only to copy their table in (1M rows: 4.8 s one after another, 3.6 s
    side by side; two cores here run two SQLite scans at ~1.5x one, not
    2x). A model starts once the models it reads are built.
    """
    with warehouse.connect(path) as conn:
        conn.execute(f"drop table if exists main.{CHANGES_TABLE}")
    rows: dict[str, int] = {}
    needs = upstream_models()
    for phase in _phases(needs):
        if phase[0] in SLICED_BY_CUSTOMER:
            (model,) = phase
            rows[model] = warehouse.refresh_by_customer(path, model, params)
            with warehouse.connect(path) as conn:
                index_model(conn, model)
        else:
            rows.update(_build_side_by_side(path, phase, params, needs))
        if progress is not None:
            progress(
                f"Silver {len(rows)}/{len(SILVER_MODELS)} models built "
                f"({', '.join(m.split('/')[-1] for m in phase)})"
            )
    return rows


def _phases(needs: Mapping[str, list[str]]) -> list[list[str]]:
    """SILVER_MODELS cut into the sliced models, one each, and the runs of
    other models between them, those with inputs (``needs``) in their run
    last."""
    phases: list[list[str]] = []
    for model in SILVER_MODELS:
        if (
            model in SLICED_BY_CUSTOMER
            or not phases
            or phases[-1][0] in SLICED_BY_CUSTOMER
        ):
            phases.append([model])
        else:
            phases[-1].append(model)
    depth: dict[str, int] = {}
    for phase in phases:
        for model in phase:
            depth[model] = 1 + max(
                (depth[m] for m in needs[model] if m in phase), default=-1
            )
        phase.sort(key=depth.__getitem__)  # stable: build order within a depth
    return phases


def _build_side_by_side(
    path: Path,
    models: list[str],
    params: Mapping[str, Any],
    needs: Mapping[str, list[str]],
) -> dict[str, int]:
    """Build models at once, each after those of its inputs among them.

    Submitted with their inputs first and taken in that order, a model
    that waits for an input waits for one already running: no deadlock.
    """
    built: dict[str, Future[int]] = {}
    workers = min(len(models), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for model in models:
            inputs = [built[m] for m in needs[model] if m in built]
            built[model] = pool.submit(_build_aside, path, model, params, inputs)
        return {model: run.result() for model, run in built.items()}


def _build_aside(
    path: Path, model: str, params: Mapping[str, Any], inputs: list[Future[int]]
) -> int:
    for run in inputs:
        run.result()  # an input that failed fails this model with its error
    with warehouse.autocommit(path) as conn, _read_order(conn, model):
        rows = warehouse.materialize_aside(conn, model, params)
    with warehouse.connect(path) as conn:
        index_model(conn, model)
    return rows


def upstream_models() -> dict[str, list[str]]:
    """For each Silver model, the earlier Silver models its SQL reads."""
    needs: dict[str, list[str]] = {}
    for i, model in enumerate(SILVER_MODELS):
        sql = warehouse.strip_comments(warehouse.sql_text(f"{model}.sql"))
        words = set(re.findall(r"[a-z_][a-z0-9_]*", sql))
        needs[model] = [m for m in SILVER_MODELS[:i] if table_of(m) in words]
    return needs


def stage_batches(conn: sqlite3.Connection, batch_ids: Iterable[str]) -> int:
    """Note the Bronze rows of these batches as the new rows (temp.new_rows),
    in one scan of Bronze; returns how many there are."""
    conn.execute("drop table if exists temp.batches")
    conn.execute("create temp table batches (batch_id varchar(64) primary key)")
    conn.executemany(
        "insert or ignore into temp.batches values (?)", ((b,) for b in batch_ids)
    )
    _new_rows_table(conn)
    before = conn.total_changes
    conn.execute(
        "insert into temp.new_rows select transaction_id "
        "from main.bronze_transactions where batch_id in temp.batches"
    )
    return conn.total_changes - before


def stage_rows(conn: sqlite3.Connection, transaction_ids: Iterable[str]) -> None:
    """Note these Bronze rows as the new rows (temp.new_rows)."""
    _new_rows_table(conn)
    conn.executemany(
        "insert or ignore into temp.new_rows values (?)",
        ((tid,) for tid in transaction_ids),
    )


def _new_rows_table(conn: sqlite3.Connection) -> None:
    conn.execute("drop table if exists temp.new_rows")
    conn.execute("create temp table new_rows (transaction_id varchar(64) primary key)")


def _materialize(
    conn: sqlite3.Connection, model: str, params: Mapping[str, Any]
) -> int:
    """A full build of one model; see READ_IN_TABLE_ORDER."""
    with _read_order(conn, model):
        return warehouse.materialize(conn, model, params)


def _read_order(conn: sqlite3.Connection, model: str) -> AbstractContextManager:
    """See READ_IN_TABLE_ORDER."""
    if model not in READ_IN_TABLE_ORDER:
        return nullcontext()
    return _shadowed(conn, "bronze_transactions", hint="not indexed")


def touched_customer_share(conn: sqlite3.Connection) -> float:
    """Share of all customers with rows among the staged new rows."""
    touched, total = conn.execute(
        "select (select count(distinct customer_id) from main.bronze_transactions "
        "where transaction_id in temp.new_rows), "
        "(select count(distinct customer_id) from main.bronze_transactions)"
    ).fetchone()
    return touched / total if total else 1.0


def refresh_touched(
    conn: sqlite3.Connection,
    params: Mapping[str, Any],
    new_transaction_ids: Iterable[str],
) -> dict[str, int]:
    """Recompute only the partitions the given new Bronze rows fall in."""
    stage_rows(conn, new_transaction_ids)
    return refresh_staged(conn, params)


def refresh_staged(
    conn: sqlite3.Connection, params: Mapping[str, Any]
) -> dict[str, int]:
    """Recompute only the partitions the staged new rows fall in.

    Falls back to a full rebuild when Silver does not exist yet. Returns the
    rows that changed per model.
    """
    if not warehouse.table_exists(conn, table_of(FINAL_MODEL)):
        return rebuild_all(conn, params)
    _touched_keys(conn, "touched_customers", "customer_id", "bronze_transactions")
    _touched_keys(conn, "touched_cards", "card_id", "bronze_transactions")
    _touched_keys(conn, "touched_devices", "device_id", "bronze_transactions")
    conn.execute(f"drop table if exists main.{CHANGES_TABLE}")
    conn.execute(
        f"create table main.{CHANGES_TABLE} "
        "(transaction_id varchar(64) not null primary key)"
    )
    # The time of the earliest changed row of each table models read.
    earliest = {"bronze_transactions": _earliest(conn, "temp.new_rows")}
    replaced: dict[str, int] = {}
    for model in SILVER_MODELS[:-1]:
        if model in REBUILT_WHOLE:
            replaced[model] = warehouse.materialize(conn, model, params)
            continue
        partition = PARTITIONS[model]
        replaced[model], earliest[table_of(model)] = _replace_partitions(
            conn, model, partition, params, earliest.get(partition.driver)
        )
        if model == "silver/silver_pix_transfers":
            # The Pix network rules' partitions follow from the new transfers.
            _touched_payees_and_accounts(conn)
    replaced[FINAL_MODEL] = _replace_changed(conn, params)
    return replaced


def _earliest(conn: sqlite3.Connection, ids: str) -> int | None:
    """The time of the earliest Bronze row among these ids, None if none."""
    return conn.execute(
        "select min(created_at_epoch) from main.bronze_transactions "
        f"where transaction_id in {ids}"
    ).fetchone()[0]


def _touched_keys(conn: sqlite3.Connection, name: str, column: str, table: str) -> None:
    conn.execute(f"drop table if exists temp.{name}")
    conn.execute(
        f"create temp table {name} as select distinct {column} as key "
        f"from main.{table} where transaction_id in "
        f"(select transaction_id from temp.new_rows) and {column} is not null"
    )


def _touched_payees_and_accounts(conn: sqlite3.Connection) -> None:
    """Payees whose windows may change: those of the new rows, and those of a
    touched payer's transfers from their first new row on (a new row shifts
    the payer's later history and first payments, never the earlier ones)."""
    conn.execute("drop table if exists temp.touched_since")
    conn.execute(
        "create temp table touched_since as select customer_id, "
        "min(created_at_epoch) as since from main.bronze_transactions "
        "where transaction_id in temp.new_rows group by customer_id"
    )
    conn.execute("drop table if exists temp.touched_payees")
    conn.execute(
        # CROSS JOIN keeps this order: from the few payers, through the
        # (customer_id, time) index, never a scan of every transfer.
        "create temp table touched_payees as select distinct p.payee_id as key "
        "from temp.touched_since as t "
        "cross join main.silver_pix_transfers as p on p.customer_id = t.customer_id "
        "where p.created_at_epoch >= t.since"
    )
    conn.execute("drop table if exists temp.touched_accounts")
    conn.execute(
        "create temp table touched_accounts as "
        "select key from temp.touched_payees "
        "union select key from temp.touched_customers"
    )


def _replace_partitions(
    conn: sqlite3.Connection,
    model: str,
    partition: Partition,
    params: Mapping[str, Any],
    driver_changed_since: int | None,
) -> tuple[int, int | None]:
    """Recompute the touched partitions; write and record only the rows that
    differ from before (new rows, rows whose windows now see the new ones,
    flags that appeared or went away). Everything after this model, and
    Gold, then works on those rows alone: for a drop of the next day, the
    new rows and a few before them, not the customers' whole history.

    ``driver_changed_since`` is the time of the earliest changed row of the
    table the model reads (None: nothing changed there). Returns the number
    of rows that changed and the time of the earliest of them.
    """
    table = table_of(model)
    driver = partition.driver
    view = partition.view
    scope = partition.scope or partition.view
    if partition.window is not None:
        if driver_changed_since is None:
            return 0, None
        reach = int(params[partition.window])
        view = f"({view}) and created_at_epoch >= {driver_changed_since - 2 * reach}"
        scope = f"({scope}) and created_at_epoch >= {driver_changed_since - reach}"
    conn.execute("drop table if exists temp.scope")
    conn.execute(
        f"create temp table scope as select transaction_id from main.{driver} "
        f"where {scope}"
    )
    conn.execute("drop table if exists temp.fresh")
    select, bound = _model_select(model, params, "m.transaction_id in temp.scope")
    with _shadowed(conn, driver, view):
        conn.execute(f"create temp table fresh as {select}", bound)
    # Rows are compared whole: the same windows over the same rows give the
    # same values, so a row that did not change compares equal.
    conn.execute("drop table if exists temp.stored")
    conn.execute(
        f"create temp table stored as select * from main.{table} "
        "where transaction_id in temp.scope"
    )
    conn.execute("drop table if exists temp.differ")
    conn.execute(
        "create temp table differ as select transaction_id from "
        "(select * from temp.fresh except select * from temp.stored) union "
        "select transaction_id from (select * from temp.stored except "
        "select * from temp.fresh)"
    )
    conn.execute(
        f"insert or ignore into main.{CHANGES_TABLE} select * from temp.differ"
    )
    conn.execute(f"delete from main.{table} where transaction_id in temp.differ")
    before = conn.total_changes
    conn.execute(
        f"insert into main.{table} select * from temp.fresh "
        "where transaction_id in temp.differ"
    )
    return conn.total_changes - before, _earliest(conn, "temp.differ")


def _replace_changed(conn: sqlite3.Connection, params: Mapping[str, Any]) -> int:
    """silver_transactions for every row whose inputs were recomputed."""
    table = table_of(FINAL_MODEL)
    changed = f"transaction_id in main.{CHANGES_TABLE}"
    conn.execute(f"delete from main.{table} where {CHANGED_SILVER_ROWS}")
    with _shadowed(conn, "bronze_transactions", changed):
        return _insert(conn, FINAL_MODEL, params)


def changed_silver_only(conn: sqlite3.Connection) -> AbstractContextManager:
    """Inside, unqualified ``silver_transactions`` holds only the rows the
    last incremental refresh changed: what reads Silver after a drop (the
    risk model's scoring) reads the drop's rows, not the whole table."""
    return _shadowed(conn, table_of(FINAL_MODEL), CHANGED_SILVER_ROWS)


@contextmanager
def _shadowed(
    conn: sqlite3.Connection, table: str, where: str = "1 = 1", hint: str = ""
) -> Iterator[None]:
    """Unqualified ``table`` means only its rows matching ``where`` inside
    (read with the SQLite ``hint``, such as NOT INDEXED).

    SQLite resolves an unqualified name to the temp schema first, so the
    model's unchanged SQL reads the view.
    """
    conn.execute(f"drop view if exists temp.{table}")
    conn.execute(
        f"create temp view {table} as select * from main.{table} {hint} where {where}"
    )
    try:
        yield
    finally:
        conn.execute(f"drop view temp.{table}")


def _insert(
    conn: sqlite3.Connection,
    model: str,
    params: Mapping[str, Any],
    keep: str | None = None,
) -> int:
    """Insert the model's rows (those satisfying ``keep``) into its table."""
    select, bound = _model_select(model, params, keep)
    before = conn.total_changes
    conn.execute(f"insert into main.{table_of(model)} {select}", bound)
    return conn.total_changes - before


def _model_select(
    model: str, params: Mapping[str, Any], keep: str | None
) -> tuple[str, dict[str, Any]]:
    """The model's select (rows satisfying ``keep``, on alias m), bound."""
    select = warehouse.sql_text(f"{model}.sql")
    where = f" where {keep}" if keep else ""
    return f"select * from ({select}) as m{where}", warehouse.bind(select, params)


# --- Gold -------------------------------------------------------------------

# Gold models, the Silver rows each reads, by the key its rows are grouped
# on: a customer's scores and context, a local day's bairro summary. After an
# incremental Silver refresh only the customers and bairro-days of the changed rows
# are recomputed.
_GOLD_BY_CUSTOMER = "customer_id in temp.gold_customers"
# A bairro and day (the bairro may be unknown: NULL matches NULL here).
_GOLD_BY_PLACE_AND_DAY = (
    "(local_day, bairro) in (select local_day, bairro from temp.gold_places) "
    "or (bairro is null and local_day in "
    "(select local_day from temp.gold_places where bairro is null))"
)
GOLD_PARTITIONS: dict[str, str] = {
    "gold/gold_transaction_risk": _GOLD_BY_CUSTOMER,
    "gold/gold_anomalies": _GOLD_BY_CUSTOMER,
    "gold/gold_customer_risk": _GOLD_BY_CUSTOMER,
    "gold/gold_bairro_daily": _GOLD_BY_PLACE_AND_DAY,
}


def rebuild_gold(conn: sqlite3.Connection, params: Mapping[str, Any]) -> dict[str, int]:
    """Every Gold model from scratch, with the index a refresh after a drop
    finds a customer's rows by (the score table holds every transaction)."""
    rows = {}
    for model in GOLD_MODELS:
        rows[model] = warehouse.materialize(conn, model, params)
        index_model(conn, model)
    return rows


def refresh_gold(conn: sqlite3.Connection, params: Mapping[str, Any]) -> dict[str, int]:
    """Recompute the Gold rows of the customers and bairro-days the last incremental
    Silver refresh changed; a full rebuild when there is no such record or
    no Gold yet. Returns the rows replaced per model."""
    if not warehouse.table_exists(conn, CHANGES_TABLE) or not all(
        warehouse.table_exists(conn, table_of(m)) for m in GOLD_MODELS
    ):
        return rebuild_gold(conn, params)
    silver = table_of(FINAL_MODEL)
    conn.execute("drop table if exists temp.gold_changed")
    conn.execute(
        "create temp table gold_changed as select customer_id, local_day, bairro "
        f"from main.{silver} where {CHANGED_SILVER_ROWS}"
    )
    for name, columns in (
        ("gold_customers", "customer_id"),
        ("gold_places", "local_day, bairro"),
    ):
        conn.execute(f"drop table if exists temp.{name}")
        conn.execute(
            f"create temp table {name} as select distinct {columns} "
            "from temp.gold_changed"
        )
    replaced = {}
    for model in GOLD_MODELS:
        keep = GOLD_PARTITIONS[model]
        conn.execute(f"delete from main.{table_of(model)} where {keep}")
        with _shadowed(conn, silver, keep):
            replaced[model] = _insert(conn, model, params, keep)
    return replaced


def table_of(model: str) -> str:
    return Path(model).stem
