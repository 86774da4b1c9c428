"""Gold on hand-built rows: scores, levels, masking, coverage of rules."""

from __future__ import annotations

import pandas as pd

from ssa.models import BY_NAME, GOLD_MODELS, SILVER_MODELS
from ssa.settings import Settings, sql_params
from tests.rows import at, north_km, pix, tx, warehouse_with


def _gold(rows: list[dict], settings: Settings | None = None):
    settings = settings or Settings()
    conn = warehouse_with(rows)
    params = sql_params(settings)
    for model in (*SILVER_MODELS, *GOLD_MODELS):
        conn.materialize(BY_NAME[model], params)
    return conn


def _risk(conn) -> pd.DataFrame:
    return pd.read_sql_query(
        "select * from gold_transaction_risk", conn.conn
    ).set_index("transaction_id")


def test_score_is_the_sum_of_weights_with_context_and_a_cap() -> None:
    clone = tx("clone", at(10, 3), lat=north_km(15))
    rows = [tx("home", at(10)), clone]
    risk = _risk(_gold(rows))
    # Every transaction is scored: the ranking figures cover all rows.
    assert set(risk.index) == {"home", "clone"}
    assert risk.loc["home", "risk_score"] == 0
    assert risk.loc["home", "risk_level"] == "none"
    assert risk.loc["clone", "risk_score"] == 70  # impossible travel alone
    assert risk.loc["clone", "risk_level"] == "high"
    # A burst of night Pix from a phone first seen an hour before: several
    # rules and the new-device bonus add up past 100, and the score stops there.
    burst = [
        pix(
            f"p{i}",
            at(23, i),
            amount_cents=60_000,
            device_id="dev-x",
            device_first_seen_epoch=at(22),
        )
        for i in range(5)
    ]
    risk = _risk(_gold(burst))
    assert risk["risk_score"].max() == 100
    assert (risk["risk_level"] == "critical").any()


def test_the_24h_context_bonus() -> None:
    first = [tx("home", at(10)), tx("clone", at(10, 3), lat=north_km(15))]
    again = [*first, tx("back", at(12)), tx("clone2", at(12, 2), lat=north_km(15))]
    risk = _risk(_gold(again))
    assert risk.loc["clone", "risk_score"] == 70
    assert risk.loc["clone2", "risk_score"] == 80  # + recent flag
    # Context alone is not an alert: the row back home, an hour after a
    # flag and from no new device, scores nothing.
    assert risk.loc["back", "risk_score"] == 0


def test_the_context_windows_come_from_the_settings() -> None:
    # A clone from a phone first seen an hour before, and another flag two
    # hours after it: both bonuses at the defaults (a day each), neither
    # once the windows are shorter than those gaps.
    rows = [
        tx("home", at(10)),
        tx(
            "clone",
            at(10, 3),
            lat=north_km(15),
            device_id="dev-new",
            device_first_seen_epoch=at(9, 3),
        ),
        tx("back", at(12)),
        tx("clone2", at(12, 2), lat=north_km(15)),
    ]
    risk = _risk(_gold(rows))
    assert risk.loc["clone", "risk_score"] == 80  # + new device
    assert risk.loc["clone2", "risk_score"] == 80  # + recent flag
    short = Settings(risk={"new_device_seconds": 3_600, "recent_flag_seconds": 3_600})
    risk = _risk(_gold(rows, short))
    assert risk.loc["clone", "risk_score"] == 70
    assert risk.loc["clone2", "risk_score"] == 70


def test_cpf_is_masked_in_gold() -> None:
    conn = _gold([tx("home", at(10)), tx("clone", at(10, 3), lat=north_km(15))])
    risk = pd.read_sql_query("select * from gold_anomalies", conn.conn).set_index(
        "transaction_id"
    )
    assert list(risk.index) == ["clone"]  # the flagged rows only
    assert risk.loc["clone", "customer_cpf_masked"] == "***.456.789-**"
    customers = pd.read_sql_query("select * from gold_customer_risk", conn.conn)
    assert "cpf" not in customers.columns
    assert customers.loc[0, "customer_risk_score"] == 70


def test_coverage_counts_rows_a_rule_could_not_judge() -> None:
    rows = [
        tx("no-place", at(10), lat=None, lon=None),
        tx("no-card", at(11), card_id=None),
        pix("no-payee", at(12), payee_id=None),
        pix("no-device", at(13), device_first_seen_epoch=None),
        pix("no-payer-type", at(14), payer_type=None),
    ]
    conn = _gold(rows)
    coverage = conn.query("gold/rule_coverage.sql", sql_params(Settings())).set_index(
        "rule"
    )
    missing = coverage["rows_not_judged"].to_dict()
    assert missing["impossible_travel"] == 1
    assert missing["card_testing"] == 1
    assert missing["mule_fan_in"] == 2
    assert missing["night_pix_limit"] == 1
    assert missing["new_device"] == 1
    assert missing["amount_spike"] == 1
    assert missing["velocity_burst"] == 0
