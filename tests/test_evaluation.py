"""The detection report's arithmetic on a small table of known answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ssa.baselines import baseline_scores
from ssa.engines import open_warehouse
from ssa.intake.ingest import ingest_file
from ssa.ranking_metrics import poisson_upper, score_report
from ssa.report.evaluation import coverage_status, rule_by_scenario, rule_report
from ssa.rules import RULES
from ssa.settings import Settings, sql_params
from tests.drops import drop, sample

# The daily alert budget and the real prevalence the report uses by default.
BUDGET = {
    "alerts_per_day": Settings().model.alerts_per_day,
    "real_prevalence": Settings().evaluation.real_fraud_prevalence,
}


def _rows(records: list[dict]) -> pd.DataFrame:
    base = {f"is_{r}": 0 for r in RULES} | {"risk_score": 0, "scenario": None}
    frame = pd.DataFrame([base | r for r in records])
    frame["is_fraud"] = frame["scenario"].notna() & ~frame["scenario"].fillna(
        ""
    ).str.startswith("lookalike_")
    frame["is_fraud"] = frame["is_fraud"].astype(int)
    return frame


ROWS = _rows(
    [
        {"is_impossible_travel": 1, "scenario": "impossible_travel", "risk_score": 70},
        {"is_impossible_travel": 1, "scenario": "card_testing", "risk_score": 70},
        {
            "is_impossible_travel": 1,
            "scenario": "lookalike_fast_trip",
            "risk_score": 70,
        },
        {"is_impossible_travel": 1, "risk_score": 60},
        {"scenario": "impossible_travel"},
        {"scenario": "lookalike_fast_trip"},
    ]
)


def test_precision_recall_and_lookalikes() -> None:
    report = rule_report(ROWS, legit_rows=1000, prevalence=0.01).set_index("rule")
    travel = report.loc["impossible_travel"]
    assert travel["flagged"] == 4
    assert travel["true_positives"] == 2  # any planted fraud counts
    assert travel["false_positives"] == 2
    assert travel["lookalikes_flagged"] == 1
    assert travel["fraud_to_catch"] == 2
    assert travel["recall"] == 0.5
    assert travel["precision"] == 0.5
    assert travel["f1"] == pytest.approx(0.5)
    # r = 0.5, p = 0.01, fpr = the 95 % upper bound of 2 events in 1000
    fpr = poisson_upper(2) / 1000
    expected = 0.5 * 0.01 / (0.5 * 0.01 + fpr * 0.99)
    assert travel["precision_at_real_prevalence"] == pytest.approx(expected)


def test_no_false_positive_uses_the_rule_of_three() -> None:
    rows = _rows([{"is_card_testing": 1, "scenario": "card_testing"}])
    report = rule_report(rows, legit_rows=3000, prevalence=0.001).set_index("rule")
    assert report.loc["card_testing", "precision"] == 1.0
    fpr = poisson_upper(0) / 3000
    expected = 0.001 / (0.001 + fpr * 0.999)
    assert report.loc["card_testing", "precision_at_real_prevalence"] == (
        pytest.approx(expected)
    )


def test_rule_by_scenario_counts_rows() -> None:
    table = rule_by_scenario(ROWS).set_index("scenario")
    assert table.loc["impossible_travel", "planted"] == 2
    assert table.loc["impossible_travel", "impossible_travel"] == 1
    assert table.loc["lookalike_fast_trip", "impossible_travel"] == 1


def test_poisson_upper_bounds() -> None:
    assert poisson_upper(0) == pytest.approx(2.996, abs=1e-3)  # rule of three
    assert poisson_upper(1) == pytest.approx(4.744, abs=1e-3)
    assert poisson_upper(5) == pytest.approx(10.513, abs=1e-3)


def test_ranking_counts_a_tie_at_its_fraud_rate() -> None:
    score = score_report(ROWS, (1, 3, 4))
    # Three rows tie at 70 (two fraud, one look-alike): no order among them
    # is assumed, so any cut through the block counts 2 in 3.
    assert score["precision_at_1"] == pytest.approx(2 / 3)
    assert score["precision_at_3"] == pytest.approx(2 / 3)
    # Then a legit row at 60: 2 hits in 4 rows.
    assert score["precision_at_4"] == pytest.approx(2 / 4)
    assert score["fraud_rows"] == 3
    # Block at 70 holds 2 of the 3 fraud at precision 2/3; the one at 60
    # adds none; the third fraud row is never scored and counts as missed.
    assert score["average_precision"] == pytest.approx(2 / 3 * 2 / 3)


def test_a_binary_baseline_is_one_block() -> None:
    rows = pd.DataFrame(
        {"flag": [1] * 10 + [0] * 90, "is_fraud": [1] * 4 + [0] * 6 + [1] + [0] * 89}
    )
    score = score_report(rows, (5,), "flag")
    assert score["precision_at_5"] == pytest.approx(0.4)
    assert score["average_precision"] == pytest.approx(4 / 5 * 0.4)


def test_baselines_read_only_earlier_rows() -> None:
    rows = pd.DataFrame(
        {
            "customer_id": ["a"] * 5 + ["b"] * 2,
            "amount_cents": [100, 120, 100, 1000, 90_000, 50, 60],
        }
    )
    out = baseline_scores(rows, quantile=0.8, ratio=5.0, min_history=3)
    # a's 4th payment is over 5x the median of the three before it (100);
    # its 5th is judged on the four before it, its own size unseen.
    assert out["baseline_amount_vs_median"].tolist() == [0, 0, 0, 1, 1, 0, 0]
    # Changing a later row changes no earlier verdict.
    later = rows.assign(amount_cents=[100, 120, 100, 1000, 10, 50, 60])
    again = baseline_scores(later, quantile=0.8, ratio=5.0, min_history=3)
    assert again["baseline_amount_vs_median"].tolist()[:4] == [0, 0, 0, 1]
    assert out["baseline_amount_p99"].sum() == 2  # above the 80th percentile


def test_a_scorer_that_scores_nothing_finds_no_fraud() -> None:
    rows = pd.DataFrame({"risk_score": [0, 0, 0], "is_fraud": [1, 0, 0]})
    score = score_report(rows, (100,))
    assert score["average_precision"] == 0.0
    # No alert in the 3 places every scorer of these rows gets: none found.
    assert score["precision_at_100"] == 0.0
    assert (score["rows_at_100"], score["alerts_at_100"]) == (3, 0)
    assert math.isnan(score_report(rows.head(0), (100,))["precision_at_100"])


def test_precision_at_k_uses_the_same_k_for_every_scorer() -> None:
    """A scorer that raises fewer than k alerts is not judged on its shorter
    queue: its empty places find nothing, so a score that alerts on 2 rows
    (both fraud) does not beat one whose top 4 hold 3 fraud."""
    rows = pd.DataFrame(
        {
            "few": [9, 9, 0, 0, 0, 0, 0, 0],
            "many": [9, 8, 7, 6, 5, 4, 3, 2],
            "is_fraud": [1, 1, 1, 0, 0, 0, 0, 0],
        }
    )
    few = score_report(rows, (4, 20), "few")
    many = score_report(rows, (4, 20), "many")
    assert few["rows_at_4"] == many["rows_at_4"] == 4
    assert (few["alerts_at_4"], many["alerts_at_4"]) == (2, 4)
    assert few["precision_at_4"] == pytest.approx(2 / 4)
    assert many["precision_at_4"] == pytest.approx(3 / 4)
    # Fewer rows than k: k is cut to the rows, for both alike, and said.
    assert few["rows_at_20"] == many["rows_at_20"] == 8
    assert few["precision_at_20"] == pytest.approx(2 / 8)
    assert many["precision_at_20"] == pytest.approx(3 / 8)


def test_the_ranking_table_shows_the_k_used_where_rows_were_fewer() -> None:
    from ssa.report.evaluation import _ranking_table, ranked_scores, ranking_report

    rows = pd.DataFrame(
        {
            "label_set": "synthetic",
            "is_fraud": [1, 0, 0, 1],
            "risk_score": [90, 60, 0, 45],
            "rules_score": [90, 0, 0, 0],
            "anomaly_points": [30, 60, 0, 45],
        }
    )
    table = ranking_report(ranked_scores(rows), (2, 10), 5.0, **BUDGET)
    by = table.set_index("scorer")
    # The rules alert on one row: half the two places, as in the queue.
    assert by.loc["rules alone", "precision_at_2"] == pytest.approx(1 / 2)
    assert by.loc["rules alone", "alerts_at_2"] == 1
    # Their one alert is fraud, none false: at the real rate that is no
    # proof of a perfect queue, the false alarms count at their 95 % bound.
    tpr, fpr, p = 1 / 2, poisson_upper(0) / 2, 7e-5
    assert by.loc["rules alone", "precision_at_2_real_prevalence"] == pytest.approx(
        tpr * p / (tpr * p + fpr * (1 - p))
    )
    shown = _ranking_table(table)
    assert "rows_at_10" in shown and "rows_at_2" not in shown
    assert set(shown["rows_at_10"]) == {4}


def test_a_daily_budget_opens_the_top_rows_of_each_day() -> None:
    from ssa.ranking_metrics import daily_budget

    rows = pd.DataFrame(
        {
            "local_day": [1, 1, 1, 1, 2, 2, 2],
            "score": [90, 50, 50, 0, 80, 10, 0],
            "is_fraud": [1, 1, 0, 1, 0, 1, 0],
        }
    )
    out = daily_budget(rows, "score", alerts_per_day=2, real_prevalence=0.5)
    # Day 1: the 90 (fraud), then half of the 50-block (1 fraud in 2): 1.5
    # hits in 2 alerts. Day 2: the 80 (legit) and the 10 (fraud): 1 in 2.
    # A row scored 0 is never opened: its fraud is missed.
    assert out["recall_at_daily_budget"] == pytest.approx(2.5 / 4)
    assert out["precision_at_daily_budget"] == pytest.approx(2.5 / 4)
    # The 1.5 expected false alarms count as 2, at their 95 % upper bound.
    tpr, fpr = 2.5 / 4, poisson_upper(2) / 3
    assert out["precision_at_daily_budget_real_prevalence"] == pytest.approx(
        tpr / (tpr + fpr)
    )
    assert out["daily_budget_rows"] == out["daily_budget_alerts"] == 4


def test_a_daily_budget_counts_the_same_places_for_every_scorer() -> None:
    """A day a scorer raises fewer alerts than the budget: its precision is
    still over the budget's places, as the model's that fills them."""
    from ssa.ranking_metrics import daily_budget

    rows = pd.DataFrame(
        {
            "local_day": [1, 1, 1, 1, 2, 2, 2],
            "few": [90, 0, 0, 0, 0, 0, 0],
            "all": [90, 80, 70, 60, 50, 40, 30],
            "is_fraud": [1, 1, 0, 0, 1, 0, 0],
        }
    )
    few = daily_budget(rows, "few", alerts_per_day=2, real_prevalence=0.5)
    full = daily_budget(rows, "all", alerts_per_day=2, real_prevalence=0.5)
    assert few["daily_budget_rows"] == full["daily_budget_rows"] == 4
    assert (few["daily_budget_alerts"], full["daily_budget_alerts"]) == (1, 4)
    assert few["precision_at_daily_budget"] == pytest.approx(1 / 4)
    assert full["precision_at_daily_budget"] == pytest.approx(3 / 4)


def test_the_ranking_shows_each_voice_and_the_model_only_where_it_scored() -> None:
    from ssa.report.evaluation import ranked_scores, ranking_report

    rows = pd.DataFrame(
        {
            "label_set": "synthetic",
            "local_day": [1] * 6,
            "is_fraud": [1, 0, 0, 1, 0, 0],
            "risk_score": [90, 60, 0, 45, 0, 0],
            "rules_score": [90, 0, 0, 0, 0, 0],
            "anomaly_points": [30, 60, 0, 45, 0, 0],
            "model_probability": [None] * 6,
            "baseline_amount_p99": [1, 0, 0, 0, 0, 0],
            "baseline_amount_vs_median": [0, 0, 1, 0, 0, 0],
        }
    )
    table = ranking_report(
        ranked_scores(rows), (2,), 5.0, alerts_per_day=3, real_prevalence=0.01
    )
    assert "risk model alone" not in set(table["scorer"])
    by = table.set_index("scorer")
    assert by.loc["Gold risk score (combined)", "recall_at_daily_budget"] == 1.0
    assert by.loc["rules alone", "average_precision"] == pytest.approx(0.5)
    tpr, fpr = 1 / 2, poisson_upper(0) / 4
    assert by.loc["rules alone", "precision_at_2_real_prevalence"] == pytest.approx(
        tpr * 0.01 / (tpr * 0.01 + fpr * 0.99)
    )
    with_model = rows.assign(model_probability=[0.9, 0.1, 0.0, 0.8, 0.0, 0.0])
    table = ranking_report(ranked_scores(with_model), (2,), 5.0, 3, 0.01)
    model = table.set_index("scorer").loc["risk model alone"]
    assert model["average_precision"] == 1.0


def test_a_precision_recall_curve_has_a_point_per_score() -> None:
    from ssa.ranking_metrics import precision_recall_points

    curve = precision_recall_points(ROWS, "risk_score")
    assert curve["recall"].is_monotonic_increasing
    assert curve.iloc[0].tolist() == pytest.approx([2 / 3, 2 / 3])
    many = pd.DataFrame({"s": range(1, 1001), "is_fraud": [1, 0] * 500})
    assert len(precision_recall_points(many, "s", points=50)) == 50


def test_the_gold_score_is_judged_in_the_queues_order() -> None:
    """Two rows on the same whole points: the probability behind them says
    which an analyst opens first, and the figures count that order."""
    from ssa.report.evaluation import ranked_scores, ranking_report

    rows = pd.DataFrame(
        {
            "label_set": "synthetic",
            "is_fraud": [0, 1, 0],
            "risk_score": [90, 90, 0],
            "risk_probability": [0.901, 0.905, 0.01],
            "rules_score": [90, 0, 0],
            "anomaly_points": [0, 0, 0],
            "model_probability": [0.2, 0.905, 0.01],
        }
    )
    table = ranking_report(ranked_scores(rows), (1,), 5.0, **BUDGET).set_index("scorer")
    gold = table.loc["Gold risk score (combined)"]
    assert gold["average_precision"] == 1.0
    assert gold["precision_at_1"] == 1.0
    # The points alone tie the two rows: half a hit at the top.
    points = ranking_report(rows.drop(columns="risk_probability"), (1,), 5.0, **BUDGET)
    assert points.set_index("scorer").loc[
        "Gold risk score (combined)", "precision_at_1"
    ] == pytest.approx(0.5)


def test_the_coverage_status_names_only_the_fields_a_file_lacked(settings) -> None:
    """A drop with every Pix field but is_same_owner: the Pix rules are not
    judged, and the report says for want of that field, not of the four the
    network rules read; card rules, whose fields are there, are judged."""
    frame = sample(200).drop(columns="is_same_owner")
    folder = settings.paths.incoming_path
    folder.mkdir(parents=True)
    assert ingest_file(drop(folder, "no_owner.csv", frame), settings).rows_loaded
    warehouse = open_warehouse(settings)
    warehouse.build_silver(sql_params(settings))
    with warehouse.transaction() as session:
        coverage = session.query("gold/rule_coverage.sql", sql_params(settings))
    status = coverage_status(coverage).set_index("rule")["status"]
    assert status["mule_fan_in"] == "not judged: no is_same_owner"
    assert status["night_pix_limit"] == "not judged: no is_same_owner"
    assert status["card_testing"] == "judged"


def test_a_figure_that_cannot_be_computed_reads_n_a_in_the_report() -> None:
    """A rule that flagged nothing has no precision: 'n/a', never 'nan'."""
    from ssa.report.evaluation import _markdown

    table = pd.DataFrame(
        {"rule": ["quiet", "busy"], "precision": [float("nan"), 0.5], "flagged": [0, 4]}
    )
    text = _markdown(table, ".3f")
    assert "n/a" in text and "nan" not in text
    assert "0.500" in text and "|         4 |" in text
