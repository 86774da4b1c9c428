"""Rebuild Silver and Gold from the Bronze a data folder already holds.

Run it with ``python -m flows.rebuild --data-dir data/cards`` after
``python -m flows.train`` on a folder of your own exports: the new model
scores every row, and the exports, the detection report and the dashboard
follow. Nothing is generated or ingested (``flows.medallion`` would add a
synthetic month; ``flows.ingest`` needs files).
"""

from __future__ import annotations

import sys
from typing import Any

from prefect import flow, runtime

from flows.console import run_command
from flows.naming import origin, run_stamp
from flows.silver_gold import silver_gold_refresh
from ssa.cli import (
    add_data_dir_option,
    add_engine_option,
    add_set_option,
    parser_for,
    preflight,
    settings_from,
    with_folder_engine,
)
from ssa.engines import (
    WarehouseError,
    check_data_folder,
    following_folder,
    open_warehouse,
)
from ssa.engines.names import EngineName
from ssa.settings import PathSettings, Settings, with_groups
from tasks.artifacts import public_result, publish_headline, publish_pipeline_summary

# A full build takes minutes (README, "Speed"): after two hours it is
# stuck, and the failure automation reports it.
REBUILD_TIMEOUT_SECONDS = 2 * 3600


def rebuild_run_name() -> str:
    """'rebuild · /path/data/cards · 2026-12-01 10:15:02-03:00 #3f2a'."""
    params = runtime.flow_run.parameters
    try:
        settings = with_groups(params.get("settings"), paths=params.get("paths"))
    except ValueError:  # the run itself fails on it, with the message
        settings = Settings()
    return f"{origin('rebuild')} · {settings.paths.data_path} · {run_stamp(settings)}"


def require_bronze(settings: Settings) -> None:
    """A folder with nothing to rebuild is refused in one line."""
    warehouse = open_warehouse(settings)
    if not warehouse.exists():
        raise WarehouseError(
            f"no warehouse in {settings.paths.data_path}: ingest files into it "
            "first (python -m flows.ingest --data-dir ...) or run flows.medallion"
        )
    with warehouse.transaction() as session:
        session.require_bronze()


@flow(
    name="silver-gold-rebuild",
    flow_run_name=rebuild_run_name,
    timeout_seconds=REBUILD_TIMEOUT_SECONDS,
)
async def rebuild_silver_gold(
    settings: Settings | None = None,
    paths: PathSettings | None = None,
    engine: EngineName | None = None,
) -> dict[str, Any]:
    """Silver and Gold in full from the folder's Bronze, with the newest risk
    model; the artifacts land on this run, the one a person launched.

    Args:
        settings: Everything else (rule thresholds, risk weights, exports):
            leave empty for the defaults of ssa/settings.py.
        paths: The data folder to rebuild (its warehouse and exports).
        engine: Its engine; empty: the engine of the warehouse it holds.
    """
    settings = with_groups(settings, paths=paths, engine=engine)
    if engine is None:
        settings = following_folder(settings)
    check_data_folder(settings)
    require_bronze(settings)
    refreshed = await silver_gold_refresh(settings)
    await publish_headline(settings, refreshed)
    result = public_result(refreshed)
    await publish_pipeline_summary(settings, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    add_data_dir_option(parser)
    add_set_option(parser)
    add_engine_option(parser)

    def prepare() -> Settings:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        settings = with_folder_engine(settings_from(args), args)
        preflight(settings)
        require_bronze(settings)
        return settings

    return run_command(prepare, rebuild_silver_gold)


if __name__ == "__main__":
    raise SystemExit(main())
