"""Train the risk model on the warehouse's labelled rows and judge it honestly.

One call does what ``flows/train.py`` runs: read every transaction's
features and the labels, split by time, fit and calibrate on the earlier
rows, then score the held-back period with the model, the rules-only Gold
score (where Gold exists) and the two baselines, side by side, and save it
all in one versioned model file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssa.baselines import baseline_scores
from ssa.engines import Session, open_warehouse
from ssa.ranking import risk_rank
from ssa.ranking_metrics import precision_recall_points
from ssa.risk import risk_model
from ssa.settings import Settings

GOLD_SCORES_SQL = "model/gold_scores.sql"
# The model file's name for each Gold voice that needs no model, and for
# Gold's own score with and without the model.
GOLD_VOICES = {"rules_score": "rules_only", "anomaly_points": "anomaly_only"}
GOLD_WITHOUT_MODEL = "gold_without_model"
GOLD_WITH_MODEL = "gold_with_model"


def preflight(settings: Settings) -> risk_model.TimeSplit:
    """What would stop training, found before any feature is read (and, from
    the command line, before Prefect starts): no warehouse, no Silver, no
    labels, or a time window without fraud labels. Raises ModelError or
    WarehouseError with one line; returns the split training will use."""
    with _warehouse(settings) as session:
        labels = risk_model.read_labels(session, settings)
    split = risk_model.time_split(labels, settings)
    risk_model.check_windows(labels, split, settings)
    return split


@contextmanager
def _warehouse(settings: Settings) -> Iterator[Session]:
    """A session on a warehouse that has Bronze and Silver features."""
    warehouse = open_warehouse(settings)
    if not warehouse.exists():
        raise risk_model.ModelError(
            f"no warehouse at {settings.warehouse_path}: run the pipeline "
            "(python -m flows.medallion) or drop a file first"
        )
    with warehouse.transaction() as session:
        session.require_bronze()
        if not session.table_exists("silver_customer_features"):
            # Bronze without Silver: files ingested with --no-refresh, whose
            # folder flows.medallion refuses; the rebuild is what builds it.
            raise risk_model.ModelError(
                f"{settings.warehouse_path} has Bronze but no Silver features "
                "yet: build them with python -m flows.rebuild --data-dir "
                f"{settings.paths.data_dir}"
            )
        yield session


def train(settings: Settings) -> dict[str, Any]:
    """Fit, evaluate and save; the model file's contents and its path."""
    with _warehouse(settings) as session:
        rows = risk_model.read_rows(session, settings)
        gold = (
            session.query(GOLD_SCORES_SQL, {})
            if session.table_exists("gold_transaction_risk")
            else None
        )
    model = fit_and_evaluate(rows, settings, gold)
    path = risk_model.save(model, settings.paths.models_path)
    return {"path": path, "model": model}


def fit_and_evaluate(
    rows: pd.DataFrame, settings: Settings, gold: pd.DataFrame | None = None
) -> dict[str, Any]:
    """The model file's contents: the model fitted on the labelled rows before
    the split, and every score's figures on the labelled rows after it."""
    labelled = rows[rows["is_fraud"].notna()]
    split = risk_model.time_split(labelled, settings)
    model = fit(labelled, split, settings, gold)
    model["metrics"] = evaluate(model, rows, split, settings, gold)
    return model


def fit(
    labelled: pd.DataFrame,
    split: risk_model.TimeSplit,
    settings: Settings,
    gold: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The model fitted on the labelled rows before the split and, where
    Gold has scored them, what each rules score meant in fraud over the
    same rows (``risk_model.rules_calibration``)."""
    model = risk_model.fit(labelled, split, settings)
    if gold is not None:
        before = labelled[labelled["created_at_epoch"] < split.train_end]
        model["rules_calibration"] = risk_model.rules_calibration(
            _gold_voices(before, gold)["rules_score"].to_numpy(),
            before["is_fraud"].to_numpy(dtype=int),
            risk_model.SCORE_MAX,
        )
    return model


def _gold_voices(rows: pd.DataFrame, gold: pd.DataFrame) -> pd.DataFrame:
    """Each row's Gold scores that need no model (0 where Gold has none),
    on the rows' index."""
    by_id = gold.set_index("transaction_id")
    ids = rows["transaction_id"]
    return pd.DataFrame(
        {
            c: ids.map(by_id[c]).fillna(0).astype(int)
            for c in gold
            if c != "transaction_id"
        },
        index=rows.index,
    )


def combined_risk(
    model: dict[str, Any], probability: np.ndarray, voices: pd.DataFrame
) -> pd.DataFrame:
    """Gold's score with this model and the figures behind it
    (``ssa.ranking.RISK_ORDER``), as gold_transaction_risk.sql makes them:
    the higher of the model's probability and the rules' (their score's
    fraud probability in the training period, ``rules_calibration``), and
    ``SCORE_MAX`` times it, rounded down."""
    top = risk_model.SCORE_MAX
    rules_score = voices["rules_score"].to_numpy()
    rules = np.asarray(model["rules_calibration"])[np.clip(rules_score, 0, top)]
    higher = np.maximum(probability, rules)
    return pd.DataFrame(
        {
            "risk_score": np.floor(top * higher).astype(int),
            "risk_probability": higher,
            "model_probability": probability,
            "anomaly_points": voices["anomaly_points"].to_numpy(),
            "rules_score": rules_score,
        },
        index=voices.index,
    )


def evaluate(
    model: dict[str, Any],
    rows: pd.DataFrame,
    split: risk_model.TimeSplit,
    settings: Settings,
    gold: pd.DataFrame | None = None,
) -> dict[str, dict[str, float | None]]:
    """Figures of the model, the Gold scores that need no model (when given:
    ``GOLD_SCORES_SQL``, the rules alone, the anomaly score alone and the two
    combined) and the detection report's two baselines
    (``ssa.baselines``) on the labelled rows of the evaluation
    period. The baselines read every row (a running median needs the
    customer's whole past). Each score's precision-recall curve on those
    rows goes into ``model["curves"]``, for the chart."""
    labelled = rows[rows["is_fraud"].notna()]
    judged = labelled[labelled["created_at_epoch"] >= split.evaluation_start]
    scores = {"model": pd.Series(risk_model.probabilities(model, judged), judged.index)}
    cfg = settings.evaluation
    ordered = rows.sort_values(["customer_id", "created_at_epoch", "transaction_id"])
    baselines = baseline_scores(
        ordered,
        cfg.baseline_amount_quantile,
        cfg.baseline_median_ratio,
        cfg.baseline_min_history,
    )
    for name in ("baseline_amount_p99", "baseline_amount_vs_median"):
        scores[name] = baselines[name].astype(float)
    if gold is not None:
        voices = _gold_voices(judged, gold)
        for column, name in GOLD_VOICES.items():
            scores[name] = voices[column]
        # Gold's own scores, as the alert queue orders the rows.
        without = voices.rename(columns={"no_label_score": "risk_score"})
        scores[GOLD_WITHOUT_MODEL] = pd.Series(risk_rank(without), judged.index)
        if "rules_calibration" in model:
            combined = combined_risk(model, scores["model"].to_numpy(), voices)
            scores[GOLD_WITH_MODEL] = pd.Series(risk_rank(combined), judged.index)
    model["curves"] = {
        name: precision_recall_points(
            pd.DataFrame(
                {"s": score.loc[judged.index], "is_fraud": judged["is_fraud"]}
            ),
            "s",
        ).to_dict("list")
        for name, score in scores.items()
    }
    return {
        name: _clean(
            risk_model.ranking_metrics(
                score.loc[judged.index].to_numpy(dtype=float),
                judged["is_fraud"].to_numpy(dtype=int),
                judged["local_day"].to_numpy(),
                settings.model.alerts_per_day,
                settings.evaluation.real_fraud_prevalence,
            )
        )
        for name, score in scores.items()
    }


def _clean(metrics: dict[str, float]) -> dict[str, float | None]:
    """JSON-safe: NaN (no fraud to rank) becomes null."""
    return {
        k: (None if isinstance(v, float) and np.isnan(v) else v)
        for k, v in metrics.items()
    }


# The scores the one-line summary sets side by side, in its order, and how it
# names them: the model beside what Gold does without it and the baselines,
# so whoever reads it can tell whether the model helps.
LINE_NAMES = {
    "model": "model",
    GOLD_WITH_MODEL: "Gold with it",
    GOLD_WITHOUT_MODEL: "Gold without it",
    "rules_only": "rules alone",
    "baseline_amount_p99": "amount > p99",
    "baseline_amount_vs_median": "amount vs median",
}


def comparison_line(model: dict[str, Any]) -> str:
    """The held-back period's PR-AUC of the model, the Gold scores and the
    baselines in one line, with the prevalence (what chance gets): 'held
    back 2026-10-24 to 2026-10-31, PR-AUC model 0.812, Gold with it 0.801,
    ..., amount vs median 0.070 (prevalence 0.0123)'. A score not computed
    (no Gold yet) is left out; one without fraud to rank shows n/a."""
    metrics = model["metrics"]
    window = model["windows"]["evaluation"]
    shown = ", ".join(
        f"{name} {_figure(metrics[key].get('average_precision'))}"
        for key, name in LINE_NAMES.items()
        if key in metrics
    )
    prevalence = metrics["model"].get("prevalence")
    return (
        f"held back {window['from']} to {window['until']}, PR-AUC {shown} "
        f"(prevalence {_figure(prevalence, 4)})"
    )


def chance_warning(model: dict[str, Any]) -> str | None:
    """A sentence when the model ranks the held-back period about as chance
    does (PR-AUC under ``model.min_lift`` times the prevalence); None else.
    Such a model still scores Gold harmlessly, but nobody should read its
    probabilities as a judgement."""
    figures = model["metrics"]["model"]
    ap, prevalence = figures.get("average_precision"), figures.get("prevalence")
    lift = model["settings"].get("min_lift")
    if ap is None or not prevalence or lift is None or np.isnan(ap):
        return None
    if ap >= lift * prevalence:
        return None
    return (
        f"the model ranks the held-back period about as chance does (PR-AUC "
        f"{ap:.3f} at a prevalence of {prevalence:.4f}, under "
        f"model.min_lift={lift:g} times it): its features do not tell this "
        "fraud apart. Declare the source's own signal as features (a "
        "mapping's features section), or check the labels"
    )


def _figure(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def metrics_table(model: dict[str, Any]) -> pd.DataFrame:
    """The held-back period's figures, one row per score, the model first."""
    frame = pd.DataFrame.from_dict(model["metrics"], orient="index")
    columns = [
        "average_precision",
        "precision_top_k_per_day",
        "recall_at_daily_budget",
        "precision_top_k_at_real_prevalence",
        "daily_budget_alerts",
        "roc_auc",
        "fraud_rows",
        "rows",
    ]
    return frame[[c for c in columns if c in frame.columns]].rename_axis("score")


def summary_markdown(model: dict[str, Any], path: Path) -> str:
    """What was trained, on what, and how it did against the baselines."""
    w = model["windows"]
    lines = [
        f"# Risk model v{model.get('version', '?')}",
        "",
        f"- File: `{path}`",
        f"- Labels: {model['label_source']} ({', '.join(model['label_sets'])})",
        *source_feature_lines(model),
        f"- Training: {w['training']['from']} to {w['training']['until']}, "
        f"{w['training']['rows']:,} rows, {w['training']['fraud_rows']:,} fraud",
        f"- Calibration and early stopping: {w['calibration']['from']} to "
        f"{w['calibration']['until']}, {w['calibration']['rows']:,} rows",
        f"- Delay: {w['delay_days']} days; evaluation: {w['evaluation']['from']} "
        f"to {w['evaluation']['until']}, {w['evaluation']['rows']:,} rows, "
        f"{w['evaluation']['fraud_rows']:,} fraud",
        f"- Boosting rounds: {model['best_iteration']}; average precision on the "
        f"calibration window: {model['calibration_average_precision']:.3f}",
        *search_lines(model),
        "",
        *([f"**Warning: {said}.**", ""] if (said := chance_warning(model)) else []),
        "## Held-back period",
        "",
        "Precision and recall at the top "
        f"{model['settings']['alerts_per_day']} rows of each day (what "
        "investigators can open): the precision is over the same places for "
        "every score, so one that raises fewer alerts (`daily_budget_alerts`) "
        "leaves places that find nothing; the precision of its alerts "
        "reweighted to the real fraud rate beside it. A score that loses to a "
        "baseline is shown losing.",
        "",
        metrics_table(model).to_markdown(floatfmt=".3f"),
    ]
    return "\n".join(lines) + "\n"


def source_feature_lines(model: dict[str, Any]) -> list[str]:
    """The source columns the model read beside its own (a mapping's
    ``features``), if any: what to declare again when the export changes."""
    declared = model.get("source_features", [])
    if not declared:
        return []
    named = ", ".join(f"{e['name']} ({e['kind']})" for e in declared)
    return [f"- Source features (a mapping's `features`): {named}"]


def candidate_name(candidate: dict[str, Any]) -> str:
    """A searched candidate as the settings it changes."""
    changed = candidate["settings"].items()
    return ", ".join(f"{k}={v}" for k, v in changed) or "as configured"


def chosen_name(model: dict[str, Any]) -> str:
    """The candidate the search chose; "as configured" without a search."""
    chosen = [c for c in model.get("search", {}).get("candidates", []) if c["chosen"]]
    return candidate_name(chosen[0]) if chosen else "as configured"


def search_lines(model: dict[str, Any]) -> list[str]:
    """The settings search, candidate by candidate, as the model file keeps
    it: judged on the calibration window, never on the held-back period."""
    searched = model.get("search", {})
    if not searched.get("candidates"):
        return []
    table = pd.DataFrame(
        [
            {
                "settings": candidate_name(c),
                "calibration-window PR-AUC": c["average_precision"],
                "rounds": c["rounds"],
                "leaves in all": c["leaves"],
                "chosen": "yes" if c["chosen"] else "",
            }
            for c in searched["candidates"]
        ]
    )
    return [
        "",
        "## Settings search",
        "",
        f"Each candidate boosted on {searched['sample_rows']:,} training rows "
        f"(every one of the {searched['sample_fraud_rows']:,} fraud rows, a sample "
        "of the others) and was judged on the calibration window; within "
        f"{model['settings']['search_tolerance_se']:g} standard error "
        f"({searched['standard_error']:.4f}) of the best, the smallest model won "
        "and was fitted on every training row.",
        "",
        table.to_markdown(index=False, floatfmt=".4f"),
    ]
