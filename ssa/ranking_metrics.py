"""The figures that judge a ranking of rows against fraud labels.

The detection report (``ssa.report.evaluation``) and the training's
held-back figures (``ssa.risk``) judge scores with the same arithmetic, so
both say one thing of one score: rows scored 0 are never alerted (fraud
among them counts as missed), and rows with the same score are one block
at its fraud rate, never a lucky or unlucky order. Here, below both, so
that neither reads the other.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _ratio(num: float, den: float) -> float:
    return float(num) / den if den else float("nan")


def score_report(
    rows: pd.DataFrame, cutoffs: tuple[int, ...], score: str = "risk_score"
) -> dict:
    """Precision of a ranking at the top k, and its PR-AUC.

    Only rows the scorer ranks above zero are an alert queue. Precision at k
    is the fraud among the queue's first k places divided by k, the same k
    for every scorer on these rows: a scorer that raises fewer than k alerts
    leaves the other places empty and they find nothing, as a precision at k
    counts what was never retrieved. Dividing by its own shorter queue would
    set a rule score's 631 alerts against another score's 1,000, two
    different k under one name. Only when the rows themselves are fewer than
    k is k cut to them, for every scorer alike: ``rows_at_{k}`` says the k
    used, ``alerts_at_{k}`` how many of those places the scorer filled.

    Rows with the same score are one block in no particular order, so a
    block cut by k counts its fraud rate, not a lucky or unlucky order: rule
    scores take few values and a 0/1 baseline only one. PR-AUC is the
    average precision over the distinct scores (each block's share of all
    fraud times the precision down to it), so fraud the scorer never scores
    counts as missed.
    """
    scored = rows[rows[score] > 0]
    hits, sizes = _score_blocks(scored[score], scored["is_fraud"])
    cum_hits, cum_sizes = np.cumsum(hits), np.cumsum(sizes)
    total_fraud = int((rows["is_fraud"] == 1).sum())
    out: dict[str, float] = {}
    for k in cutoffs:
        places = min(k, len(rows))  # the same for every scorer on these rows
        n = min(places, len(scored))  # the places this scorer's alerts fill
        out[f"rows_at_{k}"] = places
        out[f"alerts_at_{k}"] = n
        if places == 0:
            out[f"precision_at_{k}"] = float("nan")
            continue
        expected = 0.0
        if n:
            cut = int(np.searchsorted(cum_sizes, n))  # the block holding row n
            above_hits = cum_hits[cut - 1] if cut else 0.0
            above_rows = cum_sizes[cut - 1] if cut else 0.0
            expected = above_hits + (n - above_rows) * hits[cut] / sizes[cut]
        out[f"precision_at_{k}"] = expected / places
    out["average_precision"] = _average_precision(hits, sizes, total_fraud)
    out["fraud_rows"] = total_fraud
    out["scored_rows"] = len(scored)
    return out


def average_precision(score: np.ndarray, is_fraud: np.ndarray) -> float:
    """PR-AUC as the detection report counts it (``score_report``): rows
    scored 0 are never alerted, so fraud among them counts as missed, and
    rows with the same score are one block at its fraud rate. A scorer that
    never fires gets 0, not the prevalence a tied ranking of every row
    would get; the training's figures and the report's then say one thing."""
    s = np.asarray(score, dtype=float)
    y = np.asarray(is_fraud, dtype=int)
    alerted = s > 0
    hits, sizes = _score_blocks(pd.Series(s[alerted]), pd.Series(y[alerted]))
    return _average_precision(hits, sizes, int(y.sum()))


def _score_blocks(score: pd.Series, is_fraud: pd.Series) -> tuple[np.ndarray, ...]:
    """Fraud and rows per distinct score, highest score first."""
    blocks = (
        pd.DataFrame({"score": score.to_numpy(), "is_fraud": is_fraud.to_numpy()})
        .groupby("score")["is_fraud"]
        .agg(["sum", "count"])
        .sort_index(ascending=False)
    )
    return blocks["sum"].to_numpy(dtype=float), blocks["count"].to_numpy(dtype=float)


def _average_precision(hits: np.ndarray, sizes: np.ndarray, total_fraud: int) -> float:
    """Each block's share of all fraud times the precision down to it."""
    if not total_fraud:
        return float("nan")
    if not len(sizes):  # a scorer that scores nothing found none of it: 0
        return 0.0
    precision = np.cumsum(hits) / np.cumsum(sizes)
    return float((hits / total_fraud * precision).sum())


def daily_budget(
    rows: pd.DataFrame, score: str, alerts_per_day: int, real_prevalence: float
) -> dict[str, float]:
    """What investigators who open ``alerts_per_day`` rows a day would find.

    Each local day's rows scored above zero, highest first; a block of equal
    scores cut by the budget counts at its fraud rate, as in
    ``score_report``. Recall is over all fraud of the period. The precision
    is over the budget's places, the same for every scorer on these rows
    (``daily_budget_rows``: the budget each day, or the day's rows when
    fewer): a day a scorer raises fewer alerts than the budget leaves places
    that find nothing, as in ``score_report`` (``daily_budget_alerts``: the
    alerts it raised). The precision reweighted to the real prevalence is
    that of the alerts raised, from their true- and false-positive rates.
    """
    fraud = rows["is_fraud"] == 1
    positives, negatives = int(fraud.sum()), int((~fraud).sum())
    scored = rows[rows[score] > 0]
    blocks = (
        scored.assign(hit=(scored["is_fraud"] == 1).astype(float))
        .groupby(["local_day", score])["hit"]
        .agg(["sum", "count"])
        .sort_index(ascending=[True, False])
    )
    before = blocks.groupby(level=0)["count"].cumsum() - blocks["count"]
    taken = (alerts_per_day - before).clip(lower=0).clip(upper=blocks["count"])
    tp = float((taken * blocks["sum"] / blocks["count"]).sum())
    alerts = float(taken.sum())
    places = float(rows.groupby("local_day").size().clip(upper=alerts_per_day).sum())
    return {
        "alerts_per_day": float(alerts_per_day),
        "daily_budget_rows": places,
        "daily_budget_alerts": alerts,
        "recall_at_daily_budget": _ratio(tp, positives),
        "precision_at_daily_budget": _ratio(tp, places),
        "precision_at_daily_budget_real_prevalence": reweighted(
            tp, alerts - tp, positives, negatives, real_prevalence
        ),
    }


def reweighted(
    tp: float, fp: float, positives: int, negatives: int, prevalence: float
) -> float:
    """Precision of an alert queue if fraud were as rare as ``prevalence``:
    r * p / (r * p + fpr * (1 - p)), from its true- and false-positive
    rates. As the detection report's rule figures do, the false positives
    count at their one-sided 95 % Poisson upper bound (3 when none was
    seen): a queue with no false alarm in a sample does not make a perfect
    real one, and the figure is a lower bound. (Expected counts from tied
    blocks round up.)"""
    if not positives or not negatives or tp + fp <= 0:
        return float("nan")
    false_alarms = poisson_upper(math.ceil(fp - 1e-9))
    tpr, fpr = tp / positives, false_alarms / negatives
    return _ratio(tpr * prevalence, tpr * prevalence + fpr * (1 - prevalence))


def poisson_upper(k: int, confidence: float = 0.95) -> float:
    """Upper confidence bound of a Poisson mean after observing k events."""
    lo, hi = float(k), float(k) + 10.0 + 10.0 * math.sqrt(k + 1)
    for _ in range(100):  # bisection on P(X <= k; mid) = 1 - confidence
        mid = (lo + hi) / 2
        term = cdf = math.exp(-mid)
        for i in range(1, k + 1):
            term *= mid / i
            cdf += term
        lo, hi = (mid, hi) if cdf > 1 - confidence else (lo, mid)
    return (lo + hi) / 2


def precision_recall_points(
    rows: pd.DataFrame, score: str, points: int = 200
) -> pd.DataFrame:
    """The precision-recall curve of one score, at most ``points`` points:
    one per distinct score (a tie is one point), rows scored 0 never
    alerted; for the report's chart."""
    scored = rows[rows[score] > 0]
    total = int((rows["is_fraud"] == 1).sum())
    if not total or scored.empty:
        return pd.DataFrame({"recall": [], "precision": []})
    blocks = (
        scored.groupby(score)["is_fraud"]
        .agg(["sum", "count"])
        .sort_index(ascending=False)
    )
    hits, sizes = blocks["sum"].cumsum(), blocks["count"].cumsum()
    curve = pd.DataFrame(
        {"recall": (hits / total).to_numpy(), "precision": (hits / sizes).to_numpy()}
    )
    if len(curve) > points:
        keep = np.unique(np.linspace(0, len(curve) - 1, points).round().astype(int))
        curve = curve.iloc[keep]
    return curve.reset_index(drop=True)
