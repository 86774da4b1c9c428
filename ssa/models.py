"""What the project knows about each Silver and Gold model, in one place.

A model is a ``select`` file under ``sql/`` materialised as the table named
after it; its entry (``ssa.model_spec.Model``) says how engines build it,
refresh part of it after a drop and slice its full build. The rules' own
models come from their entries in ``ssa.rules``. Adding a model is its SQL
file and one entry here (or in ``ssa.rules`` for a rule).
"""

from __future__ import annotations

from ssa.model_spec import (
    BY_CUSTOMER,
    BY_DEVICE,
    BY_ID,
    CUSTOMERS,
    CUSTOMERS_BEFORE,
    Model,
    Partition,
)
from ssa.rules import DETECTION_RULES

__all__ = [
    "BY_NAME",
    "FINAL_MODEL",
    "GOLD",
    "GOLD_MODELS",
    "SCORES_TABLE",
    "SILVER",
    "SILVER_MODELS",
    "Model",
    "Partition",
]

_RULE_MODELS = tuple(rule.model for rule in DETECTION_RULES if rule.model)

# Silver, in build order: the per-customer intermediates (the risk model's
# features among them), the rules' models (those sliced by customer first;
# then the rest, which a full build runs side by side, in the rules' order,
# pass-through, the longest, early), the sparse rules' flags in one table,
# then silver_transactions, which joins them.
SILVER: tuple[Model, ...] = (
    Model(
        "silver/silver_customer_windows",
        # Velocity counts the payments either side of a row.
        Partition("bronze_transactions", BY_CUSTOMER, ahead="velocity_window_seconds"),
        indexes=BY_ID,
        by_customer=True,
    ),
    Model(
        "silver/silver_customer_features",
        CUSTOMERS_BEFORE,
        indexes=BY_ID,
        by_customer=True,
    ),
    # Also over earlier payments only (the day and the month before each).
    Model(
        "silver/silver_customer_recent",
        CUSTOMERS_BEFORE,
        indexes=BY_ID,
        by_customer=True,
    ),
    Model(
        "silver/silver_pix_transfers",
        # A pair's sequence and the payer's baseline count earlier rows only.
        CUSTOMERS_BEFORE,
        indexes=(
            ("transaction_id",),
            ("customer_id", "created_at_epoch"),
            ("payee_id", "created_at_epoch"),
        ),
        by_customer=True,
    ),
    *(m for m in _RULE_MODELS if m.by_customer),
    # A device's first use where the source gave none: since when the
    # customer is seen (over the customer), then the device's first row
    # (over the device, through the refresh's touched devices, which the
    # customers whose start moved add to).
    Model(
        "silver/silver_customer_since",
        CUSTOMERS,
        indexes=(("transaction_id",), ("device_id",)),
        by_customer=True,
    ),
    Model(
        "silver/silver_device_first_use",
        Partition("silver_customer_since", BY_DEVICE),
        indexes=(("transaction_id",), ("device_id",)),
    ),
    Model(
        "silver/silver_night_pix",
        CUSTOMERS,
        indexes=(("transaction_id",), ("customer_id",)),
    ),
    *(m for m in _RULE_MODELS if not m.by_customer),
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
# recomputed (the bairro may be unknown: NULL matches NULL there), and of a
# customer's transactions only those from the earliest changed one on
# (temp.gold_rows): a transaction's score reads its own Silver row and the
# customer's earlier flags, nothing later.
# A changed row with no customer is recomputed alone, read with the other
# rows of its file that have none (temp.gold_files): they are what its
# anomaly score measures it against.
_GOLD_CUSTOMERS = "customer_id in (select customer_id from temp.gold_customers)"
_GOLD_BY_CUSTOMER = (
    f"{_GOLD_CUSTOMERS} or (customer_id is null "
    "and batch_id in (select batch_id from temp.gold_files))"
)
_GOLD_CHANGED_ON = (
    f"({_GOLD_CUSTOMERS} or customer_id is null) and transaction_id in "
    "(select transaction_id from temp.gold_rows)"
)
_GOLD_BY_PLACE_AND_DAY = (
    "(local_day, bairro) in (select local_day, bairro from temp.gold_places) "
    "or (bairro is null and local_day in "
    "(select local_day from temp.gold_places where bairro is null))"
)
GOLD: tuple[Model, ...] = (
    # Every transaction: a refresh replaces a customer's rows by this index.
    # The rules' and the anomaly score's parts first: the one Gold model that
    # does not wait for the risk model's scores.
    Model(
        "gold/gold_risk_parts",
        gold_scope=_GOLD_CHANGED_ON,
        gold_reads=_GOLD_BY_CUSTOMER,
        indexes=(("customer_id",),),
    ),
    Model(
        "gold/gold_transaction_risk",
        gold_scope=_GOLD_CHANGED_ON,
        indexes=(("customer_id",),),
    ),
    Model("gold/gold_anomalies", gold_scope=_GOLD_CHANGED_ON),
    Model("gold/gold_customer_risk", gold_scope=_GOLD_CUSTOMERS),
    Model("gold/gold_bairro_daily", gold_scope=_GOLD_BY_PLACE_AND_DAY),
)

# Where the risk model's probabilities go (ssa/risk/model_scoring.py) and
# gold_transaction_risk reads them: the Gold models before the first that
# reads it may be built while the model scores.
SCORES_TABLE = "gold_model_scores"

# A source's own columns (a mapping's ``features``), one JSON object per
# transaction: the intake writes it, only the risk model reads it. A
# ``times`` feature is stored as the seconds from its column's time to the
# payment, under SINCE and the column's name, so a reason can say it as a
# span ("3 s after signup_time").
SOURCE_FEATURES_TABLE = "bronze_source_features"
SINCE = "seconds_since_"

SILVER_MODELS: tuple[str, ...] = tuple(m.name for m in SILVER)
GOLD_MODELS: tuple[str, ...] = tuple(m.name for m in GOLD)
FINAL_MODEL: str = SILVER[-1].name
BY_NAME: dict[str, Model] = {m.name: m for m in (*SILVER, *GOLD)}
