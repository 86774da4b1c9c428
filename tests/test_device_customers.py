"""How many other customers used a row's device before it.

A phone or browser many accounts pay from (a device farm, a mule ring, a
takeover from one machine) carries across sources: any export with a device
id has it, customer history or not. ``device_other_customers`` counts the
customers whose first row on the device is strictly earlier than the row,
the row's own customer left out; only earlier rows feed it, so a later row
never changes it, on an incremental refresh as on a full build.
"""

from __future__ import annotations

import pandas as pd

from ssa.engines import incremental
from ssa.models import GOLD, SILVER
from ssa.settings import Settings, sql_params
from tests.rows import at, pix, warehouse_with

DEVICE = "dev-shared"


def _on(tid: str, customer: str | None, hour: int, device: str | None = DEVICE):
    """A Pix from ``device`` on the first day, at ``hour``."""
    return pix(
        tid,
        at(hour),
        customer_id=customer,
        device_id=device,
        device_first_seen_epoch=None,
    )


# A at t1, B at t2, C at t3, then A again at t4.
SHARED = [
    _on("t1", "A", 10),
    _on("t2", "B", 11),
    _on("t3", "C", 12),
    _on("t4", "A", 13),
]


def _built(rows: list[dict]):
    conn = warehouse_with(rows)
    params = sql_params(Settings())
    incremental.rebuild(conn, SILVER, params)
    incremental.rebuild(conn, GOLD, params)
    return conn


def _others(conn) -> pd.Series:
    silver = pd.read_sql_query("select * from silver_transactions", conn.conn)
    return silver.set_index("transaction_id")["device_other_customers"]


def test_each_row_counts_the_other_customers_seen_on_the_device_before() -> None:
    others = _others(_built(SHARED))
    assert others[["t1", "t2", "t3", "t4"]].tolist() == [0, 1, 2, 2]


def test_a_later_row_never_changes_an_earlier_one() -> None:
    before = _others(_built(SHARED))
    after = _others(_built([*SHARED, _on("t5", "E", 14)]))
    pd.testing.assert_series_equal(after[before.index], before)
    assert after["t5"] == 3


def test_customers_seen_in_the_same_second_are_not_before_each_other() -> None:
    same = [_on("a", "A", 10), _on("b", "B", 10), _on("c", "C", 11)]
    others = _others(_built(same))
    assert others[["a", "b", "c"]].tolist() == [0, 0, 2]


def test_no_device_or_no_customer_gives_null_and_is_not_counted() -> None:
    rows = [
        _on("bare", "A", 9, device=None),
        _on("nobody", None, 10),
        *SHARED[1:],
        _on("later", "A", 14),
    ]
    others = _others(_built(rows))
    assert pd.isna(others["bare"])
    assert pd.isna(others["nobody"])
    # The row with no customer is no other customer of B, C or A.
    assert others[["t2", "t3", "later"]].tolist() == [0, 1, 2]


def test_other_devices_do_not_count() -> None:
    rows = [*SHARED, _on("own", "E", 14, device="dev-own")]
    assert _others(_built(rows))["own"] == 0


def test_a_refresh_with_earlier_rows_gives_what_a_full_build_gives() -> None:
    """A backfill of another customer before t1 moves every later row's
    count; a refresh recomputes them as a full build does, table for table."""
    params = sql_params(Settings())
    conn = _built(SHARED)
    drop = [_on("t0", "E", 8), _on("t5", "F", 15)]
    conn.insert_new("bronze_transactions", "transaction_id", pd.DataFrame(drop))
    incremental.refresh_touched(conn, params, [r["transaction_id"] for r in drop])
    incremental.refresh_gold(conn, params)
    full = _built([*SHARED, *drop])
    for model in (*SILVER, *GOLD):
        table = model.table
        key = "customer_id" if table == "gold_customer_risk" else "transaction_id"
        if table == "gold_bairro_daily":
            key = ["local_day", "bairro"]
        got = pd.read_sql_query(f"select * from {table}", conn.conn)
        want = pd.read_sql_query(f"select * from {table}", full.conn)
        pd.testing.assert_frame_equal(
            got.sort_values(key, ignore_index=True),
            want.sort_values(key, ignore_index=True),
            obj=table,
        )
    others = _others(conn)
    assert others[["t0", "t1", "t2", "t3", "t4", "t5"]].tolist() == [0, 1, 2, 3, 3, 4]
