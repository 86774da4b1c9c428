"""A device's first use where the source gives none: derived from the
history, and judged only where the history could have seen the device before.

Foreign exports give a device id but not its first use. The device's earliest
row in the warehouse is its first use only once the warehouse has seen the
customer for the look-back (settings.rules.device_history_min_seconds) before
it; earlier, new device and amount spike do not judge the device's first
days, and the coverage says why. A later file with earlier rows moves the
derived first use, on an incremental refresh as on a full build.
"""

from __future__ import annotations

import pandas as pd

from ssa.engines import incremental
from ssa.models import GOLD, SILVER
from ssa.report import evaluation
from ssa.settings import Settings, sql_params
from tests.rows import at, pix, tx, warehouse_with

LOOK_BACK_DAYS = Settings().rules.device_history_min_seconds // 86_400
BIG = 50_000  # R$ 500: over the R$ 200 a new device may send in a payment


def _foreign(tid: str, day: int, device: str, **kw) -> dict:
    """A Pix from an export with a device id and no first use."""
    return pix(
        tid,
        at(10, day=day),
        device_id=device,
        device_first_seen_epoch=None,
        **kw,
    )


def _history(days: range, device: str = "dev-phone", customer: str = "C1") -> list:
    """A customer's small daily Pix from their own phone."""
    return [
        _foreign(
            f"{customer}-d{d}", d, device, customer_id=customer, amount_cents=3_000
        )
        for d in days
    ]


def _silver(conn) -> pd.DataFrame:
    return pd.read_sql_query("select * from silver_transactions", conn.conn).set_index(
        "transaction_id"
    )


def _built(rows: list[dict]):
    conn = warehouse_with(rows)
    params = sql_params(Settings())
    incremental.rebuild(conn, SILVER, params)
    incremental.rebuild(conn, GOLD, params)
    return conn


def _coverage(conn) -> pd.DataFrame:
    frame = conn.query("gold/rule_coverage.sql", sql_params(Settings()))
    return evaluation.coverage_status(frame).set_index("rule")


def test_a_new_device_is_judged_after_the_warm_up_not_before() -> None:
    """On the customer's first days every device is 'first seen': the big
    Pix from a device first seen then is not judged; one from a device first
    seen after the look-back is new, and flagged."""
    rows = [
        *_history(range(0, LOOK_BACK_DAYS + 5)),
        _foreign("early", 3, "dev-early", amount_cents=BIG),
        _foreign("late", LOOK_BACK_DAYS + 2, "dev-late", amount_cents=BIG),
    ]
    silver = _silver(_built(rows))
    assert silver.loc["early", "is_new_device"] == 0
    assert silver.loc["early", "device_first_use_known"] == 0
    assert silver.loc["late", "is_new_device"] == 1
    assert silver.loc["late", "device_first_use_known"] == 1
    assert silver.loc["late", "device_first_seen_epoch"] == at(
        10, day=LOOK_BACK_DAYS + 2
    )


def test_a_device_seen_earlier_in_the_history_is_not_new() -> None:
    rows = [
        *_history(range(0, LOOK_BACK_DAYS + 5)),
        _foreign("phone-big", LOOK_BACK_DAYS + 3, "dev-phone", amount_cents=BIG),
    ]
    silver = _silver(_built(rows))
    assert silver.loc["phone-big", "is_new_device"] == 0
    # Known only as 'at least this old', past the look-back: an age the
    # model and the anomaly score may read.
    assert silver.loc["phone-big", "device_age_days"] == LOOK_BACK_DAYS + 3
    assert pd.isna(silver.loc["C1-d3", "device_age_days"])


def test_the_source_given_first_use_wins() -> None:
    """A row whose source gave the first use is judged on it, even on the
    customer's first day, and keeps its value."""
    given = pix(
        "given",
        at(12),
        device_id="dev-phone",
        device_first_seen_epoch=at(11),
        amount_cents=BIG,
    )
    silver = _silver(_built([*_history(range(0, 3)), given]))
    assert silver.loc["given", "device_first_seen_epoch"] == at(11)
    assert silver.loc["given", "device_first_use_known"] == 1
    assert silver.loc["given", "is_new_device"] == 1
    assert silver.loc["C1-d1", "device_first_seen_epoch"] == at(10)  # derived


def test_the_coverage_says_why_the_first_days_are_not_judged() -> None:
    rows = [
        *_history(range(0, LOOK_BACK_DAYS + 5)),
        _foreign("early", 3, "dev-early", amount_cents=BIG),
    ]
    coverage = _coverage(_built(rows))
    device = coverage.loc["new_device"]
    # The phone's first day and the other device's.
    assert device["rows_not_judged"] == 2
    day = (at(10) + Settings().rules.utc_offset_seconds) // 86_400
    start = evaluation._local_date(day)
    assert device["status"] == (
        "judged in part: device first use not known yet on some rows "
        f"(history starts {start})"
    )
    assert start == "2026-10-01"
    # Amount spike tests a week's age: the first week of each device.
    assert coverage.loc["amount_spike", "rows_not_judged"] == 7 + 1


def test_no_device_at_all_is_still_a_missing_field() -> None:
    rows = [pix("bare", at(10), device_id=None, device_first_seen_epoch=None)]
    coverage = _coverage(_built(rows))
    assert coverage.loc["new_device", "status"] == (
        "not judged: no device_id or device_first_seen_at"
    )


def _refreshed_and_full(before: list[dict], drop: list[dict]):
    """Silver after the drop refreshed incrementally, and after a full build
    of the same rows; the two must agree table for table."""
    params = sql_params(Settings())
    conn = _built(before)
    conn.insert_new("bronze_transactions", "transaction_id", pd.DataFrame(drop))
    incremental.refresh_touched(conn, params, [r["transaction_id"] for r in drop])
    incremental.refresh_gold(conn, params)
    full = _built([*before, *drop])
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
    return _silver(conn)


def test_a_later_file_with_earlier_rows_moves_the_derived_first_use() -> None:
    """A device first seen on day 40 is new there, until a backfill shows it
    on day 5: then it is an old device, and the big Pix is not flagged."""
    day = LOOK_BACK_DAYS + 10
    before = [
        *_history(range(0, day + 2)),
        _foreign("big", day, "dev-x", amount_cents=BIG),
    ]
    assert _silver(_built(before)).loc["big", "is_new_device"] == 1
    silver = _refreshed_and_full(before, [_foreign("seen", 5, "dev-x")])
    assert silver.loc["big", "device_first_seen_epoch"] == at(10, day=5)
    assert silver.loc["big", "is_new_device"] == 0


def test_a_backfill_of_the_customer_makes_a_first_use_known() -> None:
    """A device first seen on the customer's 10th day is not judged; a file
    bringing the customer's month before shows the history could have seen
    it: now it is new, though the file named no row of that device."""
    before = [
        *_history(range(0, 12)),
        _foreign("big", 10, "dev-x", amount_cents=BIG),
    ]
    assert _silver(_built(before)).loc["big", "device_first_use_known"] == 0
    earlier = _history(range(-LOOK_BACK_DAYS, 0), device="dev-old")
    silver = _refreshed_and_full(before, earlier)
    assert silver.loc["big", "device_first_use_known"] == 1
    assert silver.loc["big", "is_new_device"] == 1


def test_every_row_of_a_plain_card_history_keeps_its_device_age() -> None:
    """Rows whose source gave the first use (the generator's, the native
    contract's) are unchanged: known, with their age."""
    silver = _silver(_built([tx("card", at(10))]))
    assert silver.loc["card", "device_first_use_known"] == 1
    assert silver.loc["card", "device_age_days"] == 400 + 10 / 24


def test_the_dashboard_says_it_in_portuguese() -> None:
    from ssa.report.dashboard.words import _status_pt

    some = evaluation.FIRST_USE_UNKNOWN_SOME.format(date="2025-03-01")
    assert _status_pt(f"judged in part: {some}") == (
        "julgada em parte: primeiro uso do dispositivo ainda desconhecido em "
        "algumas linhas (histórico desde 2025-03-01)"
    )
    assert _status_pt(f"not judged: no device_id; {some}") == (
        "não julgada: sem device_id; primeiro uso do dispositivo ainda "
        "desconhecido em algumas linhas (histórico desde 2025-03-01)"
    )
