"""A source that names no customer (``customers: none``): the ULB
credit-card file has no customer, card or place, only an amount, a time and
its own features. Its rows load without a customer; the rules and features
that compare a payment with the customer's others do not judge them (and
the report says why), instead of taking every such row for one customer's;
the anomaly score measures them against their file; an incremental refresh
after a drop gives them Silver and Gold like any other row.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssa.engines import incremental, open_warehouse
from ssa.intake.ingest import ingest_file
from ssa.intake.source_mapping import SourceError, load_source
from ssa.models import GOLD, GOLD_MODELS, SILVER, SILVER_MODELS
from ssa.report.evaluation import coverage_status
from ssa.report.exports import anomaly_reasons
from ssa.settings import REPO_ROOT, Settings, sql_params
from tasks import gold, silver
from tests.drops import query, settings_for

EXAMPLE = REPO_ROOT / "sources" / "examples" / "ulb_creditcard_example.csv"

# The ULB layout cut to what the tests read: time, two features, amount.
NO_CUSTOMER = """\
description: card payments that name no customer (the ULB layout)
constants:
  channel: credit
ids:
  transaction_id:
    from: [Time, V1, Amount]
time:
  epoch_column: Time
  epoch_offset_seconds: 1790000000
amount:
  column: Amount
label:
  column: Class
customers: none
places: none
features:
  numeric: [V1]
"""


def _with_source(settings: Settings, tmp_path: Path, text: str) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir(exist_ok=True)
    (sources / "cards.yaml").write_text(text, encoding="utf-8")
    return settings.model_copy(
        update={"paths": settings.paths.model_copy(update={"sources_dir": sources})}
    )


def _burst_file(settings: Settings) -> Path:
    """Forty payments a minute apart (a velocity burst, were they one
    customer's), one of them forty times the others."""
    rows = ["Time,V1,Amount,Class"]
    for n in range(40):
        amount = "1000.00" if n == 30 else f"{20 + n % 7}.50"
        rows.append(f"{60 * n},{n / 10:.1f},{amount},{1 if n == 30 else 0}")
    path = settings.paths.incoming_path / "cards" / "burst.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("customers: none\n", ""),
            "the contract needs customer_id: map each from a column (columns), "
            "a constant, a value map (values) or an id (ids) (a source with no "
            "customer at all says customers: none",
        ),
        (
            lambda t: t.replace("constants:\n", "constants:\n  customer_id: unknown\n"),
            "customers: none, but constants gives customer_id: leave it out, "
            "or say customers: given",
        ),
    ],
)
def test_a_mapping_says_whether_its_source_has_customers(tmp_path, edit, message):
    """A made-up constant customer would make the whole file one customer:
    the message says how to say there is none, and refuses both at once."""
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "cards.yaml").write_text(edit(NO_CUSTOMER), encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_source("cards", sources)
    assert message in str(caught.value)


@pytest.fixture
def burst(settings, tmp_path):
    """The burst file loaded through a customers: none mapping, refined."""
    settings = _with_source(settings, tmp_path, NO_CUSTOMER)
    result = ingest_file(_burst_file(settings), settings, source="cards")
    assert (result.rows_loaded, result.rows_rejected) == (40, 0), result.detail
    silver._build(settings, None)
    gold._build(settings)
    return settings


def test_rows_load_without_a_customer(burst):
    assert query(
        burst, "select count(*), count(customer_id) from bronze_transactions"
    ) == [(40, 0)]


def test_the_customer_rules_do_not_judge_them_and_the_report_says_why(burst):
    """Forty payments a minute apart are no burst of anyone's: velocity does
    not fire, and the coverage names the missing field."""
    fired = query(
        burst,
        "select count(velocity_count), sum(is_velocity_burst), "
        "count(baseline_rows), sum(is_amount_spike) from silver_transactions",
    )
    assert fired == [(0, 0, 0, 0)]
    with open_warehouse(burst).transaction() as session:
        coverage = session.query("gold/rule_coverage.sql", sql_params(burst))
    status = coverage_status(coverage).set_index("rule")
    for rule in ("velocity_burst", "amount_spike", "impossible_travel"):
        assert status.loc[rule, "rows_not_judged"] == 40, rule
    assert status.loc["velocity_burst", "status"] == "not judged: no customer_id"
    assert status.loc["card_testing", "status"] == (
        "not judged: no card_id or entry_mode"
    )


def test_customer_features_are_unknown_not_a_first_payment(burst):
    """Not a customer of one row ("first purchase in this category") nor
    of forty: NULL. The row's own hour stays."""
    features = query(
        burst,
        "select count(*), count(history_rows), count(category_rows_before), "
        "count(counterparty_rows_before), count(tx_count_1h), "
        "count(amount_to_typical), count(local_hour) "
        "from silver_customer_features",
    )
    assert features == [(40, 0, 0, 0, 0, 0, 40)]
    recent = query(
        burst,
        "select count(night_tx_count_1d), count(seconds_since_prev_in_category) "
        "from silver_customer_recent",
    )
    assert recent == [(0, 0)]


def test_gold_ranks_them_against_their_file_and_no_customer_is_listed(burst):
    """The one outsized payment stands out from its file's typical amount;
    no customer row is made up for them."""
    parts = query(
        burst,
        "select amount_cents, amount_doublings, anomaly_points, "
        "prev_flagged_at_epoch from gold_risk_parts order by anomaly_points desc",
    )
    assert len(parts) == 40
    top, rest = parts[0], parts[1:]
    assert top[0] == 100_000 and top[1] > 4 and top[2] > 0 and top[3] is None
    assert all(row[1] == 0 for row in rest)
    assert query(burst, "select count(*) from gold_customer_risk") == [(0,)]
    assert query(burst, "select count(*) from gold_transaction_risk") == [(40,)]


def test_their_anomaly_reasons_name_the_file_not_a_customer():
    row = {
        "created_at_epoch": 1_790_000_000,
        "customer_id": None,
        "amount_cents": 100_000,
        "anomaly_points": 20,
        "amount_doublings": 5.3,
        "day_doublings": 0.0,
        "burst_doublings": 0.0,
        "has_unusual_hour": 1,
        "has_new_category": 0,
        "has_recent_device": 0,
        "file_typical_amount_cents": 2_480.0,
        "amount_to_file_typical": 40.3,
        "typical_amount_cents": np.nan,
        "amount_to_typical": np.nan,
        "day_spend_to_usual": np.nan,
        "amount_sum_1d_cents": np.nan,
        "tx_count_1h": np.nan,
        "category": None,
    }
    named = {**row, "customer_id": "C1", "typical_amount_cents": 2_480.0}
    named["amount_to_typical"] = 40.3
    frame = pd.DataFrame([row, named])
    said = anomaly_reasons(frame, Settings())
    assert said[0] == (
        "R$ 1.000,00, 40.3x the typical amount of its file (about R$ 25,00); "
        "11:13, an hour at which its file has few payments"
    )
    assert "customer" not in said[0] and "their" not in said[0]
    assert said[1].startswith("R$ 1.000,00, 40.3x this customer's typical amount")
    pt = anomaly_reasons(frame, Settings(), "pt")
    assert "do seu arquivo" in pt[0] and "cliente" not in pt[0]


def _shifted_example(folder: Path, seconds: int) -> Path:
    """The example file again, a later file of the same export: every time
    moved on, so every id (a digest of the row) is new."""
    frame = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    frame["Time"] = (frame["Time"].astype(float) + seconds).map(lambda t: f"{t:.1f}")
    path = folder / f"later_{seconds}.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("beside_customers", [True, False])
def test_a_drop_into_the_watched_folder_refreshes_its_rows(
    tmp_path, prefect_harness, beside_customers
):
    """The ULB example dropped into its folder, beside a warehouse of
    customers or after an earlier file of its own: the refresh is
    incremental, gives each of its rows Silver and Gold once, and leaves the
    tables a full rebuild makes."""
    from flows.ingest import incoming_refresh, ingest_drops
    from ssa.generator import generate
    from tasks.bronze import _load

    settings = settings_for(tmp_path / "data")
    folder = settings.paths.incoming_path / "ulb_creditcard"
    folder.mkdir(parents=True)
    params = sql_params(settings)
    warehouse = open_warehouse(settings)
    if beside_customers:
        _load(generate(settings), settings)
        warehouse.build_silver(params)
        warehouse.build_gold(params)
        drop = Path(shutil.copy(EXAMPLE, folder / EXAMPLE.name))
    else:
        first = Path(shutil.copy(EXAMPLE, folder / EXAMPLE.name))
        asyncio.run(ingest_drops([str(first)], settings))
        drop = _shifted_example(folder, 200_000)
    result = asyncio.run(ingest_drops([str(drop)], settings, refresh=False))
    assert result["rows_loaded"] == 60
    refreshed = asyncio.run(incoming_refresh(settings))
    assert refreshed["silver"]["mode"] == "incremental"
    with warehouse.transaction() as session:
        after = {m: _sorted(session.read_table(m.split("/")[-1])) for m in MODELS}
        unnamed = session.fetchall(
            "select transaction_id from bronze_transactions where customer_id is null"
        )
    assert len(unnamed) == (60 if beside_customers else 120)
    assert after["silver/silver_transactions"]["transaction_id"].is_unique
    ids = {i for (i,) in unnamed}
    for model in ("silver/silver_transactions", "gold/gold_risk_parts"):
        assert ids <= set(after[model]["transaction_id"]), model
    with warehouse.transaction() as session:
        incremental.rebuild(session, SILVER, params)
        incremental.rebuild(session, GOLD, params)
        rebuilt = {m: _sorted(session.read_table(m.split("/")[-1])) for m in MODELS}
    for model in MODELS:
        pd.testing.assert_frame_equal(after[model], rebuilt[model], obj=model)


MODELS = (*SILVER_MODELS, *GOLD_MODELS)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ("transaction_id", "customer_id", "local_day", "bairro")
    return frame.sort_values([c for c in keys if c in frame], ignore_index=True)


def test_their_alert_shows_no_customer_and_says_its_file(settings, tmp_path):
    """An anomaly alone made an alert of the outsized payment (the alert
    level lowered to reach it): the page shows a dash for its customer and
    its reasons speak of its file, as the CSV does."""
    from ssa.report.alert_reasons import alert_reasons
    from ssa.report.dashboard.data import top_table

    settings = _with_source(settings, tmp_path, NO_CUSTOMER)
    settings = settings.model_copy(
        update={"risk": settings.risk.model_copy(update={"level_medium": 10})}
    )
    ingest_file(_burst_file(settings), settings, source="cards")
    silver._build(settings, None)
    gold._build(settings)
    with open_warehouse(settings).transaction() as session:
        alerts = session.read_table("gold_anomalies")
    assert len(alerts) == 1 and alerts["customer_id"].isna().all()
    shown = top_table(alerts, settings)
    assert shown["Cliente"].tolist() == ["—"]
    assert "do seu arquivo" in shown["Motivos"][0]
    said = alert_reasons(alerts, settings)[0]
    assert said.startswith("unusual: R$ 1.000,00, ") and "of its file" in said
