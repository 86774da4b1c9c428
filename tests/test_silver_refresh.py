"""Silver rebuilt in slices of customers, and refreshed for a few of them,
gives exactly the rows of the plain model run on one connection."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from ssa import warehouse
from ssa.generator import generate
from ssa.settings import Settings
from tasks.bronze import _load
from tasks.silver import SILVER_MODEL, refresh_silver, sql_params


@pytest.fixture()
def settings(tmp_path) -> Settings:
    settings = Settings(
        paths={"data_dir": tmp_path},
        generator={"n_customers": 120, "n_merchants": 40, "days": 7},
    )
    _load(generate(settings), settings)
    return settings


def silver(settings: Settings) -> pd.DataFrame:
    with sqlite3.connect(settings.paths.warehouse_path) as conn:
        frame = pd.read_sql_query("select * from silver_transactions", conn)
    return frame.sort_values("transaction_id", ignore_index=True)


def plain_model(settings: Settings) -> pd.DataFrame:
    """The SQL file as one statement on one connection, no slicing."""
    with warehouse.connect(settings.paths.warehouse_path) as conn:
        warehouse.materialize(conn, SILVER_MODEL, sql_params(settings))
    return silver(settings)


def test_sliced_rebuild_equals_the_plain_model(settings) -> None:
    written = warehouse.refresh_by_customer(
        settings.paths.warehouse_path, SILVER_MODEL, sql_params(settings), workers=3
    )
    sliced = silver(settings)
    assert written == len(sliced) > 0
    pd.testing.assert_frame_equal(sliced, plain_model(settings))


def test_refreshing_touched_customers_equals_a_full_rebuild(settings) -> None:
    refresh_silver(settings)
    before = silver(settings)
    touched = sorted(before["customer_id"].unique())[:3]
    path = settings.paths.warehouse_path
    with warehouse.connect(path) as conn:
        # A later drop: an impossible hop for one customer, a burst for the
        # others, and one of the first customer's rows corrected.
        new = (
            pd.read_sql_query(
                "select * from bronze_transactions where customer_id in (?, ?, ?)",
                conn,
                params=touched,
            )
            .groupby("customer_id")
            .head(6)
        )
        new["transaction_id"] = "late-" + new["transaction_id"]
        new["created_at_epoch"] += 120
        new.loc[new.index[0], "lat"] += 0.2
        warehouse.insert_new(conn, "bronze_transactions", "transaction_id", new)
        conn.execute(
            "update bronze_transactions set amount_cents = amount_cents * 40 "
            "where transaction_id = (select min(transaction_id) "
            "from bronze_transactions where customer_id = ?)",
            (touched[0],),
        )

    written = refresh_silver(settings, customer_ids=touched)

    incremental = silver(settings)
    assert written == int(incremental["customer_id"].isin(touched).sum())
    assert len(incremental) == len(before) + len(new)
    untouched = ~before["customer_id"].isin(touched)
    pd.testing.assert_frame_equal(
        incremental[~incremental["customer_id"].isin(touched)].reset_index(drop=True),
        before[untouched].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(incremental, plain_model(settings))


def test_refresh_without_a_silver_table_builds_it_whole(settings) -> None:
    written = refresh_silver(settings, customer_ids=["C0000001"])
    assert written == len(silver(settings)) > 100


def test_repeated_key_in_one_batch_is_an_error_naming_it(settings) -> None:
    rows = pd.DataFrame(
        {"transaction_id": ["t1", "t1"], "scenario": ["x", "x"], "is_fraud": [1, 1]}
    )
    with (
        pytest.raises(warehouse.WarehouseError, match="t1"),
        warehouse.connect(settings.paths.warehouse_path) as conn,
    ):
        warehouse.insert_new(conn, "ground_truth_labels", "transaction_id", rows)
