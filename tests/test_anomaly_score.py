"""The anomaly score: what Gold says of a row without labels or a model.

Given a customer's ordinary history and one more payment, run the real
Silver models and ``gold_transaction_risk.sql`` and look at the points and
the reasons in words. Each case is its own customer, so no case's rows are
another's history.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ssa.models import BY_NAME, SILVER_MODELS
from ssa.report.exports import anomaly_reasons
from ssa.settings import Settings, sql_params
from tests.rows import at, customer, tx, warehouse_with

GOLD = "gold/gold_transaction_risk"


def _case(name: str, last: dict, history: int = 10) -> list[dict]:
    """Ten ordinary R$ 50 payments at 10h, a day apart, then ``last``."""
    rows = [
        tx(f"{name}-h{i}", at(10, day=i - history), customer_id=name)
        for i in range(history)
    ]
    return [*rows, {**last, "customer_id": name}]


def _gold(rows: list[dict], settings: Settings | None = None) -> pd.DataFrame:
    settings = settings or Settings()
    people = sorted({r["customer_id"] for r in rows})
    conn = warehouse_with(rows, [customer(c) for c in people])
    for model in (*SILVER_MODELS, "gold/gold_risk_parts", GOLD):
        conn.materialize(BY_NAME[model], sql_params(settings))
    frame = pd.read_sql_query(
        "select g.*, f.typical_amount_cents, f.amount_to_typical, "
        "f.day_spend_to_usual, f.amount_sum_1d_cents, f.tx_count_1h, "
        "s.category from gold_transaction_risk as g "
        "join silver_customer_features as f using (transaction_id) "
        "join silver_transactions as s using (transaction_id)",
        conn.conn,
    )
    return frame.set_index("transaction_id")


@pytest.fixture(scope="module")
def gold() -> pd.DataFrame:
    rows = [
        *_case("ordinary", tx("ordinary", at(10), amount_cents=5_500)),
        *_case("big", tx("big", at(10), amount_cents=200_000)),
        *_case("big-night", tx("big-night", at(3), amount_cents=200_000)),
        *_case("almost", tx("almost", at(10, 0, 1), amount_cents=14_000)),
        *_case("new", tx("new", at(10), amount_cents=200_000), history=0),
        *_case("young", tx("young", at(10), amount_cents=200_000), history=4),
    ]
    return _gold(rows)


def test_a_row_with_nothing_unusual_scores_zero(gold) -> None:
    for row in ("ordinary", "ordinary-h9"):
        assert gold.loc[row, "anomaly_points"] == 0
        assert gold.loc[row, "risk_score"] == 0
        assert gold.loc[row, "risk_level"] == "none"


def test_an_amount_far_above_the_customers_own_scores(gold) -> None:
    big = gold.loc["big"]
    # 40x the typical amount; the 24 h before hold one more R$ 50 (the
    # window reaches back to 10h yesterday): 41x the usual day. 4 points a
    # doubling: 4 * (log2(40) + log2(41)).
    assert big["amount_doublings"] == pytest.approx(math.log2(40), abs=1e-3)
    assert big["day_doublings"] == pytest.approx(math.log2(41), abs=1e-3)
    assert big["anomaly_points"] == 42
    assert big["rules_score"] == 0
    assert big["risk_score"] == 42
    assert big["risk_level"] == "medium"


def test_context_adds_and_the_ceiling_holds(gold) -> None:
    night = gold.loc["big-night"]
    assert night["has_unusual_hour"] == 1
    assert night["anomaly_points"] == Settings().risk.anomaly_max_points
    assert night["anomaly_points"] > gold.loc["big", "anomaly_points"]


def test_below_every_threshold_is_not_an_anomaly(gold) -> None:
    # 2.8x, a second after the 24 h that hold yesterday's payment: under
    # the 3x of amount and of day.
    almost = gold.loc["almost"]
    assert almost["amount_to_typical"] == pytest.approx(2.8, rel=1e-3)
    assert almost["anomaly_points"] == 0


def test_no_history_no_anomaly(gold) -> None:
    assert gold.loc["new", "anomaly_points"] == 0
    assert gold.loc["young", "anomaly_points"] == 0  # 4 earlier payments < 5


def test_thresholds_come_from_the_settings(gold) -> None:
    rows = _case("almost", tx("almost", at(10, 0, 1), amount_cents=14_000))
    lower = Settings(risk={"anomaly_amount_ratio": 2.5, "anomaly_day_ratio": 2.5})
    assert _gold(rows, lower).loc["almost", "anomaly_points"] > 0


def test_a_new_device_is_context_for_as_long_as_the_bonus_says() -> None:
    # A big payment from a phone first seen two hours before: the device
    # counts as context within risk.new_device_seconds, not after it.
    last = tx(
        "phone",
        at(10),
        amount_cents=200_000,
        device_id="dev-new",
        device_first_seen_epoch=at(8),
    )
    rows = _case("phone", last)
    assert _gold(rows).loc["phone", "has_recent_device"] == 1
    short = Settings(risk={"new_device_seconds": 3_600})
    assert _gold(rows, short).loc["phone", "has_recent_device"] == 0
    longer = Settings(risk={"new_device_seconds": 3 * 3_600})
    frame = _gold(rows, longer).reset_index()
    words = anomaly_reasons(frame, longer)
    said = dict(zip(frame["transaction_id"], words, strict=True))
    assert "from a device first seen in the last 3 h" in said["phone"]


def test_the_reasons_say_what_stood_out_in_words(gold) -> None:
    frame = gold.reset_index()
    words = anomaly_reasons(frame, Settings())
    by_id = dict(zip(frame["transaction_id"], words, strict=True))
    assert by_id["big"] == (
        "R$ 2.000,00, 40.0x this customer's typical amount (about R$ 50,00); "
        "R$ 2.050,00 spent in 24 h, 41.0x their usual day"
    )
    assert "03:00, an hour this customer rarely pays at" in by_id["big-night"]
    assert by_id["ordinary"] == ""


def test_the_reasons_in_portuguese_say_the_same(gold) -> None:
    """The dashboard's sentences: the same fields, Brazilian decimals."""
    frame = gold.reset_index()
    words = anomaly_reasons(frame, Settings(), "pt")
    by_id = dict(zip(frame["transaction_id"], words, strict=True))
    assert by_id["big"] == (
        "R$ 2.000,00, 40,0x o valor típico deste cliente (cerca de R$ 50,00); "
        "R$ 2.050,00 gastos em 24 h, 41,0x o dia habitual do cliente"
    )
    assert "03:00, horário em que este cliente raramente paga" in by_id["big-night"]
    assert by_id["ordinary"] == ""
