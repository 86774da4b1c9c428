"""Train the risk model on the warehouse's labelled rows.

Run it with ``python -m flows.train`` once the warehouse has Silver (after
``python -m flows.medallion`` or a drop), or as the ``train-risk-model``
deployment. Labels come from reported fraud and the generator's planted
ground truth (``--labels``); the model is judged on a later period than it
learnt from and saved as the next version under ``data/models/``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime
from typing import Any

from prefect import flow, runtime
from pydantic import ValidationError

from flows.console import say_server_start
from flows.naming import run_stamp
from ssa.cli import (
    add_data_dir_option,
    add_engine_option,
    add_set_option,
    refusal,
    settings_from,
    with_folder_engine,
)
from ssa.engines import WarehouseError, check_data_folder, following_folder
from ssa.engines.names import EngineName
from ssa.risk.risk_model import ModelError
from ssa.risk.training import chance_warning, comparison_line, preflight
from ssa.settings import (
    ModelSettings,
    PathSettings,
    Settings,
    evaluation_start_from,
    with_groups,
)
from tasks.train import publish_model_report, train_model


def _run_name() -> str:
    params = runtime.flow_run.parameters
    settings = with_groups(params.get("settings"), model=params.get("model"))
    return f"train · {settings.model.label_source} labels · {run_stamp(settings)}"


@flow(name="train-risk-model", flow_run_name=_run_name)
async def train_risk_model(
    settings: Settings | None = None,
    model: ModelSettings | None = None,
    paths: PathSettings | None = None,
    engine: EngineName | None = None,
) -> dict[str, Any]:
    """Fit, judge on the held-back period, save; the figures as artifacts.

    Args:
        settings: Everything else: leave empty for the defaults of
            ssa/settings.py.
        model: What to learn from (label source), the time split and the
            booster's knobs.
        paths: The data folder whose warehouse it reads and whose models/
            it writes.
        engine: Its engine; empty: the engine of the warehouse it holds.
    """
    settings = with_groups(settings, model=model, paths=paths, engine=engine)
    if engine is None:
        settings = following_folder(settings)
    result = await train_model(settings)
    await publish_model_report(result)
    saved = result["model"]
    return {
        "model_file": str(result["path"]),
        "version": saved["version"],
        "windows": saved["windows"],
        "metrics": saved["metrics"],
        "warning": chance_warning(saved),
    }


def _evaluation_start(text: str) -> date | datetime:
    """``--evaluation-start`` read as the setting reads it; a refusal in its
    own words."""
    try:
        return evaluation_start_from(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_settings(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_option(parser)
    add_set_option(parser)
    add_engine_option(parser)
    parser.add_argument(
        "--labels",
        choices=("reported", "synthetic", "all"),
        help="which labels to learn from (default all)",
    )
    parser.add_argument(
        "--evaluation-start",
        type=_evaluation_start,
        help="start of the period held back for evaluation: a local day "
        "(YYYY-MM-DD, from its midnight) or a local time (YYYY-MM-DDTHH:MM, "
        "an offset such as -03:00 honoured); default the last quarter of the "
        "labelled span, at an hour where it is a day or two long",
    )
    args = parser.parse_args(argv)
    base = with_folder_engine(settings_from(args), args)
    model = {
        key: value
        for key, value in (
            ("label_source", args.labels),
            ("evaluation_start", args.evaluation_start),
        )
        if value is not None
    }
    return Settings.model_validate(
        {**base.model_dump(), "model": {**base.model.model_dump(), **model}}
    )


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv)
    except (ValidationError, ValueError) as exc:
        print(refusal(exc), file=sys.stderr)
        return 2
    try:
        # Checked before Prefect starts: a refusal is one line, not a
        # failed flow run's traceback.
        check_data_folder(settings)
        preflight(settings)
    except (ModelError, WarehouseError) as exc:
        print(f"cannot train: {exc}", file=sys.stderr)
        return 1
    say_server_start()
    try:
        result = asyncio.run(train_risk_model(settings))
    except (ModelError, WarehouseError) as exc:
        print(f"cannot train: {exc}", file=sys.stderr)
        return 1
    print(
        f"Model v{result['version']} -> {result['model_file']}; "
        + comparison_line(result)
    )
    if result["warning"]:
        print(f"Warning: {result['warning']}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
