"""How well the rules and the Gold score caught fraud, on each label set.

Two label sets judge different rows: the generator's planted ground truth
judges generated rows ('synthetic': every row labelled, planted or not), and
reported fraud judges the rest ('reported': only the rows someone labelled).
An unlabelled row is never counted as a false positive. Each figure says
which label set it used and how many labelled rows it had.

Precision counts every flagged row that is fraud of any kind (an analyst
opening the case is glad of it); recall is measured on the rule's own planted
scenario for synthetic labels, and on all reported fraud for reported ones
(reports rarely name our rules). Beside the Gold score, two baselines a fraud
team would try first rank the same rows: "amount above the 99th percentile"
and "amount over 5x the customer's running median". A score that loses to
them is shown losing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from ssa.ranking import risk_rank
from ssa.ranking_metrics import daily_budget, poisson_upper, reweighted, score_report
from ssa.rules import RULES, field_column, fields_said


def _ratio(num: float, den: float) -> float:
    return float(num) / den if den else float("nan")


LABEL_SETS = ("synthetic", "reported")
# Every score the report ranks, by column: the Gold score people see, each of
# its voices alone (the model only where one scored the run), and the two
# baselines.
SCORERS = {
    "risk_score": "Gold risk score (combined)",
    "rules_score": "rules alone",
    "model_probability": "risk model alone",
    "anomaly_points": "anomaly score alone (no labels)",
    "baseline_amount_p99": "amount above the 99th percentile",
    "baseline_amount_vs_median": "amount over {ratio:g}x the customer's running median",
}


def rule_report(
    rows: pd.DataFrame,
    legit_rows: int,
    prevalence: float,
    label_set: str = "synthetic",
) -> pd.DataFrame:
    """One row per rule: flags, look-alikes caught, precision, recall, F1.

    ``legit_rows`` is every legitimate row in the data (flagged or not), for
    the false-positive rate behind the prevalence-reweighted precision:
    r * p / (r * p + fpr * (1 - p)), with r the recall on the rule's own
    scenario, p the real fraud prevalence and fpr the 95 % upper bound of the
    false-positive rate among legitimate rows (3/N when none was seen).
    """
    fraud = rows["is_fraud"] == 1
    synthetic = label_set == "synthetic"
    lookalike = rows["scenario"].notna() & ~fraud & synthetic
    records = []
    for rule in RULES:
        flagged = rows[f"is_{rule}"] == 1
        own = rows["scenario"] == rule if synthetic else fraud
        tp = int((flagged & fraud).sum())
        fp = int((flagged & ~fraud).sum())
        caught = int((flagged & own).sum())
        to_catch = int(own.sum())
        # With no confirmed legitimate row (a file of fraud reports only),
        # every flag would count as a hit: precision cannot be measured.
        precision = _ratio(tp, tp + fp) if legit_rows else float("nan")
        recall = _ratio(caught, to_catch)
        # A handful of false positives (or none) is not a rate: use the
        # one-sided 95 % Poisson upper bound (3.0 for none, the "rule of
        # three"), so the reweighted figure is a lower bound, not a boast.
        fpr = _ratio(poisson_upper(fp), legit_rows)
        real = _ratio(recall * prevalence, recall * prevalence + fpr * (1 - prevalence))
        records.append(
            {
                "label_set": label_set,
                "rule": rule,
                "flagged": int(flagged.sum()),
                "true_positives": tp,
                "false_positives": fp,
                "lookalikes_flagged": int((flagged & lookalike).sum()),
                "fraud_to_catch": to_catch,
                "caught": caught,
                "precision": precision,
                "recall": recall,
                "f1": _f1(precision, recall),
                "precision_at_real_prevalence": real,
            }
        )
    return pd.DataFrame.from_records(records)


def _f1(precision: float, recall: float) -> float:
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return float("nan")


def rule_by_scenario(rows: pd.DataFrame) -> pd.DataFrame:
    """Which rules caught which planted scenarios (row counts)."""
    planted = rows[rows["scenario"].notna()]
    if "label_set" in planted:
        planted = planted[planted["label_set"] == "synthetic"]
    table = pd.DataFrame(
        {rule: planted.groupby("scenario")[f"is_{rule}"].sum() for rule in RULES}
    )
    table.insert(0, "planted", planted.groupby("scenario").size())
    return table.reset_index().rename(columns={"index": "scenario"})


def label_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows, labelled rows, fraud and prevalence per label set."""
    records = []
    for label_set in (*LABEL_SETS, "unlabelled"):
        part = rows[rows["label_set"] == label_set]
        if part.empty:
            continue
        fraud = int((part["is_fraud"] == 1).sum())
        labelled = int(part["is_fraud"].notna().sum())
        records.append(
            {
                "label_set": label_set,
                "rows": len(part),
                "labelled_rows": labelled,
                "fraud_rows": fraud,
                "legitimate_rows": labelled - fraud,
                "prevalence": _ratio(fraud, labelled),
            }
        )
    return pd.DataFrame.from_records(records)


def scorers(rows: pd.DataFrame, among: pd.Series | None = None) -> list[str]:
    """The score columns these rows carry (or the rows ``among`` selects):
    the model's only where it scored."""

    def scored(column: str) -> bool:
        values = rows[column] if among is None else rows.loc[among, column]
        return bool(values.notna().any())

    return [c for c in SCORERS if c in rows and (c != "model_probability" or scored(c))]


def ranked_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as the rankings read them: the label, the label set, the
    day (where there is one) and each scorer's column, the Gold score as its
    place in the alert queue, whose finer figures order the rows its whole
    points tie (``ssa.ranking``). A missing score stays missing: a row
    never alerted."""
    context = [c for c in ("label_set", "is_fraud", "local_day") if c in rows]
    out = rows[[*context, *scorers(rows)]].copy()
    if "risk_score" in out:
        out["risk_score"] = risk_rank(rows)
    return out


def ranking_report(
    scores: pd.DataFrame,
    cutoffs: tuple[int, ...],
    ratio: float,
    alerts_per_day: int,
    real_prevalence: float,
) -> pd.DataFrame:
    """Each scorer on each label set, on the same labelled rows: PR-AUC,
    precision at the top k (and reweighted to the real prevalence), and what
    a daily alert budget finds (with ``local_day`` in the rows). ``scores``
    is what ``ranked_scores`` gives."""
    records = []
    for label_set in LABEL_SETS:
        judged = (scores["label_set"] == label_set) & scores["is_fraud"].notna()
        part = scores[judged]
        if part.empty:
            continue
        fraud = part["is_fraud"] == 1
        positives, negatives = int(fraud.sum()), int((~fraud).sum())
        prevalence = float(fraud.mean())
        for column in scorers(scores, judged):
            figures = score_report(part, cutoffs, column)
            for k in cutoffs:
                # The alerts it raised in its top k, reweighted: empty places
                # are neither true nor false positives.
                n = figures[f"alerts_at_{k}"]
                tp = figures[f"precision_at_{k}"] * figures[f"rows_at_{k}"] if n else 0
                figures[f"precision_at_{k}_real_prevalence"] = reweighted(
                    tp, n - tp, positives, negatives, real_prevalence
                )
            if "local_day" in part:
                figures.update(
                    daily_budget(part, column, alerts_per_day, real_prevalence)
                )
            records.append(
                {
                    "label_set": label_set,
                    "scorer": SCORERS[column].format(ratio=ratio),
                    "labelled_rows": len(part),
                    "prevalence": prevalence,
                    **figures,
                }
            )
    return pd.DataFrame.from_records(records)


def coverage_status(coverage: pd.DataFrame) -> pd.DataFrame:
    """Coverage rows with rows judged and a status in words, naming the
    fields the rows in scope lacked (a Pix export with both documents but no
    ``is_same_owner`` is told of that one, not of the four a rule reads)."""
    out = coverage.copy()
    out["rows_judged"] = out["rows_applicable"] - out["rows_not_judged"]
    out["missing_fields"] = [_lacked(row) for row in out.to_dict("records")]
    out["status"] = [_status(row) for row in out.to_dict("records")]
    return out.drop(
        columns=[
            c
            for c in out
            if (c.startswith("missing_") and c != "missing_fields")
            or c in ("rows_first_use_unknown", "history_starts_day")
        ]
    )


# What the coverage says of the rows whose device's first use is derived and
# not known yet (sql/gold/rule_coverage.sql), alone or beside lacking fields.
FIRST_USE_UNKNOWN = "device first use not known yet (history starts {date})"
FIRST_USE_UNKNOWN_SOME = (
    "device first use not known yet on some rows (history starts {date})"
)


def _status(row: dict[str, Any]) -> str:
    """A rule's coverage in words: what stopped it, field by field, and the
    rows whose device is too early in the history to be judged."""
    if row["rows_applicable"] == 0:
        return f"not applicable: no {row['applies_to']}"
    unknown = int(row.get("rows_first_use_unknown") or 0)
    lacking = row["rows_not_judged"] - unknown
    if row["rows_not_judged"] == 0:
        return "judged"
    day = row.get("history_starts_day")
    date = "" if unknown == 0 or pd.isna(day) else _local_date(int(day))
    if lacking == 0:
        said = FIRST_USE_UNKNOWN if row["rows_judged"] == 0 else FIRST_USE_UNKNOWN_SOME
        return ("not judged: " if row["rows_judged"] == 0 else "judged in part: ") + (
            said.format(date=date)
        )
    fields = row["missing_fields"]
    if row["rows_judged"] == 0:
        head = f"not judged: no {fields}"
    else:
        head = f"judged in part: some rows lack {fields}"
    if unknown == 0:
        return head
    return f"{head}; {FIRST_USE_UNKNOWN_SOME.format(date=date)}"


def _local_date(day: int) -> str:
    """A local day number (days since 1970-01-01, sql/macros/local_time.sql)
    as an ISO date."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def _lacked(row: dict[str, Any]) -> str:
    """The needed fields some row in scope lacked, in the rule's order (all
    it needs if none is counted, which a judged rule never shows)."""
    needs = [f for f in str(row.get("needs") or "").split(",") if f]
    lacked = [f for f in needs if row.get(f"missing_{field_column(f)}", 0) > 0]
    return fields_said(lacked or needs)


def _markdown(frame: pd.DataFrame, floatfmt: str) -> str:
    """A table of the report: a figure that cannot be computed (a rule that
    flagged nothing has no precision) reads n/a, not nan."""
    cells = frame.astype(object).where(frame.notna(), None)
    return cells.to_markdown(index=False, floatfmt=floatfmt, missingval="n/a")


def report_markdown(
    labels: pd.DataFrame,
    coverage: pd.DataFrame,
    rules: pd.DataFrame,
    by_scenario: pd.DataFrame,
    ranking: pd.DataFrame,
    real_prevalence: float,
) -> str:
    """The detection report as markdown, for the file and the Prefect
    artifact; ``real_prevalence`` is the rate precision is reweighted to
    (settings.evaluation.real_fraud_prevalence), said in its words."""
    lines = [
        "# Detection report",
        "",
        (
            "Generated rows are judged against the planted ground truth "
            "(`synthetic`), the others against reported fraud (`reported`); "
            "rows nobody labelled are not judged and never count as false "
            "positives."
        ),
        "",
        "## Label sets",
        "",
        _markdown(labels, ".4f") if len(labels) else "No rows.",
        "",
        "## What each rule could judge",
        "",
        coverage[
            [
                "rule",
                "applies_to",
                "rows_applicable",
                "rows_judged",
                "rows_not_judged",
                "status",
            ]
        ].to_markdown(index=False),
        "",
    ]
    for label_set in LABEL_SETS:
        part = rules[rules["label_set"] == label_set].drop(columns="label_set")
        if part.empty:
            continue
        if label_set != "synthetic":  # only generated rows have look-alikes
            part = part.drop(columns="lookalikes_flagged")
        recall_on = (
            "the rule's own planted scenario"
            if label_set == "synthetic"
            else "all reported fraud"
        )
        lines += [
            f"## Rules against the {label_set} labels",
            "",
            (
                "Precision counts every flagged row that is fraud of any kind; "
                f"recall is on {recall_on}. `precision_at_real_prevalence` "
                "reweights precision to the real fraud rate "
                "(settings.evaluation.real_fraud_prevalence, "
                f"{real_prevalence * 100_000:g} per 100,000) "
                "using the 95 % upper bound of the false-positive rate (3/N when "
                "none was observed): a lower bound, not a point estimate."
                + (
                    " Look-alikes are legitimate rows planted to resemble a "
                    "fraud; `lookalikes_flagged` counts those a rule mistook."
                    if label_set == "synthetic"
                    else ""
                )
            ),
            "",
            _markdown(part, ".3f"),
            "",
        ]
    if len(by_scenario):
        lines += [
            "## Which rules caught which planted scenarios (rows)",
            "",
            by_scenario.to_markdown(index=False),
            "",
        ]
    budget = (
        f"{int(ranking['alerts_per_day'].iloc[0])} rows a day"
        if "alerts_per_day" in ranking and len(ranking)
        else "the daily alert budget"
    )
    lines += [
        "## Ranking: the Gold score, each of its voices, and two baselines",
        "",
        (
            "The same labelled rows ranked by each scorer: the Gold score, the "
            "rules alone, the risk model alone (where one scored the run), the "
            "anomaly score alone (no labels) and two baselines. Rows with the "
            "same score count as one block at its fraud rate (a 0/1 baseline is "
            "one block). `average_precision` (PR-AUC) counts fraud it never "
            "scores as missed; compare it with `prevalence`, what a random "
            "ranking gets. `precision_at_k`: the fraud among the first k "
            "places of its queue of rows scored above zero, divided by k for "
            "every scorer (k cut to the rows when they are fewer, for all "
            "alike): a scorer that raises fewer than k alerts (`scored_rows`) "
            "leaves places empty that find nothing. `_real` beside it is the "
            "precision of the alerts it raised there, reweighted to the real "
            "fraud rate (settings.evaluation.real_fraud_prevalence), its "
            "false positives at their 95 % upper bound as for the rules: a "
            "lower bound. "
            f"`recall_at_daily_budget`: the share of all fraud found by opening "
            f"the top {budget} (settings.model.alerts_per_day), and the "
            "precision over those places. A score that loses to a baseline is "
            "shown losing."
        ),
        "",
        _markdown(_ranking_table(ranking), ".3f")
        if len(ranking)
        else "No labelled rows: nothing to rank against.",
    ]
    return "\n".join(lines) + "\n"


def _ranking_table(ranking: pd.DataFrame) -> pd.DataFrame:
    """The ranking's columns in reading order, the long names shortened."""
    cutoffs = [c for c in ranking if c.startswith("precision_at_") and c[13:].isdigit()]
    # The k a figure used, shown where the rows were fewer than k.
    clipped = [
        f"rows_at_{c[13:]}"
        for c in cutoffs
        if f"rows_at_{c[13:]}" in ranking
        and (ranking[f"rows_at_{c[13:]}"] < int(c[13:])).any()
    ]
    columns = [
        "label_set",
        "scorer",
        "average_precision",
        *cutoffs,
        *clipped,
        *(f"{c}_real_prevalence" for c in cutoffs),
        "recall_at_daily_budget",
        "precision_at_daily_budget",
        "prevalence",
        "labelled_rows",
        "scored_rows",
    ]
    shown = ranking[[c for c in columns if c in ranking]]
    return shown.rename(
        columns=lambda c: c.replace("_real_prevalence", "_real").replace(
            "average_precision", "PR-AUC"
        )
    )
