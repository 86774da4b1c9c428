"""An incremental Silver refresh must equal a full rebuild on the same data.

The hard case: the new rows are a random tenth of a month, interleaved in
time with what is already there (a late export), touching customers, cards,
devices, payees and mule accounts across every rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssa import refresh, warehouse
from ssa.generator import generate
from ssa.rules import SILVER_MODELS
from ssa.settings import Settings
from tasks.silver import sql_params

SETTINGS = Settings(
    generator={"n_customers": 500, "n_merchants": 100, "days": 14, "seed": 5},
    fraud={"mule_rate": 0.02, "first_time_payee_rate": 0.03},
)


def _tables(conn) -> dict[str, pd.DataFrame]:
    out = {}
    for model in SILVER_MODELS:
        table = model.split("/")[-1]
        frame = pd.read_sql_query(f"select * from {table}", conn)
        out[table] = frame.sort_values("transaction_id").reset_index(drop=True)
    return out


def _load(conn, frame: pd.DataFrame, customers: pd.DataFrame) -> None:
    lineage = {"source": "test", "batch_id": "b", "ingested_at": "now"}
    warehouse.insert_new(
        conn, "bronze_transactions", "transaction_id", frame.assign(**lineage)
    )
    warehouse.insert_new(
        conn, "bronze_customers", "customer_id", customers.assign(**lineage)
    )


@pytest.fixture(scope="module")
def data():
    return generate(SETTINGS)


def test_incremental_equals_full_rebuild(tmp_path, data) -> None:
    tx = data.transactions
    late = np.random.default_rng(0).random(len(tx)) < 0.1
    params = sql_params(SETTINGS)

    with warehouse.connect(tmp_path / "inc.db") as conn:
        warehouse.apply_schema(conn)
        _load(conn, tx[~late], data.customers)
        refresh.rebuild_all(conn, params)
        _load(conn, tx[late], data.customers)
        replaced = refresh.refresh_touched(conn, params, tx.loc[late, "transaction_id"])
        incremental = _tables(conn)

    with warehouse.connect(tmp_path / "full.db") as conn:
        warehouse.apply_schema(conn)
        _load(conn, tx, data.customers)
        refresh.rebuild_all(conn, params)
        full = _tables(conn)

    assert replaced["silver/silver_transactions"] < len(tx)
    for table, expected in full.items():
        assert len(expected) > 0, table
        pd.testing.assert_frame_equal(incremental[table], expected, obj=table)


def test_a_small_drop_touches_few_rows(tmp_path, data) -> None:
    tx = data.transactions
    params = sql_params(SETTINGS)
    one_customer = tx["customer_id"] == tx["customer_id"].iloc[0]
    newest = one_customer & (
        tx["created_at_epoch"] == tx.loc[one_customer, "created_at_epoch"].max()
    )
    with warehouse.connect(tmp_path / "w.db") as conn:
        warehouse.apply_schema(conn)
        _load(conn, tx[~newest], data.customers)
        refresh.rebuild_all(conn, params)
        _load(conn, tx[newest], data.customers)
        replaced = refresh.refresh_touched(
            conn, params, tx.loc[newest, "transaction_id"]
        )
    assert 0 < replaced["silver/silver_transactions"] < len(tx) / 20


@pytest.mark.parametrize(("share", "full"), [(1.0, False), (0.0, True)])
def test_a_drop_touching_many_customers_gets_the_full_rebuild(
    tmp_path, data, share: float, full: bool
) -> None:
    from tasks.silver import _build

    settings = SETTINGS.model_copy(
        update={
            "paths": SETTINGS.paths.model_copy(update={"data_dir": tmp_path}),
            "ingest": SETTINGS.ingest.model_copy(
                update={"incremental_max_customer_share": share}
            ),
        }
    )
    tx = data.transactions
    one = tx["customer_id"] == tx["customer_id"].iloc[0]
    with warehouse.connect(settings.paths.warehouse_path) as conn:
        warehouse.apply_schema(conn)
        _load(conn, tx[~one], data.customers)
    _build(settings, None)
    with warehouse.connect(settings.paths.warehouse_path) as conn:
        warehouse.insert_new(
            conn,
            "bronze_transactions",
            "transaction_id",
            tx[one].assign(source="drop", batch_id="drop-1", ingested_at="now"),
        )
    rows = _build(settings, ["drop-1"])
    assert (rows[refresh.FINAL_MODEL] == len(tx)) is full
