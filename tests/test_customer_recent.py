"""The day before each payment (``silver_customer_recent.sql``), on hand-built
rows: the values an analyst would read, then the leakage checks (a later row
never changes an earlier row's features)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ssa.engines import base
from tests.rows import at, run_models, run_select, tx

MODEL = ("silver/silver_customer_recent",)


def _history() -> list[dict]:
    """Five R$ 50 supermarket payments at 10h, a day apart, then a night of a
    card in other hands: R$ 900 in electronics at 01h and 01h30."""
    return [
        *(tx(f"h{i}", at(10, day=i - 5)) for i in range(5)),
        tx("e0", at(1, day=-20), amount_cents=10_000, category="eletronicos"),
        tx("n1", at(1), amount_cents=90_000, category="eletronicos"),
        tx("n2", at(1, 30), amount_cents=90_000, category="eletronicos"),
    ]


def test_a_night_burst_shows_in_the_next_payment() -> None:
    f = run_models(_history(), MODEL)
    # The second night payment: one night payment before it in the day, and
    # that one was 9x the customer's usual electronics amount.
    assert f.loc["n2", "night_tx_count_1d"] == 1
    assert math.isclose(f.loc["n2", "max_amount_to_category_1d"], 9.0, rel_tol=1e-3)
    assert f.loc["n2", "seconds_since_prev_in_category"] == 1_800
    # The first of the night: the last electronics payment was 20 days ago;
    # the day before held only an ordinary one (1x), none at night.
    assert f.loc["n1", "seconds_since_prev_in_category"] == 20 * 86_400
    assert f.loc["n1", "night_tx_count_1d"] == 0
    assert math.isclose(f.loc["n1", "max_amount_to_category_1d"], 1.0, rel_tol=1e-3)
    # Nothing earlier: NULL, never a made-up zero gap.
    assert pd.isna(f.loc["h0", "seconds_since_prev_in_category"])
    assert pd.isna(f.loc["h0", "max_amount_to_category_1d"])


def _leak_probe() -> list[dict]:
    """Later rows that would change the earlier ones' features if a window
    looked ahead: one in the same second as the last row, one an hour on."""
    return [
        tx("zz-same-second", at(1, 30), amount_cents=9_999_999, category="eletronicos"),
        tx("zz-later", at(2), amount_cents=9_999_999, category="supermercado"),
    ]


def test_a_later_row_never_changes_an_earlier_rows_features() -> None:
    before = run_models(_history(), MODEL)
    after = run_models([*_history(), *_leak_probe()], MODEL)
    pd.testing.assert_frame_equal(after.loc[before.index], before)


def test_a_forward_looking_window_would_be_caught() -> None:
    """The check above can fail: a frame that sees the next rows changes."""
    sql = base.sql_text(f"{MODEL[0]}.sql").replace(
        ":feature_day_seconds preceding and 1 preceding",
        ":feature_day_seconds preceding and 3600 following",
    )
    frames = [
        run_select(sql, rows) for rows in (_history(), [*_history(), *_leak_probe()])
    ]
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(frames[1].loc[frames[0].index], frames[0])
