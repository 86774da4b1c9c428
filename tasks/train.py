"""Training tasks: fit the risk model, then show how it did on the run's page."""

from __future__ import annotations

import asyncio
import base64
import math
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import (
    acreate_image_artifact,
    acreate_markdown_artifact,
    acreate_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from ssa.risk import training
from ssa.settings import Settings


@task(name="train-model", cache_policy=NO_CACHE)
async def train_model(settings: Settings) -> dict[str, Any]:
    """One coarse task: read, split, fit, calibrate, evaluate, save."""
    result = await asyncio.to_thread(training.train, settings)
    model = result["model"]
    get_run_logger().info(
        "risk model v%d (%d rounds) saved to %s; %s",
        model["version"],
        model["best_iteration"],
        result["path"],
        training.comparison_line(model),
    )
    if said := training.chance_warning(model):
        get_run_logger().warning(said)
    return result


# The model file's score names, as the chart's legend says them.
CURVE_NAMES = {
    "model": "risk model",
    "rules_only": "rules alone",
    "anomaly_only": "anomaly score alone (no labels)",
    "gold_without_model": "Gold without a model (rules and anomaly score)",
    "gold_with_model": "Gold with this model (rules and model, as probabilities)",
    "baseline_amount_p99": "amount above the 99th percentile",
    "baseline_amount_vs_median": "amount over a multiple of the running median",
}


def _pr_png(model: dict[str, Any]) -> bytes | None:
    # Imported here: Altair's import is paid only when the chart is drawn.
    import pandas as pd

    from ssa.report import pr_chart

    curves = pd.concat(
        [
            pd.DataFrame(points).assign(scorer=CURVE_NAMES.get(name, name))
            for name, points in model.get("curves", {}).items()
        ]
        or [pd.DataFrame()],
        ignore_index=True,
    )
    w = model["windows"]["evaluation"]
    title = f"Risk model v{model.get('version', '?')}: {w['from']} to {w['until']}"
    return pr_chart.png(curves, title)


@task(name="publish-model-report", cache_policy=NO_CACHE)
async def publish_model_report(result: dict[str, Any]) -> None:
    """The model's figures beside the baselines', as markdown and a table."""
    model = result["model"]
    await acreate_markdown_artifact(
        markdown=training.summary_markdown(model, result["path"]),
        key="risk-model",
        description="What the risk model learnt from and how it did on the "
        "held-back period.",
    )
    chart = await asyncio.to_thread(_pr_png, model)
    if chart:
        await acreate_image_artifact(
            image_url="data:image/png;base64," + base64.b64encode(chart).decode(),
            key="risk-model-precision-recall",
            description="Precision-recall on the held-back period: the model, "
            "the Gold scores that need no model and the two baselines.",
        )
    table = training.metrics_table(model).round(4).reset_index()
    await acreate_table_artifact(
        table=[
            {
                k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in row.items()
            }
            for row in table.to_dict("records")
        ],
        key="risk-model-evaluation",
        description="Model, rules-only score and baselines on the held-back period.",
    )
