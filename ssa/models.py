"""What the project knows about each Silver and Gold model, in one place.

A model is a ``select`` file under ``sql/`` materialised as the table named
after it. Beside its build order, an engine needs to know how to rebuild
only part of it after a drop (the partition its windows run over), which
columns a later refresh finds its rows by (indexes, where the engine has
them) and how the full build can be split (slices of customers). Adding a
model is its SQL file and one entry here.

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
    """

    driver: str
    view: str
    scope: str | None = None
    window: str | None = None


@dataclass(frozen=True)
class Model:
    """One SQL model and how engines build it.

    ``partition`` (Silver): what an incremental refresh recomputes; None for
    a model rebuilt whole at every refresh (it only gathers rows of models
    before it, whose changes those have recorded). ``gold_scope`` (Gold):
    the rows a refresh replaces, as a filter on Silver's changed keys.
    ``indexes``: built after every full build, the ids later models join on
    and the columns a refresh finds touched rows by, so its cost follows the
    size of the drop (on SQLite an index built once beats the automatic one
    it builds for every join: silver_transactions on 1M rows 10.7 s -> 7.7 s
    for 1.1 s of indexing). ``by_customer``: windows run over one customer
    at a time and Bronze is read by its unqualified name, so the full build
    can run in slices of customers at once. ``table_order``: a full build
    reads Bronze in table order, not through the card or device index a
    refresh needs (SQLite would fetch rows in random order to save a sort:
    new device on 1M rows 0.84 s against 0.33 s).
    """

    name: str
    partition: Partition | None = None
    gold_scope: str | None = None
    indexes: tuple[tuple[str, ...], ...] = field(default=())
    by_customer: bool = False
    table_order: bool = False

    @property
    def table(self) -> str:
        return self.name.rsplit("/", 1)[-1]


_BY_CUSTOMER = "customer_id in (select key from temp.touched_customers)"
_BY_PAYEE = "payee_id in (select key from temp.touched_payees)"
_BY_ACCOUNT = (
    "customer_id in (select key from temp.touched_accounts)"
    " or payee_id in (select key from temp.touched_accounts)"
)
_CUSTOMERS = Partition("bronze_transactions", _BY_CUSTOMER)
_ID = (("transaction_id",),)

# Silver, in build order: the per-customer intermediates (the risk model's
# features among them), then one model per rule (pass-through, the longest,
# first: the rules build side by side), the sparse rules' flags in one
# table, then silver_transactions, which joins them.
SILVER: tuple[Model, ...] = (
    Model("silver/silver_customer_windows", _CUSTOMERS, indexes=_ID, by_customer=True),
    Model("silver/silver_customer_features", _CUSTOMERS, indexes=_ID, by_customer=True),
    Model("silver/silver_customer_recent", _CUSTOMERS, indexes=_ID, by_customer=True),
    Model(
        "silver/silver_pix_transfers",
        _CUSTOMERS,
        indexes=(
            ("transaction_id",),
            ("customer_id", "created_at_epoch"),
            ("payee_id", "created_at_epoch"),
        ),
        by_customer=True,
    ),
    Model(
        "silver/silver_rule_impossible_travel",
        _CUSTOMERS,
        indexes=_ID,
        by_customer=True,
    ),
    Model(
        "silver/silver_rule_pass_through",
        Partition(
            "silver_pix_transfers",
            _BY_ACCOUNT,
            scope="customer_id in (select key from temp.touched_accounts)",
            window="pass_through_window_seconds",
        ),
    ),
    Model(
        "silver/silver_night_pix",
        _CUSTOMERS,
        indexes=(("transaction_id",), ("customer_id",)),
    ),
    Model(
        "silver/silver_rule_night_pix_limit",
        Partition("silver_night_pix", _BY_CUSTOMER),
    ),
    Model(
        "silver/silver_rule_structuring", Partition("silver_night_pix", _BY_CUSTOMER)
    ),
    Model(
        "silver/silver_rule_card_testing",
        Partition(
            "bronze_transactions",
            "card_id in (select key from temp.touched_cards)",
            window="card_testing_window_seconds",
        ),
        table_order=True,
    ),
    Model(
        "silver/silver_rule_new_device",
        Partition(
            "bronze_transactions",
            "device_id in (select key from temp.touched_devices)",
        ),
        table_order=True,
    ),
    Model(
        "silver/silver_rule_mule_fan_in",
        Partition("silver_pix_transfers", _BY_PAYEE, window="fan_in_window_seconds"),
    ),
    Model(
        "silver/silver_rule_first_time_payee",
        Partition(
            "silver_pix_transfers", _BY_PAYEE, window="first_payee_window_seconds"
        ),
    ),
    Model("silver/silver_rule_flags"),
    Model(
        "silver/silver_transactions",
        indexes=(("customer_id",), ("local_day", "bairro")),
        by_customer=True,
    ),
)

# Gold, in build order: per-transaction scores (every row), the flagged rows
# in full, then the summaries that read them. After an incremental Silver
# refresh only the customers and bairro-days of the changed rows are
# recomputed (the bairro may be unknown: NULL matches NULL there).
_GOLD_BY_CUSTOMER = "customer_id in (select customer_id from temp.gold_customers)"
_GOLD_BY_PLACE_AND_DAY = (
    "(local_day, bairro) in (select local_day, bairro from temp.gold_places) "
    "or (bairro is null and local_day in "
    "(select local_day from temp.gold_places where bairro is null))"
)
GOLD: tuple[Model, ...] = (
    # Every transaction: a refresh replaces a customer's rows by this index.
    Model(
        "gold/gold_transaction_risk",
        gold_scope=_GOLD_BY_CUSTOMER,
        indexes=(("customer_id",),),
    ),
    Model("gold/gold_anomalies", gold_scope=_GOLD_BY_CUSTOMER),
    Model("gold/gold_customer_risk", gold_scope=_GOLD_BY_CUSTOMER),
    Model("gold/gold_bairro_daily", gold_scope=_GOLD_BY_PLACE_AND_DAY),
)

SILVER_MODELS: tuple[str, ...] = tuple(m.name for m in SILVER)
GOLD_MODELS: tuple[str, ...] = tuple(m.name for m in GOLD)
FINAL_MODEL: str = SILVER[-1].name
BY_NAME: dict[str, Model] = {m.name: m for m in (*SILVER, *GOLD)}
