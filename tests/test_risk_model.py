"""The risk model learns from labels, is judged on a later period, and its
file alone scores.

A synthetic labelled_month with every scenario planted more often than by default
(enough fraud for a training and an evaluation window), refined to Silver
once for the module. A fit takes seconds: the tests that only read a model
share one fitted for the module.
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from ssa import ranking_metrics
from ssa.local_time import local_epoch
from ssa.risk import risk_model, training


@pytest.fixture(scope="module")
def trained(labelled_month) -> dict:
    """The model file's contents for the month, as training writes them."""
    settings, rows = labelled_month
    return training.fit_and_evaluate(rows, settings)


@pytest.fixture(scope="module")
def fitted(labelled_month) -> dict:
    """The model fitted on the month's labelled rows in the order read."""
    settings, rows = labelled_month
    labelled = rows[rows["is_fraud"].notna()]
    return risk_model.fit(labelled, risk_model.time_split(labelled, settings), settings)


def test_the_model_ranks_planted_fraud_far_above_its_prevalence(trained) -> None:
    model = trained
    figures = model["metrics"]["model"]
    assert figures["fraud_rows"] >= 30
    assert figures["average_precision"] > 10 * figures["prevalence"]
    assert (
        figures["average_precision"]
        > model["metrics"]["baseline_amount_p99"]["average_precision"]
    )


def test_shuffled_labels_give_a_pr_auc_near_the_prevalence(labelled_month) -> None:
    settings, rows = labelled_month
    labelled = rows["is_fraud"].notna()
    shuffled = rows.copy()
    shuffled.loc[labelled, "is_fraud"] = np.random.default_rng(0).permutation(
        rows.loc[labelled, "is_fraud"]
    )
    model = training.fit_and_evaluate(shuffled, settings)
    figures = model["metrics"]["model"]
    assert figures["average_precision"] < 3 * figures["prevalence"]
    # Training says so, at the lift the settings give (here the bound above).
    model["settings"]["min_lift"] = 3
    said = training.chance_warning(model)
    assert said is not None and "about as chance does" in said
    assert "model.min_lift=3" in said


def test_a_model_that_ranks_fraud_is_not_warned_about(trained) -> None:
    assert training.chance_warning(trained) is None


def test_rows_of_the_evaluation_period_never_enter_training(
    labelled_month, fitted
) -> None:
    """Turn every label of the delay and the evaluation period upside down:
    the model and its calibration stay the same, bit for bit."""
    settings, rows = labelled_month
    labelled = rows[rows["is_fraud"].notna()]
    split = risk_model.time_split(labelled, settings)
    assert split.train_end < split.evaluation_start
    flipped = labelled.copy()
    later = flipped["created_at_epoch"] >= split.train_end
    assert later.any() and (~later).any()
    flipped.loc[later, "is_fraud"] = 1 - flipped.loc[later, "is_fraud"]
    first = fitted
    second = risk_model.fit(flipped, split, settings)
    assert first["booster"] == second["booster"]
    assert first["calibration"] == second["calibration"]
    for window in ("training", "calibration"):
        assert first["windows"][window] == second["windows"][window]
    assert first["windows"]["evaluation"] != second["windows"]["evaluation"]


def test_a_split_at_an_hour_keeps_the_evaluation_period_out_of_training(
    labelled_month,
) -> None:
    """Held back from 12:00 on a day, after a delay of half a day: every
    label from the delay on turned upside down leaves the model as it was,
    and the model file says the hour its held-back period starts at."""
    settings, rows = labelled_month
    at_noon = settings.model_copy(
        update={
            "model": settings.model.model_copy(
                update={
                    "evaluation_start": datetime(2026, 10, 21, 12, 0),
                    "delay_days": 0.5,
                }
            )
        }
    )
    labelled = rows[rows["is_fraud"].notna()]
    split = risk_model.time_split(labelled, at_noon)
    offset = settings.rules.utc_offset_seconds
    assert split.evaluation_start == local_epoch(datetime(2026, 10, 21, 12), offset)
    assert split.train_end == split.evaluation_start - 12 * 3_600
    flipped = labelled.copy()
    later = flipped["created_at_epoch"] >= split.train_end
    flipped.loc[later, "is_fraud"] = 1 - flipped.loc[later, "is_fraud"]
    first = risk_model.fit(labelled, split, at_noon)
    second = risk_model.fit(flipped, split, at_noon)
    assert first["booster"] == second["booster"]
    assert first["calibration"] == second["calibration"]
    window = first["windows"]["evaluation"]
    assert window["from"] == "2026-10-21T12:00"
    held_back = labelled["created_at_epoch"] >= split.evaluation_start
    assert window["rows"] == int(held_back.sum())
    assert first["windows"]["calibration"]["until"] == "2026-10-20T23:59"


def test_the_model_does_not_depend_on_the_order_rows_are_read_in(
    labelled_month, fitted
) -> None:
    """Engines and query plans return rows in different orders: the model
    trained on a shuffled read is the same model, bit for bit."""
    settings, rows = labelled_month
    labelled = rows[rows["is_fraud"].notna()]
    split = risk_model.time_split(labelled, settings)
    shuffled = labelled.sample(frac=1.0, random_state=7)
    assert not shuffled.index.equals(labelled.index)
    first = fitted
    second = risk_model.fit(shuffled, split, settings)
    assert first["booster"] == second["booster"]
    assert first["calibration"] == second["calibration"]


def test_the_model_file_alone_reproduces_the_scores(
    labelled_month, trained, tmp_path
) -> None:
    settings, rows = labelled_month
    model = copy.deepcopy(trained)  # saving numbers it
    labelled = rows[rows["is_fraud"].notna()]
    split = risk_model.time_split(labelled, settings)
    held_back = labelled[labelled["created_at_epoch"] >= split.evaluation_start]
    in_memory = risk_model.probabilities(model, held_back)
    path = risk_model.save(model, tmp_path)
    assert path.name == "risk-model-v0001.json"
    assert risk_model.next_path(tmp_path).name == "risk-model-v0002.json"
    again = risk_model.load(path)
    np.testing.assert_array_equal(risk_model.probabilities(again, held_back), in_memory)
    figures = risk_model.ranking_metrics(
        risk_model.probabilities(again, held_back),
        held_back["is_fraud"].to_numpy(dtype=int),
        held_back["local_day"].to_numpy(),
        settings.model.alerts_per_day,
        settings.evaluation.real_fraud_prevalence,
    )
    assert (
        figures["average_precision"] == again["metrics"]["model"]["average_precision"]
    )
    assert in_memory.min() >= 0 and in_memory.max() <= 1
    for key in ("features", "windows", "label_source", "metrics", "lightgbm_version"):
        assert key in again
    # No mapping declared source features: the model reads its own only.
    assert again["source_features"] == []
    assert risk_model.feature_names(again) == list(risk_model.FEATURES)


def test_categories_are_coded_by_the_training_vocabulary() -> None:
    """A category's code is its place in the vocabulary seen in training;
    one never seen, or missing, is NaN, however the text column came in (an
    engine's Arrow strings in one piece or several, plain Python objects)."""
    import pandas as pd
    import pyarrow as pa

    vocab = {"channel": ["card", "pix"], "entry_mode": ["card"], "category": []}
    values = ["pix", None, "boleto", "card", "pix"]
    pieces = pa.chunked_array([values[:2], values[2:]])
    expected = np.array([1, np.nan, np.nan, 0, 1])
    for column in (
        pd.Series(values, dtype=object),
        pd.Series(values, dtype="string"),
        pd.Series(pd.arrays.ArrowStringArray(pieces)),
    ):
        frame = pd.DataFrame(
            {
                **dict.fromkeys(risk_model.NUMERIC, 1.0),
                "channel": column,
                "entry_mode": column,
                "category": column,
            }
        )
        codes = risk_model.matrix(frame, vocab)[:, len(risk_model.NUMERIC) :]
        np.testing.assert_array_equal(codes[:, 0], expected)
        np.testing.assert_array_equal(codes[:, 1], [np.nan, np.nan, np.nan, 0, np.nan])
        assert np.isnan(codes[:, 2]).all()


def test_contributions_explain_each_score(labelled_month, trained) -> None:
    _, rows = labelled_month
    model = trained
    sample = rows.head(50)
    pushes = risk_model.contributions(model, sample)
    assert list(pushes.columns) == list(risk_model.FEATURES)
    raw = risk_model.booster(model).predict(
        risk_model.matrix(sample, model["vocabulary"]), raw_score=True
    )
    bias = raw - pushes.sum(axis=1).to_numpy()
    np.testing.assert_allclose(bias, bias[0], rtol=0, atol=1e-9)


def test_too_few_fraud_labels_is_an_error_that_counts_them(labelled_month) -> None:
    settings, rows = labelled_month
    strict = settings.model_copy(
        update={"model": settings.model.model_copy(update={"min_fraud_rows": 10_000})}
    )
    with pytest.raises(risk_model.ModelError, match=r"training window has \d+ fraud"):
        training.fit_and_evaluate(rows, strict)


def test_an_evaluation_start_before_the_labels_is_an_error(labelled_month) -> None:
    settings, rows = labelled_month
    early = settings.model_copy(
        update={
            "model": settings.model.model_copy(
                update={"evaluation_start": date(2020, 1, 1)}
            )
        }
    )
    with pytest.raises(risk_model.ModelError, match="no training window before"):
        risk_model.time_split(rows[rows["is_fraud"].notna()], early)


def test_a_model_file_of_another_format_is_refused_by_name(tmp_path) -> None:
    path = tmp_path / "risk-model-v0001.json"
    path.write_text(json.dumps({"format": "something-else"}), encoding="utf-8")
    with pytest.raises(risk_model.ModelError, match=r"risk-model-v0001\.json"):
        risk_model.load(path)


def test_calibration_keeps_the_boosters_ranking() -> None:
    """Calibrated probabilities rank rows as the raw scores do: no band of
    rows gets one probability, which would tie a fraud with the legitimate
    rows beside it, and they still follow each band's fraud rate."""
    rng = np.random.default_rng(3)
    raw = rng.uniform(0.0, 1.0, 5_000)
    is_fraud = (rng.uniform(0.0, 1.0, raw.size) < raw**4).astype(int)
    xs, ys = risk_model.calibration(raw, is_fraud)
    assert np.all(np.diff(xs) > 0) and np.all(np.diff(ys) > 0)
    inside = (raw > xs[1]) & (raw < xs[-2])
    probability = np.interp(raw[inside], xs, ys)
    order = np.argsort(raw[inside])
    assert np.all(np.diff(probability[order]) > 0)
    top = raw > 0.9
    assert abs(np.interp(raw[top], xs, ys).mean() - is_fraud[top].mean()) < 0.05


def test_training_and_the_report_count_a_pr_auc_alike() -> None:
    """A 0/1 baseline and a scorer that never fires, judged by the training's
    figures and by the detection report: one PR-AUC each, the fraud they
    never score counted as missed (a tied ranking of every row would credit
    the silent scorer with the prevalence)."""
    rng = np.random.default_rng(5)
    is_fraud = (rng.uniform(size=4_000) < 0.05).astype(int)
    flagged = ((is_fraud == 1) & (rng.uniform(size=4_000) < 0.5)) | (
        rng.uniform(size=4_000) < 0.02
    )
    day = np.repeat(np.arange(40), 100)
    for score in (flagged.astype(float), np.zeros(4_000)):
        trained = risk_model.ranking_metrics(score, is_fraud, day, 100, 7e-5)
        rows = pd.DataFrame({"s": score, "is_fraud": is_fraud})
        reported = ranking_metrics.score_report(rows, (100,), score="s")
        assert trained["average_precision"] == pytest.approx(
            reported["average_precision"]
        )
    assert trained["average_precision"] == 0.0


def test_calibration_never_calls_a_row_certain() -> None:
    """A top band whose few training rows were all fraud reads as the rule
    of succession reads it, not as probability 1; so does an all-legitimate
    bottom band, and the rows above the top band still rank by raw score."""
    raw = np.r_[np.linspace(0.01, 0.5, 200), np.linspace(0.9, 0.95, 5)]
    is_fraud = np.r_[np.zeros(200), np.ones(5)].astype(int)
    xs, ys = risk_model.calibration(raw, is_fraud)
    assert ys[-2] == pytest.approx(6 / 7) and ys[1] == pytest.approx(1 / 202)
    above = np.interp([0.96, 0.99], xs, ys)
    assert 6 / 7 < above[0] < above[1] < 1.0


def test_a_shrunk_top_band_pools_with_the_band_below_it() -> None:
    """Three rows at the top score, all fraud, shrink to 4/5, below the 0.9
    of the band under them: the two are pooled, so a higher score is never
    read as less likely fraud, and no score reads 1."""
    score = np.r_[np.zeros(1_000), np.full(10, 40), np.full(3, 90)]
    is_fraud = np.r_[np.zeros(1_000), np.zeros(1), np.ones(9), np.ones(3)].astype(int)
    by_score = risk_model.rules_calibration(score, is_fraud, 100)
    assert by_score[40] == by_score[90] == by_score[100] == pytest.approx(13 / 15)
    assert by_score[0] == pytest.approx(1 / 1_002)
    assert np.all(np.diff(by_score) >= 0)


def test_the_settings_search_is_recorded_and_picks_the_smallest_within_noise(
    labelled_month, trained, tmp_path
) -> None:
    """Every candidate's figure on the calibration window is in the file;
    the one chosen is the smallest model within the tolerance of the best,
    and the file's settings are the ones it was fitted with."""
    settings, _ = labelled_month
    model = trained
    searched = model["search"]
    tried = searched["candidates"]
    assert [t["settings"] for t in tried] == [
        c.overrides() for c in settings.model.search
    ]
    assert all(0 < t["average_precision"] <= 1 and t["rounds"] >= 1 for t in tried)
    assert sum(t["chosen"] for t in tried) == 1
    chosen = next(t for t in tried if t["chosen"])
    best = max(t["average_precision"] for t in tried)
    floor = best - settings.model.search_tolerance_se * searched["standard_error"]
    assert chosen["average_precision"] >= floor
    assert chosen["leaves"] == min(
        t["leaves"] for t in tried if t["average_precision"] >= floor
    )
    for key, value in chosen["settings"].items():
        assert model["settings"][key] == value
    summary = training.summary_markdown(model, tmp_path / "m.json")
    assert "## Settings search" in summary and "yes" in summary


def test_without_a_search_the_model_has_the_settings_as_configured(
    labelled_month,
) -> None:
    settings, rows = labelled_month
    plain = settings.model_copy(
        update={
            "model": settings.model.model_copy(update={"search": (), "num_leaves": 7})
        }
    )
    labelled = rows[rows["is_fraud"].notna()]
    model = risk_model.fit(labelled, risk_model.time_split(labelled, plain), plain)
    assert model["search"] == {"candidates": []}
    assert model["settings"]["num_leaves"] == 7
    assert "num_leaves=7" in model["booster"]
    assert training.search_lines(model) == []


def test_labels_of_fraud_alone_are_refused_before_any_fit(labelled_month) -> None:
    """A chargeback or MED file lists fraud only: a model fitted on it calls
    every payment fraud (prevalence 1.0), so training stops and says why."""
    settings, rows = labelled_month
    labelled = rows[rows["is_fraud"] == 1].copy()
    split = risk_model.time_split(labelled, settings)
    with pytest.raises(
        risk_model.ModelError,
        match=r"training window has 0 legitimate labels .* lists fraud only",
    ):
        risk_model.check_windows(labelled, split, settings)


def test_a_model_saved_before_a_feature_was_added_still_scores(
    labelled_month, monkeypatch, tmp_path
) -> None:
    """A model file lists the features it was trained on, and scoring reads
    those: one saved before device_other_customers existed scores the rows
    as it did, the new column there and ignored."""
    settings, rows = labelled_month
    labelled = rows[rows["is_fraud"].notna()]
    new = "device_other_customers"
    older = tuple(f for f in risk_model.FEATURES if f != new)
    with monkeypatch.context() as then:
        then.setattr(risk_model, "FEATURES", older)
        then.setattr(
            risk_model, "NUMERIC", tuple(f for f in risk_model.NUMERIC if f != new)
        )
        old = risk_model.fit(
            labelled, risk_model.time_split(labelled, settings), settings
        )
        expected = risk_model.probabilities(old, labelled.drop(columns=new))
    again = risk_model.load(risk_model.save(copy.deepcopy(old), tmp_path))
    assert again["features"] == list(older)
    np.testing.assert_array_equal(risk_model.probabilities(again, labelled), expected)
    moved = labelled.assign(**{new: 1_000.0})
    np.testing.assert_array_equal(risk_model.probabilities(again, moved), expected)
    pushes = risk_model.contributions(again, labelled.head(20))
    assert list(pushes.columns) == list(older)


def test_a_model_of_a_feature_this_version_does_not_compute_is_refused(
    trained, tmp_path
) -> None:
    model = copy.deepcopy(trained)
    model["features"] = [*model["features"], "retired_feature"]
    path = risk_model.save(model, tmp_path)
    with pytest.raises(risk_model.ModelError, match=r"retired_feature.*train again"):
        risk_model.load(path)
