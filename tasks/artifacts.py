"""Artifacts for the run pages: the pipeline run's own summary, links to the files.

The detection report and the top anomalies are published by the Silver/Gold
subflow (``tasks/report.py``), so they sit on the subflow's run page. A person
who opens the ``medallion-pipeline`` run from the deployment page should still
see, on that page, how many rows each stage produced and where the details are.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import acreate_link_artifact, acreate_markdown_artifact
from prefect.cache_policies import NO_CACHE

from ssa.settings import Settings


def _rows(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def pipeline_summary(settings: Settings, result: Mapping[str, Any]) -> str:
    """Markdown: rows per stage, the rules' scores, the files written."""
    lines = [
        "# Medallion pipeline run",
        "",
        f"Warehouse `{settings.warehouse_path}` ({settings.engine}).",
        "",
        "| stage | table or file | rows |",
        "|---|---|---:|",
    ]
    for table, rows in result.get("bronze", {}).items():
        lines.append(f"| Bronze (new rows) | `{table}` | {_rows(rows)} |")
    silver = result.get("silver", {})
    if silver:
        table, rows = silver.get("table"), _rows(silver.get("rows"))
        lines.append(f"| Silver | `{table}` | {rows} |")
    for table, rows in result.get("gold", {}).items():
        lines.append(f"| Gold | `{table}` | {_rows(rows)} |")
    silver_csv = result.get("silver_csv", {})
    if silver_csv:
        name = Path(str(silver_csv.get("file"))).name
        lines.append(f"| export | `{name}` | {_rows(silver_csv.get('rows'))} |")
    for path, rows in result.get("exports", {}).items():
        lines.append(f"| export | `{Path(path).name}` | {_rows(rows)} |")
    scored = result.get("model")
    if scored is not None:
        lines.append("")
        lines.append(
            f"Scored by the risk model v{scored['version']} (`{scored['model']}`) "
            "and the rules."
            if scored.get("model")
            else "Scored by the rules alone: no risk model yet "
            "(`python -m flows.train` makes one)."
        )
    detection = result.get("detection", [])
    if detection:
        lines += [
            "",
            "## Rules against the planted fraud",
            "",
            "| rule | flagged | precision | recall |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {r['rule']} | {r['flagged']:,} | {r['precision']:.3f} "
            f"| {r['recall']:.3f} |"
            for r in detection
        ]
    lines += [
        "",
        "The **silver-gold-refresh** subflow run (tab *Subflow Runs*) holds the "
        "`run-summary`, `top-anomalies` and `detection-report` artifacts.",
    ]
    return "\n".join(lines) + "\n"


@task(name="publish-pipeline-summary", cache_policy=NO_CACHE)
async def publish_pipeline_summary(
    settings: Settings, result: Mapping[str, Any]
) -> None:
    """The pipeline run's own artifact, so its page is not empty."""
    await acreate_markdown_artifact(
        markdown=pipeline_summary(settings, result),
        key="pipeline-summary",
        description="Rows per stage of this medallion run.",
    )


def gold_files(settings: Settings) -> dict[str, tuple[Path, str]]:
    """Artifact key -> (file, what it holds) for every Gold output a user opens."""
    paths = settings.paths
    return {
        "gold-anomalies-file": (
            paths.gold_anomalies_csv,
            "Every non-Normal row, for Google Sheets / Looker Studio.",
        ),
        "gold-customer-risk-file": (
            paths.gold_customer_csv,
            "One row per customer: activity, flags per rule, risk score.",
        ),
        "gold-bairro-daily-file": (
            paths.gold_bairro_daily_csv,
            "Transactions, amount and anomalies per bairro and local day.",
        ),
        "detection-report-file": (
            paths.detection_report_csv,
            "Each rule's precision, recall and F1 against the planted fraud.",
        ),
    }


@task(name="publish-gold-links", cache_policy=NO_CACHE)
async def publish_gold_links(settings: Settings) -> None:
    """A link per Gold file, so the run page says where the results are."""
    logger = get_run_logger()
    for key, (path, description) in gold_files(settings).items():
        if not path.exists():
            logger.warning("%s was not written; no link published", path)
            continue
        await acreate_link_artifact(
            link=path.resolve().as_uri(),
            link_text=path.name,
            key=key,
            description=description,
        )
