"""The shape of a model entry: how an engine builds, refreshes and slices it.

Separate from the registry (``ssa.models``) so that a rule's entry
(``ssa.rules``) can carry its own model and the registry can gather the
rules' models without an import cycle.

The partition filters are SQL on the keys an incremental refresh stages in
temporary tables (``temp.touched_customers`` and so on,
``ssa/engines/incremental.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Partition:
    """How a Silver model is partitioned, as filters on the table driving it.

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

    ``ahead`` is for models that read a partition's whole history but whose
    output rows see at most that far after themselves: the parameter with
    the reach of their widest ``following`` frame, in seconds, or 0 when
    every frame ends at the row itself (the customer features see only
    earlier payments). When the earliest changed input is at T, rows before
    T - ahead keep their output: a drop of tomorrow's transactions
    recomputes and compares its own rows, not the customers' whole history.
    None: any row of a touched partition may change.
    """

    driver: str
    view: str
    scope: str | None = None
    window: str | None = None
    ahead: str | int | None = None


@dataclass(frozen=True)
class Model:
    """One SQL model and how engines build it.

    ``partition`` (Silver): what an incremental refresh recomputes; None for
    a model rebuilt whole at every refresh (it only gathers rows of models
    before it, whose changes those have recorded). ``gold_scope`` (Gold):
    the rows a refresh replaces, as a filter on Silver's changed keys;
    ``gold_reads`` the Silver rows it reads to recompute them, where that is
    more than the scope (a window over a customer's earlier rows).
    ``indexes``: built after every full build, the ids later models join on
    and the columns a refresh finds touched rows by, so its cost follows the
    size of the drop (on SQLite an index built once beats the automatic one
    it would build for every join). ``by_customer``: windows run over one customer
    at a time and Bronze is read by its unqualified name, so the full build
    can run in slices of customers at once. ``table_order``: a full build
    reads Bronze in table order, not through the card or device index a
    refresh needs (SQLite would otherwise fetch rows in random order to save
    a sort).
    """

    name: str
    partition: Partition | None = None
    gold_scope: str | None = None
    gold_reads: str | None = None
    indexes: tuple[tuple[str, ...], ...] = field(default=())
    by_customer: bool = False
    table_order: bool = False

    @property
    def table(self) -> str:
        return self.name.rsplit("/", 1)[-1]


# The partitions a refresh recomputes, as filters on the touched keys: a
# customer's own rows, a payee's, an account's both ways. A row with no
# customer (a source that names none) is a partition of its own, whose
# customer windows are all NULL: only the new ones are recomputed.
BY_CUSTOMER = (
    "customer_id in (select key from temp.touched_customers)"
    " or (customer_id is null"
    " and transaction_id in (select transaction_id from temp.new_rows))"
)
BY_PAYEE = "payee_id in (select key from temp.touched_payees)"
BY_DEVICE = "device_id in (select key from temp.touched_devices)"
# An account's rows as the payer (the pass-through rule's own rows).
BY_ACCOUNT_PAYING = "customer_id in (select key from temp.touched_accounts)"
BY_ACCOUNT = (
    f"{BY_ACCOUNT_PAYING} or payee_id in (select key from temp.touched_accounts)"
)
CUSTOMERS = Partition("bronze_transactions", BY_CUSTOMER)
# Windows over a customer's earlier payments only: a row sees nothing later.
CUSTOMERS_BEFORE = Partition("bronze_transactions", BY_CUSTOMER, ahead=0)
# The index every model that later models join on carries.
BY_ID = (("transaction_id",),)
