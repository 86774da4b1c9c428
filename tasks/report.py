"""Report tasks: score the rules against the planted labels and publish.

The detection report is written to files (for the README and for diffs
between runs) and published as Prefect artifacts with the run summary and the
top anomalies, so the UI shows what a run found without opening a CSV.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from ssa import baselines, ranking_metrics
from ssa.engines import open_warehouse
from ssa.report import evaluation
from ssa.report.anomalies import anomalies_frame
from ssa.report.exports import write_csv
from ssa.risk import model_scoring
from ssa.rules import RULES
from ssa.settings import Settings, sql_params

TOP_COLUMNS = (
    "created_at",
    "customer_id",
    "customer_cpf_masked",
    "channel",
    "amount",
    "bairro",
    "anomaly_flag",
    "risk_score",
    "risk_level",
    "reasons",
)


def _clean(value: Any) -> Any:
    """JSON-safe cells for artifacts (NaN is not JSON)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _figure(value: float) -> str:
    """A ratio for the log: n/a where there was nothing to divide."""
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _evaluate(settings: Settings) -> dict[str, Any]:
    params = sql_params(settings)
    with open_warehouse(settings).transaction() as session:
        rows = session.query("gold/evaluation_rows.sql", params)
        top = anomalies_frame(session, settings).head(settings.risk.top_anomalies)
        counts = session.query("gold/run_counts.sql", {})
        coverage = session.query("gold/rule_coverage.sql", params)
    cfg = settings.evaluation
    rows = baselines.baseline_scores(
        rows,
        cfg.baseline_amount_quantile,
        cfg.baseline_median_ratio,
        cfg.baseline_min_history,
    )
    coverage = evaluation.coverage_status(coverage)
    labels = evaluation.label_summary(rows)
    parts = []
    # Each label set's rows are a copy: only the columns the rules' figures
    # read (a month is millions of rows).
    flags = rows[["is_fraud", "scenario", *(f"is_{r}" for r in RULES)]]
    for label_set in evaluation.LABEL_SETS:
        judged = flags[(rows["label_set"] == label_set) & rows["is_fraud"].notna()]
        if judged.empty:
            continue
        legit = int((judged["is_fraud"] == 0).sum())
        parts.append(
            evaluation.rule_report(
                judged, legit, cfg.real_fraud_prevalence, label_set
            ).merge(
                coverage[["rule", "rows_applicable", "rows_not_judged", "status"]],
                on="rule",
                how="left",
            )
        )
    del flags, judged
    rules = (
        pd.concat(parts, ignore_index=True)
        if parts
        else coverage[["rule", "rows_applicable", "rows_not_judged", "status"]].assign(
            label_set="none"
        )
    )
    by_scenario = evaluation.rule_by_scenario(rows)
    # With a risk model in the Gold score, rank only the rows it never learnt
    # from: its own held-back period.
    model = model_scoring.held_back(settings)
    ranked = rows if model is None else rows[rows["created_at_epoch"] >= model[1]]
    scores = evaluation.ranked_scores(ranked)
    ranking = evaluation.ranking_report(
        scores,
        cfg.top_k,
        cfg.baseline_median_ratio,
        settings.model.alerts_per_day,
        cfg.real_fraud_prevalence,
    )
    curves = precision_recall_curves(scores, cfg.baseline_median_ratio)
    period = "all labelled rows" if model is None else f"rows from {model[2]} on"
    write_csv(rules, settings.paths.detection_report_csv)
    markdown = evaluation.report_markdown(
        labels, coverage, rules, by_scenario, ranking, cfg.real_fraud_prevalence
    )
    if model is not None:
        markdown = markdown.replace(
            "# Detection report\n",
            "# Detection report\n\n"
            f"The Gold score includes the risk model v{model[0]}: its ranking "
            f"figures, and the baselines beside them, cover only rows from "
            f"{model[2]} on, the period the model was judged on and never "
            "learnt from.\n",
            1,
        )
    note = model_scoring.label_policy_note(settings)
    if note is not None:
        markdown = markdown.replace(
            "# Detection report\n", f"# Detection report\n\n**{note}**\n", 1
        )
    settings.paths.detection_report_md.write_text(markdown, encoding="utf-8")
    gold = (
        ranking[ranking["scorer"] == evaluation.SCORERS["risk_score"]]
        if len(ranking)
        else ranking
    )
    return {
        "rules": rules,
        "by_scenario": by_scenario,
        "labels": labels,
        "coverage": coverage,
        "ranking": ranking,
        "curves": curves,
        "pr_chart_title": (
            f"Precision-recall, {curves['label_set'].iloc[0]} labels, {period}"
            if len(curves)
            else ""
        ),
        "score": gold.iloc[0].to_dict() if len(gold) else {},
        "markdown": markdown,
        "label_policy_note": note,
        "top": top[list(TOP_COLUMNS)],
        "counts": counts.iloc[0].to_dict(),
    }


def precision_recall_curves(scores: pd.DataFrame, ratio: float) -> pd.DataFrame:
    """Every scorer's precision-recall curve on the label set with the most
    labelled rows (what the report ranks), for the chart; ``scores`` as
    ``evaluation.ranked_scores`` gives them."""
    labelled = scores[scores["is_fraud"].notna()]
    if labelled.empty:
        return pd.DataFrame(columns=["label_set", "scorer", "recall", "precision"])
    label_set = labelled["label_set"].value_counts().idxmax()
    part = labelled[labelled["label_set"] == label_set]
    frames = [
        ranking_metrics.precision_recall_points(part, c).assign(
            label_set=label_set,
            scorer=evaluation.SCORERS[c].format(ratio=ratio),
        )
        for c in evaluation.scorers(part)
    ]
    return pd.concat(frames, ignore_index=True)


@task(name="evaluate-detection", cache_policy=NO_CACHE)
async def evaluate_detection(settings: Settings) -> dict[str, Any]:
    """Precision, recall and F1 per rule against the ground-truth table."""
    result = await asyncio.to_thread(_evaluate, settings)
    logger = get_run_logger()
    if result["label_policy_note"]:
        logger.warning(result["label_policy_note"])
    rules = result["rules"]
    if "flagged" not in rules:
        logger.info("no labelled rows: the report lists what each rule judged")
        return result
    for row in rules.itertuples():
        logger.info(
            "rule %-18s %-9s flagged=%d precision=%s recall=%s",
            row.rule,
            row.label_set,
            row.flagged,
            _figure(row.precision),
            _figure(row.recall),
        )
    return result


def run_summary(settings: Settings, report: dict[str, Any]) -> str:
    """A short markdown page: what ran, how much, what it found."""
    counts = report["counts"]
    paths = settings.paths
    exports = ", ".join(
        f"`{p.name}`"
        for p in (
            paths.silver_csv,
            paths.gold_anomalies_csv,
            paths.gold_customer_csv,
            paths.gold_bairro_daily_csv,
        )
    )
    wanted = ("label_set", "rule", "flagged", "precision", "recall", "status")
    flags = report["rules"][[c for c in wanted if c in report["rules"]]]
    ranking = report["ranking"]
    lines = [
        "# SSA-Fintech run summary",
        "",
        f"- Bronze transactions: **{counts['transactions']:,}** "
        f"from {counts['customers']:,} customers",
        f"- Anomalies (Gold rows): **{counts['anomalies']:,}** "
        f"({counts['critical']:,} critical, {counts['high']:,} high)",
        f"- Warehouse: `{settings.warehouse_path}` ({settings.engine})",
        f"- Exports in `{paths.data_path}`: {exports}",
        f"- Dashboard: open `{paths.dashboard_html}` in a browser (offline)",
        "",
        "## Rules",
        "",
        flags.to_markdown(index=False, floatfmt=".3f"),
        "",
        "## Ranking (PR-AUC; prevalence is what chance gets)",
        "",
        *(
            f"- {r.label_set}: {r.scorer} {r.average_precision:.3f} "
            f"(prevalence {r.prevalence:.4f}, {r.labelled_rows:,} labelled rows)"
            for r in ranking.itertuples()
        ),
    ]
    return "\n".join(lines) + "\n"


@task(name="publish-artifacts", cache_policy=NO_CACHE)
async def publish_artifacts(settings: Settings, report: dict[str, Any]) -> None:
    """Run summary, top anomalies and the detection report."""
    await acreate_markdown_artifact(
        markdown=run_summary(settings, report),
        key="run-summary",
        description="What this run loaded and found.",
    )
    await acreate_table_artifact(
        table=_records(report["top"]),
        key="top-anomalies",
        description="Highest-risk Gold rows (CPF masked).",
    )
    await acreate_table_artifact(
        table=_records(report["rules"].round(4)),
        key="detection-report",
        description="Each rule against the planted ground truth.",
    )
    await acreate_markdown_artifact(
        markdown=report["markdown"],
        key="detection-report-details",
        description="Rule x scenario table and risk-score ranking quality.",
    )
