"""The risk model: gradient boosting on reported fraud, judged on a later period.

A fraud team runs rules beside a model trained on the fraud it was told
about, and trusts the model only as far as it held on a period it never saw
(``../shared/reference/model-evaluation.md``). So training here is split by
time: the model learns from the rows before ``train_end`` (the evaluation
start less a delay for labels still on their way), stops boosting and is
calibrated on the latest part of that window, and is judged only on the
rows from the evaluation start on. A random split would put rows of one
fraud episode on both sides and measure memory, not detection.

LightGBM, because its text model format (no pickle) and its per-feature
contributions (TreeSHAP) make a model file that scores and explains on its
own; isotonic calibration is stored as its breakpoints. The file alone
reproduces every score (tested).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from ssa.engines import Session
from ssa.local_time import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    date_at,
    day_number,
    local_day,
    local_epoch,
    local_minute,
    midnight,
)
from ssa.ranking_metrics import average_precision, daily_budget
from ssa.risk import source_features
from ssa.risk.source_features import SourceFeature
from ssa.rules import RULES
from ssa.settings import ModelCandidate, Settings, label_params

FORMAT = "ssa-risk-model/1"
FEATURES_SQL = "model/features.sql"
LABELS_SQL = "model/labels.sql"
MODEL_FILE = re.compile(r"^risk-model-v(\d{4,})\.json$")
# Gold's scores run from 0 to this: the rules score is capped there and a
# probability counts this many times itself (sql/gold/).
SCORE_MAX = 100

# What the model reads, by name (sql/model/features.sql). Categorical
# columns are coded by the vocabulary seen in training; an unseen value is
# missing, as it would be for LightGBM anyway.
CATEGORICAL: tuple[str, ...] = ("channel", "entry_mode", "category")
NUMERIC: tuple[str, ...] = (
    "amount_cents",
    "local_hour",
    "day_of_week",
    "is_night",
    "history_rows",
    "seconds_since_prev",
    "tx_count_1h",
    "amount_sum_1h_cents",
    "tx_count_1d",
    "amount_sum_1d_cents",
    "tx_count_7d",
    "amount_mean_7d_cents",
    "tx_count_30d",
    "amount_mean_30d_cents",
    "amount_to_mean_30d",
    "typical_amount_cents",
    "amount_to_typical",
    "max_amount_30d_cents",
    "amount_to_max_30d",
    "day_spend_to_usual",
    "night_share_before",
    "hour_habit",
    "category_rows_before",
    "amount_to_category_typical",
    "counterparty_rows_before",
    "km_from_usual_place",
    "device_age_days",
    "device_other_customers",
    "seconds_since_prev_in_category",
    "night_tx_count_1d",
    "max_amount_to_category_1d",
    *(f"is_{rule}" for rule in RULES),
)
FEATURES: tuple[str, ...] = (*NUMERIC, *CATEGORICAL)
# The text columns of sql/model/features.sql; every other one is a number.
TEXT_COLUMNS: tuple[str, ...] = ("transaction_id", "customer_id", *CATEGORICAL)
# The text columns of sql/model/labels.sql.
LABEL_TEXT_COLUMNS: tuple[str, ...] = ("transaction_id", "label_set")


class ModelError(RuntimeError):
    """Training or scoring cannot go on; the message says why and with what."""


@dataclass(frozen=True)
class TimeSplit:
    """Epoch-second bounds of the three windows: training ``[start,
    calibration_start)``, calibration ``[calibration_start, train_end)``,
    a delay, then evaluation ``[evaluation_start, end]``."""

    start: int
    calibration_start: int
    train_end: int
    evaluation_start: int
    end: int


# --- Data -------------------------------------------------------------------


def read_rows(session: Session, settings: Settings) -> pd.DataFrame:
    """Every transaction with its features, and its label where it has one
    (``is_fraud`` and ``label_set`` NaN where not).

    Features and labels are separate queries: the one that scoring runs
    never names a label table. The source features a mapping declared come
    along under their prefix (``source_features``), missing on rows without.
    """
    labels = read_labels(session, settings).drop(columns="created_at_epoch")
    features = read_features(session, settings)
    rows = features.merge(labels, on="transaction_id", how="left", validate="1:1")
    try:
        stored = source_features.read(session)
    except source_features.SourceFeatureError as exc:
        raise ModelError(str(exc)) from exc
    if len(stored.columns) > 1:
        rows = source_features.join(rows, stored, source_features.present(stored))
    return rows


def read_labels(session: Session, settings: Settings) -> pd.DataFrame:
    """The labels training learns from (``settings.model.label_source``),
    with each row's time; ModelError when there are none."""
    labels = session.query_numeric(
        LABELS_SQL, label_params(settings), LABEL_TEXT_COLUMNS
    )
    source = settings.model.label_source
    if source != "all":
        labels = labels[labels["label_set"] == source]
    if labels.empty:
        raise ModelError(
            f"no labelled transactions for label_source={source!r}: load "
            "reported fraud (flows.ingest --labels FILE) or run the synthetic "
            "month, whose planted labels are the ground truth"
        )
    return labels


def read_features(session: Session, settings: Settings) -> pd.DataFrame:
    """Every transaction with its features and no label, for scoring."""
    return session.query_numeric(FEATURES_SQL, sql_params(settings), TEXT_COLUMNS)


def sql_params(settings: Settings) -> dict[str, Any]:
    return {"utc_offset_seconds": settings.rules.utc_offset_seconds}


def time_split(frame: pd.DataFrame, settings: Settings) -> TimeSplit:
    """The windows for these labelled rows: the evaluation from
    ``model.evaluation_start`` (``evaluation_start`` says where it falls
    when none is given), training up to ``model.delay_days`` before it.
    ModelError, saying the span and what would fit, when a window is left
    empty."""
    cfg = settings.model
    offset = settings.rules.utc_offset_seconds
    times = frame["created_at_epoch"]
    start, end = int(times.min()), int(times.max())
    evaluation_start = (
        default_evaluation_start(start, end, cfg.evaluation_share, offset)
        if cfg.evaluation_start is None
        else given_evaluation_start(cfg.evaluation_start, offset)
    )
    train_end = evaluation_start - int(cfg.delay_days * SECONDS_PER_DAY)
    said = _stamp(evaluation_start, offset)
    run = f"labelled rows run {said(start)} to {said(end)} ({_duration(end - start)})"
    if not start < evaluation_start <= end:
        where = "before" if evaluation_start <= start else "after"
        raise ModelError(
            f"{run}: no {'training' if where == 'before' else 'evaluation'} "
            f"window {where} {said(evaluation_start)} (the evaluation start is "
            f"{where} every labelled row); set model.evaluation_start "
            "(--evaluation-start) between the first and the last labelled row"
        )
    if not start < train_end:
        room = evaluation_start - start
        # Half the room, down to a whole hour: a delay that surely fits.
        hint = room // 2 // SECONDS_PER_HOUR * SECONDS_PER_HOUR / SECONDS_PER_DAY
        raise ModelError(
            f"{run}: no training window before {said(train_end)} (evaluation from "
            f"{said(evaluation_start)}, delay {cfg.delay_days} days): "
            f"{_duration(room)} lie before the evaluation, so model.delay_days "
            f"must be below {room / SECONDS_PER_DAY:.4g}; --set "
            f"model.delay_days={hint:.4g} leaves half of them to train on"
        )
    calibration_start = int(
        np.quantile(times[times < train_end], 1 - cfg.calibration_share)
    )
    return TimeSplit(start, calibration_start, train_end, evaluation_start, end)


def given_evaluation_start(given: date | datetime, offset: int) -> int:
    """The epoch second of ``model.evaluation_start``: a date's local
    midnight, a date-time on the local clock (or at its own offset)."""
    if isinstance(given, datetime):
        return local_epoch(given, offset)
    return midnight(day_number(given), offset)


def default_evaluation_start(start: int, end: int, share: float, offset: int) -> int:
    """Where the last ``share`` of the span ``[start, end]`` starts: at the
    local midnight nearest to it, or at the nearest local hour where whole
    days would hold back less than half or more than one and a half times
    ``share`` of the span.

    Whole days keep a period of months or weeks on calendar days, as a
    fraud team reads it, and the rounding is noise there: half a day of a
    month. On a span of a day or two it is not: two days rounded to days
    hold back the whole second day or nothing at all (the ULB credit-card
    set, a two-day export), and the split would fail or judge on a share
    nobody chose. Half the share either way is the most rounding allowed;
    past it an hour, the coarsest unit that still keeps the share on such
    a span. With the default share (a quarter) any span of three whole
    days or more stays on days."""
    first_day = local_day(start, offset)
    span_days = local_day(end, offset) - first_day + 1
    by_day = midnight(first_day + round(span_days * (1 - share)), offset)
    if end > start and abs((end - by_day) / (end - start) - share) <= share / 2:
        return by_day
    target = end - share * (end - start)
    return _hours(target + offset) - offset


def _hours(seconds: float) -> int:
    """Seconds rounded to the nearest whole hour."""
    return round(seconds / SECONDS_PER_HOUR) * SECONDS_PER_HOUR


def _duration(seconds: float) -> str:
    """A span as a person says it: hours below three days, days above."""
    if seconds < 3 * SECONDS_PER_DAY:
        return f"{seconds / SECONDS_PER_HOUR:.4g} h"
    return f"{seconds / SECONDS_PER_DAY:.4g} days"


def _stamp(evaluation_start: int, offset: int) -> Callable[[int], str]:
    """How the windows of a split are said: as local dates when the
    evaluation starts at a local midnight, as before, else to the minute."""
    if (evaluation_start + offset) % SECONDS_PER_DAY == 0:
        return lambda epoch: _day(epoch, offset)
    return lambda epoch: local_minute(epoch, offset)


def check_windows(frame: pd.DataFrame, split: TimeSplit, settings: Settings) -> None:
    """ModelError, in one line, unless every window holds enough fraud: the
    training and calibration windows ``model.min_fraud_rows`` each (fewer
    and the booster learns an episode, not a pattern), the evaluation
    period at least one (else nothing judges the model); and enough
    legitimate labels (``model.min_legitimate_rows`` in the first two, one
    in the evaluation period): labels of fraud alone, as a chargeback or MED
    file gives them, teach a model that every payment is fraud."""
    cfg = settings.model
    times = frame["created_at_epoch"]
    windows = (
        ("training", times < split.calibration_start, cfg.min_fraud_rows),
        (
            "calibration",
            (times >= split.calibration_start) & (times < split.train_end),
            cfg.min_fraud_rows,
        ),
        ("evaluation", times >= split.evaluation_start, 1),
    )
    said = _stamp(split.evaluation_start, settings.rules.utc_offset_seconds)
    for name, inside, needed in windows:
        rows = frame[inside]
        fraud = int(rows["is_fraud"].sum())
        if fraud >= needed:
            continue
        span = (
            f"from {said(split.evaluation_start)}"
            if name == "evaluation"
            else f"before {said(split.train_end)}"
        )
        fix = (
            "move model.evaluation_start earlier (--evaluation-start)"
            if name == "evaluation"
            else "label more fraud, or move model.evaluation_start later "
            "(--evaluation-start)"
        )
        needs = (
            "at least one"
            if name == "evaluation"
            else f"model.min_fraud_rows = {needed}"
        )
        raise ModelError(
            f"{name} window has {fraud} fraud labels among {len(rows):,} rows "
            f"{span} ({needs}): {fix}"
        )
    for name, inside, _ in windows:
        needed = 1 if name == "evaluation" else cfg.min_legitimate_rows
        rows = frame[inside]
        legitimate = int((rows["is_fraud"] == 0).sum())
        if legitimate >= needed:
            continue
        needs = (
            "at least one"
            if name == "evaluation"
            else f"model.min_legitimate_rows = {needed}"
        )
        raise ModelError(
            f"{name} window has {legitimate} legitimate labels among "
            f"{len(rows):,} labelled rows ({needs}): a chargeback or MED file "
            "lists fraud only; label legitimate transactions too (is_fraud 0), "
            "or set model.unreported_legitimate_after_days to the days after "
            "which a payment nobody reported counts as legitimate"
        )


def _day(epoch: int, offset: int) -> str:
    return date_at(epoch, offset).isoformat()


# --- Encoding and scoring ---------------------------------------------------


def vocabulary(
    frame: pd.DataFrame, extra: Sequence[SourceFeature] = ()
) -> dict[str, list[str]]:
    """Each categorical column's values seen in training, in a fixed order
    (the categorical source features' too, under their prefixed names)."""
    columns = [*CATEGORICAL, *(f.column for f in extra if f.kind == "categorical")]
    return {
        col: sorted(frame[col].dropna().astype(str).unique().tolist())
        for col in columns
    }


def feature_names(model: dict[str, Any]) -> list[str]:
    """The model's input columns in order: the features its file lists
    (a model saved before a feature was added reads without it), then the
    source features it was trained with (prefixed)."""
    return [*model["features"], *(f.column for f in source_features.of_model(model))]


def matrix(
    frame: pd.DataFrame,
    vocab: dict[str, list[str]],
    extra: Sequence[SourceFeature] = (),
    features: Sequence[str] | None = None,
) -> np.ndarray:
    """The model's input: ``features`` (those a model file lists; by
    default this version's), numbers as floats (NULL is NaN) and categories
    as their index in the training vocabulary, then the source features
    ``extra`` (in ``SourceFeature`` order) the same way."""
    features = FEATURES if features is None else features
    names = [*features, *(f.column for f in extra)]
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ModelError(f"feature columns missing from the rows: {missing}")
    # Filled a feature at a time into contiguous rows, handed over
    # transposed (column-major, which LightGBM reads as it is): writing a
    # column of a row-major matrix strides through all of it.
    out = np.empty((len(names), len(frame)), dtype=np.float64)
    numeric = [
        *(f for f in features if f not in CATEGORICAL),
        *(f.column for f in extra if f.kind == "numeric"),
    ]
    places = {name: i for i, name in enumerate(names)}
    for col in numeric:
        values = frame[col]
        if values.dtype == np.float64:  # as the warehouse reads hand them over
            out[places[col]] = values.to_numpy()
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            out[places[col]] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    for col in names:
        if col in vocab:
            out[places[col]] = _codes(frame[col], vocab[col])
    return out.T


def _codes(values: pd.Series, vocab: list[str]) -> np.ndarray:
    """Each value's index in ``vocab`` as a float, NaN where it is missing or
    unseen. Looked up once per distinct value (Arrow's dictionary encoding),
    not once per row: a string lookup per row was most of building the input."""
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.astype("string")
    arrow = pa.array(values.array)
    if isinstance(arrow, pa.ChunkedArray):  # a frame put together from pieces
        arrow = arrow.combine_chunks()
    encoded = arrow.dictionary_encode()
    codes = pd.Index(vocab, dtype="string").get_indexer(
        pd.array(encoded.dictionary, dtype="string")
    )
    # One more slot for a missing value: its index points past the dictionary.
    lookup = np.append(np.where(codes >= 0, codes, np.nan), np.nan)
    indices = encoded.indices.fill_null(len(codes)).to_numpy(zero_copy_only=False)
    return lookup[indices]


def booster(model: dict[str, Any]) -> lgb.Booster:
    """The LightGBM model inside a model file's contents."""
    return lgb.Booster(model_str=model["booster"])


def probabilities(
    model: dict[str, Any],
    frame: pd.DataFrame,
    parsed: lgb.Booster | None = None,
    threads: int = 0,
) -> np.ndarray:
    """Calibrated fraud probabilities for these rows, from the model file's
    contents alone (``parsed``: its booster, already read from the text;
    ``threads``: LightGBM's, 0 for its default, every core)."""
    parsed = parsed or booster(model)
    x = matrix(
        frame, model["vocabulary"], source_features.of_model(model), model["features"]
    )
    raw = parsed.predict(x, num_threads=threads)
    cal = model["calibration"]
    return np.interp(raw, cal["raw"], cal["probability"])


def contributions(
    model: dict[str, Any],
    frame: pd.DataFrame,
    parsed: lgb.Booster | None = None,
    threads: int = 0,
) -> pd.DataFrame:
    """Each feature's push on each row's log-odds (TreeSHAP), for reasons."""
    x = matrix(
        frame, model["vocabulary"], source_features.of_model(model), model["features"]
    )
    values = (parsed or booster(model)).predict(
        x, pred_contrib=True, num_threads=threads
    )
    return pd.DataFrame(values[:, :-1], columns=feature_names(model), index=frame.index)


# --- Training ---------------------------------------------------------------


def lgb_params(
    settings: Settings, candidate: ModelCandidate | None = None
) -> dict[str, Any]:
    """LightGBM's parameters for the model settings, with ``candidate``'s
    changes where one is given."""
    cfg = settings.model
    if candidate is not None:
        cfg = cfg.model_copy(update=candidate.overrides())
    return {
        "objective": "binary",
        # Stop on ranking, not log loss: with legitimate rows sampled the raw
        # probabilities run high until calibrated, and log loss would stop
        # the boosting at once.
        "metric": "average_precision",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_child_samples,
        "feature_fraction": cfg.feature_fraction,
        "max_bin": cfg.max_bins,
        "lambda_l2": cfg.l2_regularization,
        "max_delta_step": cfg.max_delta_step,
        "bagging_freq": 1 if cfg.legit_row_share < 1 else 0,
        "pos_bagging_fraction": 1.0,
        "neg_bagging_fraction": cfg.legit_row_share,
        "seed": cfg.seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": os.cpu_count() or 1,
        "verbose": -1,
    }


@dataclass(frozen=True)
class _Boosted:
    booster: lgb.Booster
    rounds: int
    average_precision: float


def _boost(
    x: np.ndarray,
    y: np.ndarray,
    cal_x: np.ndarray,
    cal_y: np.ndarray,
    params: dict[str, Any],
    settings: Settings,
    extra: Sequence[SourceFeature] = (),
) -> _Boosted:
    """Boost on ``x``, stopping when the calibration window's average
    precision stops improving; the booster, its rounds and that figure.
    ``extra``: the source features after the model's own columns."""
    cfg = settings.model
    names = [re.sub(r"\W", "_", f) for f in FEATURES]
    categorical = list(range(len(NUMERIC), len(FEATURES)))
    for i, feature in enumerate(extra):
        # Numbered: two source names may read the same once made plain.
        names.append(f"src{i}_" + re.sub(r"\W", "_", feature.name))
        if feature.kind == "categorical":
            categorical.append(len(FEATURES) + i)
    train = lgb.Dataset(
        x,
        label=y,
        feature_name=names,
        categorical_feature=categorical,
        free_raw_data=True,
    )
    valid = lgb.Dataset(cal_x, label=cal_y, reference=train)
    model = lgb.train(
        params,
        train,
        num_boost_round=cfg.max_rounds,
        valid_sets=[valid],
        callbacks=[
            lgb.early_stopping(
                cfg.early_stopping_rounds,
                verbose=False,
                min_delta=cfg.early_stopping_min_gain,
            )
        ],
    )
    rounds = model.best_iteration or cfg.max_rounds
    figure = model.best_score.get("valid_0", {}).get("average_precision")
    return _Boosted(model, rounds, math.nan if figure is None else float(figure))


def search(
    x: np.ndarray,
    y: np.ndarray,
    cal_x: np.ndarray,
    cal_y: np.ndarray,
    settings: Settings,
    extra: Sequence[SourceFeature] = (),
) -> tuple[ModelCandidate | None, dict[str, Any]]:
    """The candidate of ``model.search`` to fit the model with, judged on the
    calibration window alone, and what each one did there.

    Each candidate boosts on every fraud row of the training window and one
    fixed sample of its legitimate rows (``model.legit_row_share``, the
    share each round of the real fit draws): the search costs a fraction of
    a fit per candidate. Candidates within ``model.search_tolerance_se``
    standard errors of the best average precision are equal within noise,
    and the smallest model among them wins: fewer leaves in all score
    faster and have less room to learn a quirk of the training period.
    """
    cfg = settings.model
    if len(cfg.search) < 2:
        return (cfg.search[0] if cfg.search else None), {"candidates": []}
    legit = np.flatnonzero(y == 0)
    rng = np.random.default_rng(cfg.seed)
    kept = rng.random(legit.size) < cfg.legit_row_share
    rows = np.sort(np.concatenate([np.flatnonzero(y == 1), legit[kept]]))
    sample_x, sample_y = x[rows], y[rows]
    tried = []
    for candidate in cfg.search:
        params = {
            **lgb_params(settings, candidate),
            "bagging_freq": 0,  # the sample is already drawn
            "neg_bagging_fraction": 1.0,
        }
        started = time.perf_counter()
        boosted = _boost(sample_x, sample_y, cal_x, cal_y, params, settings, extra)
        tried.append(
            {
                "settings": candidate.overrides(),
                "rounds": boosted.rounds,
                "leaves": boosted.rounds * params["num_leaves"],
                "average_precision": boosted.average_precision,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    best = max(t["average_precision"] for t in tried)
    frauds = int(cal_y.sum())
    standard_error = float(np.sqrt(best * (1 - best) / max(frauds, 1)))
    floor = best - cfg.search_tolerance_se * standard_error
    within = [i for i, t in enumerate(tried) if t["average_precision"] >= floor]
    chosen = min(within, key=lambda i: (tried[i]["leaves"], i))
    for i, t in enumerate(tried):
        t["chosen"] = i == chosen
    record = {
        "judged_on": "calibration window",
        "sample_rows": int(rows.size),
        "sample_fraud_rows": int(sample_y.sum()),
        "standard_error": standard_error,
        "candidates": tried,
    }
    return cfg.search[chosen], record


def fit(frame: pd.DataFrame, split: TimeSplit, settings: Settings) -> dict[str, Any]:
    """Train on the rows before ``split.train_end`` only; the model file's
    contents without its metrics.

    The boosting settings are searched, boosting stops, and the calibration
    is fitted, on the calibration window: the latest training rows, never
    the evaluation ones.
    """
    cfg = settings.model
    # In time order, whatever order the engine read the rows in: LightGBM's
    # row sampling and its histograms follow the input order, so a plan or
    # an engine that reads in another order would train another model.
    frame = frame.sort_values(
        ["created_at_epoch", "transaction_id"], kind="stable", ignore_index=True
    )
    times = frame["created_at_epoch"]
    fit_rows = frame[times < split.calibration_start]
    cal_rows = frame[(times >= split.calibration_start) & (times < split.train_end)]
    check_windows(frame, split, settings)
    # The source features the training rows hold values of; none for a
    # source without a mapping's features, and then the model is the same.
    extra = source_features.present(fit_rows)
    vocab = vocabulary(fit_rows, extra)
    x = matrix(fit_rows, vocab, extra)
    y = fit_rows["is_fraud"].to_numpy(dtype=int)
    cal_x = matrix(cal_rows, vocab, extra)
    cal_y = cal_rows["is_fraud"].to_numpy(dtype=int)
    chosen, searched = search(x, y, cal_x, cal_y, settings, extra)
    params = lgb_params(settings, chosen)
    boosted = _boost(x, y, cal_x, cal_y, params, settings, extra)
    del x
    best = boosted.rounds
    raw = boosted.booster.predict(cal_x, num_iteration=best)
    cal_raw, cal_probability = calibration(raw, cal_y)
    chosen_settings = cfg.model_copy(
        update=chosen.overrides() if chosen is not None else {}
    )
    said = _stamp(split.evaluation_start, settings.rules.utc_offset_seconds)
    return {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "lightgbm_version": lgb.__version__,
        "features": list(FEATURES),
        "categorical": list(CATEGORICAL),
        "source_features": source_features.entries(extra),
        "vocabulary": vocab,
        "label_source": cfg.label_source,
        "label_sets": sorted(frame["label_set"].unique().tolist()),
        "windows": {
            "training": _window(fit_rows, split.start, split.calibration_start, said),
            "calibration": _window(
                cal_rows, split.calibration_start, split.train_end, said
            ),
            "delay_days": cfg.delay_days,
            "evaluation": _window(
                frame[times >= split.evaluation_start],
                split.evaluation_start,
                split.end + 1,
                said,
            ),
        },
        "settings": chosen_settings.model_dump(mode="json"),
        "search": searched,
        "calibration_average_precision": boosted.average_precision,
        "best_iteration": best,
        "booster": boosted.booster.model_to_string(num_iteration=best),
        "calibration": {"raw": cal_raw, "probability": cal_probability},
    }


def calibration(
    raw: np.ndarray, is_fraud: np.ndarray
) -> tuple[list[float], list[float]]:
    """Breakpoints ``(raw, probability)`` that map the booster's output to a
    fraud probability, for ``np.interp``: centred isotonic regression.

    Isotonic regression alone is a step function: it gives whole bands of
    rows one probability, and a score that ties a fraud with the legitimate
    rows beside it loses the ranking the booster had (average precision
    counts a tie against it). Each isotonic block is kept as one point
    instead, at its mean raw score, and the points are joined by straight
    lines (Oron and Flournoy, centred isotonic regression): as well
    calibrated, and strictly increasing, so the probabilities rank the rows
    as the booster does. The end blocks are shrunk (``_shrunk_ends``), so
    no row is ever certain; below the lowest point the line runs to (0, 0)
    and above the highest to (1, 1).
    """
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    fitted = iso.fit_transform(raw, is_fraud)
    blocks = _shrunk_ends(fitted, is_fraud)
    points = (
        pd.DataFrame({"raw": raw, "probability": blocks.loc[fitted].to_numpy()})
        .groupby("probability", sort=True)["raw"]
        .mean()
    )
    xs, ys = points.to_numpy().tolist(), points.index.to_numpy().tolist()
    return [0.0, *xs, 1.0], [0.0, *ys, 1.0]


def rules_calibration(
    rules_score: np.ndarray, is_fraud: np.ndarray, top: int
) -> list[float]:
    """The fraud probability of each rules score 0..``top``: isotonic
    regression of the labels on the score over the training period.

    The rules score is a sum of weights someone chose; what it means in
    fraud depends on the source. Where the rules were written for the fraud
    (the synthetic month) a rule hit is fraud nearly always, and the model's
    confident mistakes must not outrank it; where they miss it (a card
    issuer's export, Sparkov) a hit is seldom fraud, and the model's
    confident rows must outrank it. On one scale, the probability, Gold can
    take the higher of the two voices either way. Isotonic: a higher rules
    score is never read as less likely fraud; scores never seen between two
    seen ones are interpolated, beyond them clipped; the end blocks are
    shrunk as the model's are (``_shrunk_ends``).
    """
    scores = rules_score.astype(float)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    fitted = iso.fit_transform(scores, is_fraud.astype(float))
    blocks = _shrunk_ends(fitted, is_fraud)
    knots = blocks.loc[iso.y_thresholds_].to_numpy()
    grid = np.arange(top + 1, dtype=float)
    return [float(p) for p in np.interp(grid, iso.X_thresholds_, knots)]


def _shrunk_ends(fitted: np.ndarray, is_fraud: np.ndarray) -> pd.Series:
    """Each isotonic block's fraud rate, with the two end blocks read as
    the rule of succession reads them, ``(frauds + 1) / (rows + 2)``; by
    the block's fitted value.

    Isotonic regression is least sure at its ends: the top block is often
    a handful of rows that were all fraud, and calling the next such row
    certain (probability 1) is a claim no finite sample supports; the
    bottom block likewise reads 0. The uniform prior's posterior mean keeps
    them inside (0, 1) by as much as their size warrants. Where an end so
    shrunk is no longer beyond its neighbour, the two are pooled, as
    isotonic regression pools any violation, until the rates rise again.
    """
    stats = (
        pd.DataFrame({"value": fitted, "fraud": np.asarray(is_fraud, dtype=float)})
        .groupby("value", sort=True)["fraud"]
        .agg(["sum", "count"])
    )
    frauds, rows = stats["sum"].tolist(), stats["count"].tolist()
    rates = [f / n for f, n in zip(frauds, rows, strict=True)]

    def pooled(low: int, high: int) -> tuple[float, float]:
        return sum(frauds[low:high]), sum(rows[low:high])

    # The top end: pool downwards while the shrunk rate is not above the next.
    top = len(rates) - 1
    f, n = pooled(top, top + 1)
    while top > 0 and (f + 1) / (n + 2) <= rates[top - 1]:
        top -= 1
        f, n = pooled(top, len(rates))
    top_rate = (f + 1) / (n + 2)
    # The bottom end, upwards, never into the top's pool.
    bottom = 0
    f, n = pooled(0, 1)
    while bottom + 1 < top and (f + 1) / (n + 2) >= rates[bottom + 1]:
        bottom += 1
        f, n = pooled(0, bottom + 1)
    bottom_rate = (f + 1) / (n + 2)
    if bottom >= top or bottom_rate >= top_rate:
        f, n = pooled(0, len(rates))
        bottom, top, top_rate = -1, 0, (f + 1) / (n + 2)
    values = [
        top_rate if i >= top else bottom_rate if i <= bottom else rate
        for i, rate in enumerate(rates)
    ]
    return pd.Series(values, index=stats.index)


def _window(
    rows: pd.DataFrame, start: int, end: int, said: Callable[[int], str]
) -> dict[str, Any]:
    """A window of the model file: its bounds as ``_stamp`` says them
    (``model_scoring.held_back`` reads the evaluation's back), its rows."""
    return {
        "from": said(start),
        "until": said(end - 1),
        "rows": len(rows),
        "fraud_rows": int(rows["is_fraud"].sum()),
    }


# --- Evaluation -------------------------------------------------------------


def ranking_metrics(
    score: np.ndarray,
    is_fraud: np.ndarray,
    local_day: np.ndarray,
    alerts_per_day: int,
    real_prevalence: float,
) -> dict[str, float]:
    """How well a score ranks fraud on one period.

    Average precision (PR-AUC) as the detection report counts it (fraud
    scored 0 is missed: ``ssa.ranking_metrics.average_precision``) and ROC
    AUC over every row; precision and recall of the top ``alerts_per_day``
    rows of each day (the handbook's precision top-k per day: what
    investigators would open), and that precision reweighted to the real
    prevalence from its true- and false-positive rates:
    ``ssa.ranking_metrics.daily_budget``, as the detection report counts
    it (a row scored 0 is never opened; a block of equal
    scores cut by the budget counts at its fraud rate). The precision is
    over the same places for every score of the period
    (``daily_budget_rows``), so a score that raises fewer alerts a day than
    the budget (the rules alone, a 0/1 baseline) is not judged on a shorter
    queue than the model's; ``daily_budget_alerts`` says how many it raised.
    """
    y = np.asarray(is_fraud, dtype=int)
    s = np.asarray(score, dtype=float)
    positives = int(y.sum())
    out: dict[str, float] = {
        "rows": float(len(y)),
        "fraud_rows": float(positives),
        "prevalence": positives / len(y) if len(y) else float("nan"),
    }
    if positives == 0 or positives == len(y):
        return {**out, "average_precision": float("nan"), "roc_auc": float("nan")}
    out["average_precision"] = average_precision(s, y)
    out["roc_auc"] = float(roc_auc_score(y, s))
    frame = pd.DataFrame({"s": s, "is_fraud": y, "local_day": local_day})
    budget = daily_budget(frame, "s", alerts_per_day, real_prevalence)
    out["precision_top_k_per_day"] = budget["precision_at_daily_budget"]
    out["recall_at_daily_budget"] = budget["recall_at_daily_budget"]
    out["precision_top_k_at_real_prevalence"] = budget[
        "precision_at_daily_budget_real_prevalence"
    ]
    out["daily_budget_rows"] = budget["daily_budget_rows"]
    out["daily_budget_alerts"] = budget["daily_budget_alerts"]
    return out


# --- Files ------------------------------------------------------------------


def next_path(folder: Path) -> Path:
    """The next version's file name in ``folder``."""
    versions = [
        int(m.group(1))
        for p in folder.glob("risk-model-v*.json")
        if (m := MODEL_FILE.match(p.name))
    ]
    return folder / f"risk-model-v{max(versions, default=0) + 1:04d}.json"


def save(model: dict[str, Any], folder: Path) -> Path:
    """Write the model as the next version, atomically; the version number
    goes into ``model`` too."""
    folder.mkdir(parents=True, exist_ok=True)
    path = next_path(folder)
    model["version"] = int(MODEL_FILE.match(path.name).group(1))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(model, indent=1, allow_nan=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def latest(folder: Path) -> Path | None:
    """The newest version in ``folder``, None when there is none."""
    found = sorted(
        (int(m.group(1)), p)
        for p in folder.glob("risk-model-v*.json")
        if (m := MODEL_FILE.match(p.name))
    )
    return found[-1][1] if found else None


def load(path: Path) -> dict[str, Any]:
    """A model file's contents, checked for the format this code reads."""
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc
    if model.get("format") != FORMAT:
        raise ModelError(
            f"{path}: format {model.get('format')!r}, this version reads {FORMAT!r}"
        )
    # The file's own features drive its scoring: a model saved before a
    # feature was added still scores, without it. One this version no
    # longer computes cannot be read.
    features = model.get("features")
    unknown = (
        [f for f in features if f not in FEATURES]
        if isinstance(features, list)
        else [features]
    )
    if unknown:
        raise ModelError(
            f"{path}: trained on features this version does not compute "
            f"({', '.join(map(str, unknown))}); train again (python -m flows.train)"
        )
    return model
