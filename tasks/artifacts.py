"""Artifacts for the run a person launched: summary, findings, where the files are.

The Silver/Gold subflow computes the detection report and writes the
dashboard; the launched run (the daily pipeline, a refresh after drops)
publishes them, so the page a person opens from the deployment holds them.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect.artifacts import acreate_image_artifact, acreate_markdown_artifact

from ssa.settings import REPO_ROOT, Settings
from tasks.report import publish_artifacts


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
    bronze = dict(result.get("bronze", {}))
    replaced = bronze.pop("replaced_transactions", 0)
    if replaced:
        lines.append(
            f"| Bronze (deleted: the earlier synthetic month) | "
            f"`bronze_transactions` | {_rows(replaced)} |"
        )
    for table, rows in bronze.items():
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
            else "Scored by the rules and the anomaly score (no labels needed): "
            "no risk model yet "
            "(`python -m flows.train` makes one)."
        )
    # Without labels (a folder of unlabelled exports) the report lists only
    # what each rule could judge: no figures to show here.
    detection = [r for r in result.get("detection", []) if "flagged" in r]
    if detection:
        lines += [
            "",
            "## Rules against the labels",
            "",
            "| rule | labels | flagged | precision | recall |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {r['rule']} | {r['label_set']} | {r['flagged']:,} "
            f"| {r['precision']:.3f} | {r['recall']:.3f} |"
            for r in detection
        ]
    lines += [
        "",
        f"Dashboard: `{_shown(settings.paths.dashboard_html)}` (open it in a "
        "browser on this machine). This run's `run-summary`, `top-anomalies`, "
        "`detection-report` and `dashboard` artifacts have the details.",
    ]
    return "\n".join(lines) + "\n"


async def publish_pipeline_summary(
    settings: Settings, result: Mapping[str, Any]
) -> None:
    """Rows per stage, on the pipeline run itself (a coroutine, as above)."""
    await acreate_markdown_artifact(
        markdown=pipeline_summary(settings, result),
        key="pipeline-summary",
        description="Rows per stage of this medallion run.",
    )


def gold_files(settings: Settings) -> dict[Path, str]:
    """Every file a person opens after a run, and what it holds."""
    paths = settings.paths
    return {
        paths.dashboard_html: "The dashboard: map of the bairros, charts, "
        "top anomalies and the detection report. Opens offline; as "
        "dashboard.html#ao-vivo it follows each refresh.",
        paths.gold_anomalies_csv: "Every flagged row, the columns people read first.",
        paths.gold_sheets_csv: "The same rows for Google Sheets / Looker "
        "Studio (README, 'Spreadsheets').",
        paths.gold_customer_csv: "One row per customer: activity, flags per "
        "rule, risk score.",
        paths.gold_bairro_daily_csv: "Transactions, amount and anomalies per "
        "bairro and local day.",
        paths.detection_report_csv: "Each rule against the known fraud.",
    }


def files_markdown(settings: Settings) -> str:
    """Where the results are, said plainly: the Prefect UI cannot open a file
    on the machine that ran the flow (a file:// link from it is dead)."""
    lines = [
        "# Files written by this run",
        "",
        "On the machine that ran the flow, in the project folder. Open the "
        "dashboard in a browser there (double-click it, or `xdg-open` / "
        "`open` it); the CSV files open in any spreadsheet.",
        "",
        "| file | size | what it holds |",
        "|---|---:|---|",
    ]
    for path, what in gold_files(settings).items():
        size = f"{path.stat().st_size / 1e6:,.1f} MB" if path.exists() else "—"
        lines.append(f"| `{_shown(path)}` | {size} | {what} |")
    return "\n".join(lines) + "\n"


def _shown(path: Path) -> str:
    """A path relative to the project when it is inside it."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


async def publish_headline(settings: Settings, refreshed: Mapping[str, Any]) -> None:
    """The run summary, top anomalies, detection report, a picture of the
    dashboard and where the files are, on the run that calls this.

    A plain coroutine, not a task: awaited in the flow a person launched, the
    artifacts belong to that run itself, not to a task or subflow of it.
    """
    await publish_artifacts.fn(settings, refreshed["report"])
    dashboard = refreshed.get("dashboard") or {}
    if dashboard.get("png"):
        await acreate_image_artifact(
            image_url="data:image/png;base64,"
            + base64.b64encode(dashboard["png"]).decode("ascii"),
            key="dashboard",
            description=(
                "Map and daily chart of "
                if dashboard.get("bairros_with_data")
                else "Daily and hour charts (no row has a bairro: no map) of "
            )
            + f"`{_shown(settings.paths.dashboard_html)}`"
            " (the page itself has the tables and tooltips).",
        )
    chart = await asyncio.to_thread(_pr_png, refreshed["report"])
    if chart:
        await acreate_image_artifact(
            image_url="data:image/png;base64,"
            + base64.b64encode(chart).decode("ascii"),
            key="precision-recall",
            description=f"{refreshed['report']['pr_chart_title']}: the Gold "
            "score, each of its voices and the two baselines (the "
            "detection report's ranking table has the figures).",
        )
    await acreate_markdown_artifact(
        markdown=files_markdown(settings),
        key="output-files",
        description="Where this run's results are.",
    )


def _pr_png(report: Mapping[str, Any]) -> bytes | None:
    # Imported here: Altair's import is paid only by runs that draw.
    from ssa.report import pr_chart

    curves = report.get("curves")
    if curves is None or curves.empty:
        return None
    return pr_chart.png(curves, report["pr_chart_title"])


def public_result(refreshed: Mapping[str, Any]) -> dict[str, Any]:
    """A flow's return value without the report's frames and the PNG bytes."""
    out = {k: v for k, v in refreshed.items() if k != "report"}
    if "dashboard" in out:
        out["dashboard"] = {k: v for k, v in out["dashboard"].items() if k != "png"}
    return out
