"""Hand-built Bronze rows and a runner for one SQL model on them.

Like dbt unit tests: given a few rows, run the real ``.sql`` file on an
in-memory SQLite and look at what it flags.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from ssa.engines import base
from ssa.engines.sqlite_warehouse import SQLiteSession
from ssa.generator import Dataset
from ssa.models import BY_NAME, SILVER_MODELS
from ssa.settings import Settings, sql_params

MEMORY = Path(":memory:")
# 2026-10-01 00:00 in Salvador (UTC-3), as UTC epoch seconds.
MIDNIGHT = 1_790_823_600
KM_PER_DEG_LAT = 111.195
BASE_LAT, BASE_LON = -12.98, -38.48


def at(hour: int, minute: int = 0, second: int = 0, day: int = 0) -> int:
    """Epoch seconds of a local wall-clock time on 2026-10-01 + day."""
    return MIDNIGHT + day * 86_400 + hour * 3600 + minute * 60 + second


def north_km(km: float) -> float:
    """Latitude that far north of the base point (for exact distances)."""
    return BASE_LAT + km / KM_PER_DEG_LAT


def tx(transaction_id: str, created_at_epoch: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "transaction_id": transaction_id,
        "created_at_epoch": created_at_epoch,
        "customer_id": "C1",
        "payer_type": "PF",
        "channel": "debit",
        "amount_cents": 5_000,
        "payee_id": "M1",
        "payee_type": "PJ",
        "is_same_owner": 0,
        "merchant_id": "M1",
        "category": "supermercado",
        "card_id": "card-1",
        "entry_mode": "present",
        "auth_status": "approved",
        "device_id": "dev-1",
        "device_first_seen_epoch": MIDNIGHT - 400 * 86_400,
        "bairro": "Barra",
        "lat": BASE_LAT,
        "lon": BASE_LON,
        "source": "test",
        "batch_id": "b1",
        "ingested_at": "2026-11-25T00:00:00+00:00",
    }
    row.update(overrides)
    return row


def pix(transaction_id: str, created_at_epoch: int, **overrides: Any) -> dict[str, Any]:
    """A Pix to another person from the customer's usual phone."""
    base = {
        "channel": "pix",
        "payee_id": "C2",
        "payee_type": "PF",
        "merchant_id": None,
        "category": None,
        "card_id": None,
        "entry_mode": None,
    }
    return tx(transaction_id, created_at_epoch, **{**base, **overrides})


def customer(customer_id: str = "C1", **overrides: Any) -> dict[str, Any]:
    row = {
        "customer_id": customer_id,
        "name": "Maria Souza",
        "cpf": "123.456.789-09",
        "home_bairro": "Barra",
        "work_bairro": "Comércio",
        "monthly_income": 3000.0,
        "credit_score": 600,
        "night_start_hour": 20,
        "night_limit_cents": 100_000,
        "source": "test",
        "batch_id": "b1",
        "ingested_at": "2026-11-25T00:00:00+00:00",
    }
    row.update(overrides)
    return row


def warehouse_with(
    rows: list[dict[str, Any]], customers: list[dict[str, Any]] | None = None
) -> SQLiteSession:
    conn = SQLiteSession(sqlite3.connect(":memory:", isolation_level=None), MEMORY)
    conn.apply_schema()
    conn.insert_new("bronze_transactions", "transaction_id", pd.DataFrame(rows))
    people = customers if customers is not None else [customer()]
    if people:
        conn.insert_new("bronze_customers", "customer_id", pd.DataFrame(people))
    return conn


def run_silver(
    rows: list[dict[str, Any]],
    customers: list[dict[str, Any]] | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Silver rows indexed by transaction id."""
    settings = settings or Settings()
    conn = warehouse_with(rows, customers)
    for model in SILVER_MODELS:
        conn.materialize(BY_NAME[model], sql_params(settings))
    frame = pd.read_sql_query("select * from silver_transactions", conn.conn)
    return frame.set_index("transaction_id")


def flagged(frame: pd.DataFrame, rule: str) -> set[str]:
    return set(frame.index[frame[f"is_{rule}"] == 1])


def run_models(
    rows: list[dict[str, Any]],
    models: tuple[str, ...],
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Materialise models in order; the last one's rows, by transaction id."""
    settings = settings or Settings()
    conn = warehouse_with(rows)
    for model in models:
        conn.materialize(BY_NAME[model], sql_params(settings))
    table = models[-1].split("/")[-1]
    frame = pd.read_sql_query(f"select * from {table}", conn.conn)
    return frame.set_index("transaction_id")


def run_select(sql: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A model's select, as given (a test may alter a model's text), on
    hand-built rows; its rows by transaction id."""
    conn = warehouse_with(rows)
    params = base.bind(sql, sql_params(Settings()))
    frame = pd.read_sql_query(sql, conn.conn, params=params)
    return frame.set_index("transaction_id")


def without_device_first_use(data: Dataset) -> Dataset:
    """The generated month with every other customer's rows as a foreign
    export gives them: a device id but no device first use, which Silver
    then derives from the history (silver_device_first_use.sql). Engine and
    refresh comparisons over it cover the derivation, not only the given
    values."""
    tx = data.transactions.copy()
    customers = tx["customer_id"].drop_duplicates().sort_values().iloc[::2]
    tx.loc[tx["customer_id"].isin(customers), "device_first_seen_epoch"] = None
    return dataclasses.replace(data, transactions=tx)
