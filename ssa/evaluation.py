"""How well each rule caught what was planted: precision, recall, F1.

Precision counts every flagged row that is fraud of any scenario (an analyst
opening the case is glad of it); recall is measured on the rule's own scenario.
Ordinary rows that were not flagged never leave the warehouse: the evaluation
query returns only flagged or planted rows, which is all the arithmetic needs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ssa.rules import RULES


def _ratio(num: float, den: float) -> float:
    return float(num) / den if den else float("nan")


def rule_report(rows: pd.DataFrame, legit_rows: int, prevalence: float) -> pd.DataFrame:
    """One row per rule: flags, look-alikes caught, precision, recall, F1.

    ``legit_rows`` is every legitimate row in the data (flagged or not), for
    the false-positive rate behind the prevalence-reweighted precision:
    r * p / (r * p + fpr * (1 - p)), with r the recall on the rule's own
    scenario, p the real fraud prevalence and fpr the 95 % upper bound of the
    false-positive rate among legitimate rows (3/N when none was seen).
    """
    fraud = rows["is_fraud"] == 1
    lookalike = rows["scenario"].notna() & ~fraud
    records = []
    for rule in RULES:
        flagged = rows[f"is_{rule}"] == 1
        own = rows["scenario"] == rule
        tp = int((flagged & fraud).sum())
        fp = int((flagged & ~fraud).sum())
        caught = int((flagged & own).sum())
        planted = int(own.sum())
        precision = _ratio(tp, tp + fp)
        recall = _ratio(caught, planted)
        # A handful of false positives (or none) is not a rate: use the
        # one-sided 95 % Poisson upper bound (3.0 for none, the "rule of
        # three"), so the reweighted figure is a lower bound, not a boast.
        fpr = _ratio(poisson_upper(fp), legit_rows)
        real = _ratio(recall * prevalence, recall * prevalence + fpr * (1 - prevalence))
        records.append(
            {
                "rule": rule,
                "flagged": int(flagged.sum()),
                "true_positives": tp,
                "false_positives": fp,
                "lookalikes_flagged": int((flagged & lookalike).sum()),
                "planted": planted,
                "caught_own_scenario": caught,
                "precision": precision,
                "recall": recall,
                "f1": _f1(precision, recall),
                "precision_at_real_prevalence": real,
            }
        )
    return pd.DataFrame.from_records(records)


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


def _f1(precision: float, recall: float) -> float:
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return float("nan")


def rule_by_scenario(rows: pd.DataFrame) -> pd.DataFrame:
    """Which rules caught which planted scenarios (row counts)."""
    planted = rows[rows["scenario"].notna()]
    table = pd.DataFrame(
        {rule: planted.groupby("scenario")[f"is_{rule}"].sum() for rule in RULES}
    )
    table.insert(0, "planted", planted.groupby("scenario").size())
    return table.reset_index().rename(columns={"index": "scenario"})


def score_report(rows: pd.DataFrame, cutoffs: tuple[int, ...]) -> dict:
    """Precision of the Gold risk ranking at the top k, and its PR-AUC.

    Ties are broken against us (legitimate rows first) so the figure is
    not flattered by the row order.
    """
    ranked = rows.sort_values(
        ["risk_score", "is_fraud"], ascending=[False, True], kind="stable"
    )
    ranked = ranked[ranked["risk_score"] > 0]
    hits = ranked["is_fraud"].to_numpy()
    total_fraud = int((rows["is_fraud"] == 1).sum())
    out: dict[str, float] = {}
    for k in cutoffs:
        top = hits[:k]
        out[f"precision_at_{k}"] = _ratio(top.sum(), len(top))
    if total_fraud and len(hits):
        cum = np.cumsum(hits)
        precision = cum / np.arange(1, len(hits) + 1)
        out["average_precision"] = float((precision * hits).sum() / total_fraud)
    else:
        out["average_precision"] = float("nan")
    out["fraud_rows"] = total_fraud
    out["scored_rows"] = len(hits)
    return out


def report_markdown(rules: pd.DataFrame, by_scenario: pd.DataFrame, score: dict) -> str:
    """The detection report as markdown, for the file and the Prefect artifact."""
    lines = [
        "# Detection report",
        "",
        (
            "Precision counts every flagged row that is planted fraud of any kind; "
            "recall is on the rule's own planted scenario. Look-alikes are "
            "legitimate rows planted to resemble a fraud; `lookalikes_flagged` "
            "counts those a rule mistook. `precision_at_real_prevalence` "
            "reweights precision to the real fraud rate "
            "(settings.evaluation.real_fraud_prevalence, 7 per 100,000) using the "
            "95 % upper bound of the false-positive rate (3/N when none was "
            "observed): a lower bound, not a point estimate. "
            "`rows_not_judged`: rows missing a field the rule reads."
        ),
        "",
        rules.to_markdown(index=False, floatfmt=".3f"),
        "",
        "## Which rules caught which scenarios (rows)",
        "",
        by_scenario.to_markdown(index=False),
        "",
        "## Gold risk score",
        "",
        *(
            f"- {k}: {v:.3f}" if isinstance(v, float) else f"- {k}: {v}"
            for k, v in score.items()
        ),
    ]
    return "\n".join(lines) + "\n"
