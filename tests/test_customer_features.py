"""The risk model's features: each payment against the customer's own past.

Given a few hand-built rows, run the real ``silver_customer_features.sql``
and look at the values; then the leakage checks: a later row must never
change an earlier row's features.
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from ssa.engines import base
from ssa.engines.sqlite_warehouse import SQLiteWarehouse
from ssa.generator import generate
from ssa.models import BY_NAME
from ssa.settings import Settings, sql_params
from tasks.bronze import _load
from tests.rows import at, north_km, pix, run_models, run_select, tx

MODEL = ("silver/silver_customer_features",)


def _history() -> list[dict]:
    """Five ordinary supermarket payments of R$ 50, a day apart, at 10h."""
    return [tx(f"h{i}", at(10, day=i - 5)) for i in range(5)]


def test_a_big_night_payment_to_a_stranger_stands_out() -> None:
    rows = [
        *_history(),
        pix(
            "odd",
            at(3, 12),
            amount_cents=231_000,
            payee_id="STRANGER",
            lat=north_km(20),
        ),
    ]
    f = run_models(rows, MODEL)
    odd = f.loc["odd"]
    assert odd["history_rows"] == 5
    assert odd["local_hour"] == 3
    assert odd["is_night"] == 1
    assert odd["night_share_before"] == 0
    # Always paid at 10h before, seven hours away: cos(105°).
    assert odd["hour_habit"] == pytest.approx(-0.259, abs=2e-3)
    assert odd["amount_to_typical"] == pytest.approx(231_000 / 5_000, rel=1e-3)
    assert odd["amount_to_max_30d"] == pytest.approx(231_000 / 5_000)
    assert odd["amount_to_mean_30d"] == pytest.approx(231_000 / 5_000)
    assert odd["counterparty_rows_before"] == 0
    assert math.isnan(odd["category_rows_before"])  # a Pix names no category
    assert odd["km_from_usual_place"] == pytest.approx(20, rel=2e-3)
    assert odd["seconds_since_prev"] == at(3, 12) - at(10, day=-1)
    usual = f.loc["h4"]
    assert usual["category_rows_before"] == 4
    assert usual["counterparty_rows_before"] == 4
    assert usual["amount_to_typical"] == pytest.approx(1.0, rel=1e-3)
    assert usual["hour_habit"] == pytest.approx(1.0, abs=1e-3)


def test_the_first_payment_has_no_history_to_compare_with() -> None:
    f = run_models([tx("first", at(12))], MODEL)
    first = f.loc["first"]
    assert first["history_rows"] == 0
    assert first["tx_count_30d"] == 0
    for column in (
        "seconds_since_prev",
        "amount_to_typical",
        "amount_to_mean_30d",
        "night_share_before",
        "km_from_usual_place",
    ):
        assert first[column] is None or math.isnan(first[column]), column


def test_windows_count_only_the_rows_before_inside_their_reach() -> None:
    rows = [
        tx("a", at(9, 0)),
        tx("b", at(9, 30), amount_cents=7_000),
        tx("c", at(10, 0)),  # the hour before it reaches back to a
        tx("d", at(10, 0, 1)),  # a is out of its hour
        tx("twin", at(10, 0, 1)),  # the same second: neither sees the other
    ]
    f = run_models(rows, MODEL)
    assert f.loc["c", "tx_count_1h"] == 2
    assert f.loc["d", "tx_count_1h"] == 2  # b and c
    assert f.loc["d", "amount_sum_1h_cents"] == 12_000
    assert f.loc["twin", "tx_count_1h"] == f.loc["d", "tx_count_1h"]
    assert f.loc["d", "tx_count_1d"] == 3


def _leak_probe() -> list[dict]:
    """A later row that would change every feature of the earlier ones if
    any window looked ahead: huge, at night, far away, in the same second as
    the last ordinary row (a tie broken after it by id)."""
    return [
        pix(
            "zz-later",
            at(10, day=-1),
            amount_cents=9_999_999,
            payee_id="STRANGER",
            category="joalheria",
            lat=north_km(200),
        ),
        tx("zz-next-day", at(3, day=2), amount_cents=1),
    ]


def test_a_later_row_never_changes_an_earlier_rows_features() -> None:
    before = run_models(_history(), MODEL)
    after = run_models([*_history(), *_leak_probe()], MODEL)
    pd.testing.assert_frame_equal(after.loc[before.index], before)


def test_a_forward_looking_window_would_be_caught() -> None:
    """The check above can fail: a frame that sees the next row changes."""
    sql = base.sql_text("silver/silver_customer_features.sql").replace(
        "range between unbounded preceding and 1 preceding",
        "range between unbounded preceding and 86400 following",
    )
    frames = [
        run_select(sql, rows) for rows in (_history(), [*_history(), *_leak_probe()])
    ]
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(frames[1].loc[frames[0].index], frames[0])


def test_cutting_a_month_short_leaves_the_earlier_features_as_they_were(
    tmp_path,
) -> None:
    """On a generated fortnight: features computed with only the first week
    equal those computed with all of it, row for row."""
    settings = Settings(
        paths={"data_dir": tmp_path},
        generator={"n_customers": 120, "n_merchants": 30, "days": 14, "seed": 8},
    )
    data = generate(settings)
    cutoff = data.transactions["created_at_epoch"].quantile(0.5)
    full = _features(data, settings)
    early = data.transactions[data.transactions["created_at_epoch"] < cutoff]
    short = _features(
        dataclasses.replace(data, transactions=early), settings, tmp_path / "s"
    )
    assert 0 < len(short) < len(full)
    pd.testing.assert_frame_equal(full.loc[short.index], short)


def _features(data, settings: Settings, folder=None) -> pd.DataFrame:
    if folder is not None:
        settings = settings.model_copy(
            update={"paths": settings.paths.model_copy(update={"data_dir": folder})}
        )
    _load(data, settings)
    with SQLiteWarehouse(settings.warehouse_path).transaction() as conn:
        conn.materialize(BY_NAME[MODEL[0]], sql_params(settings))
        frame = pd.read_sql_query("select * from silver_customer_features", conn.conn)
    return frame.set_index("transaction_id").sort_index()


def test_the_amount_is_also_judged_against_the_customers_own_category() -> None:
    rows = [
        *_history(),
        tx("flight", at(11), amount_cents=90_000, category="viagem"),
        tx("big-shop", at(12), amount_cents=50_000),
    ]
    f = run_models(rows, MODEL)
    # Ten times their supermarket bill; a first flight has nothing to be
    # compared with in its category (NULL), whatever it costs.
    assert f.loc["big-shop", "amount_to_category_typical"] == pytest.approx(
        10.0, rel=1e-3
    )
    assert math.isnan(f.loc["flight", "amount_to_category_typical"])
    assert f.loc["h4", "amount_to_category_typical"] == pytest.approx(1.0, rel=1e-3)
