"""The medallion pipeline: synthetic Salvador month -> Bronze -> Silver -> Gold.

Run it with ``python -m flows.medallion`` (no Prefect server needed: Prefect
starts a temporary one) or as the ``medallion-pipeline`` deployment.
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
    add_generator_options,
    add_set_option,
    parser_for,
    preflight,
    settings_from,
)
from ssa.engines import check_data_folder
from ssa.engines.names import DEFAULT_ENGINE, EngineName
from ssa.settings import (
    GeneratorSettings,
    PathSettings,
    Settings,
    with_groups,
)
from tasks.artifacts import public_result, publish_headline, publish_pipeline_summary
from tasks.bronze import generate_and_load, refuse_exports_folder

# A month takes minutes (README, 'Speed'); a run still going after 4 hours
# is stuck (a lock, a full disk), and the timeout fails it, which the
# failure automation in prefect.yaml reports.
PIPELINE_TIMEOUT_SECONDS = 4 * 3600


def pipeline_run_name() -> str:
    """What the run makes and when: 'daily · seed 42, 30 days from 2026-10-01 ·
    2026-12-01 06:00:02-03:00 #3f2a'."""
    params = runtime.flow_run.parameters
    try:
        settings = with_groups(
            params.get("settings"),
            generator=params.get("generator"),
            paths=params.get("paths"),
            engine=params.get("engine"),
        )
    except ValueError:  # the run itself fails on it, with the message
        return f"medallion · invalid parameters · {run_stamp(Settings())}"
    g = settings.generator
    return (
        f"{origin('medallion')} · seed {g.seed}, {g.days} days from "
        f"{g.start_date:%Y-%m-%d}"
        f"{'' if settings.engine == DEFAULT_ENGINE else f' on {settings.engine}'} · "
        f"{run_stamp(settings)}"
    )


@flow(
    name="medallion-pipeline",
    flow_run_name=pipeline_run_name,
    timeout_seconds=PIPELINE_TIMEOUT_SECONDS,
)
async def medallion_pipeline(
    settings: Settings | None = None,
    generator: GeneratorSettings | None = None,
    paths: PathSettings | None = None,
    engine: EngineName | None = None,
) -> dict[str, Any]:
    """Bronze from the generator, then the shared Silver/Gold refresh.

    Args:
        settings: Everything else (fraud rates, rule thresholds, risk
            weights, exports): leave empty for the defaults of
            ssa/settings.py, each with where it comes from.
        generator: The synthetic month: seed, customers, days, first day.
        paths: The data folder (warehouse and exports) and reference files;
            relative paths are inside the project.
        engine: sqlite (default), duckdb or spark (each its own data
            folder, data/duckdb or data/spark, unless paths gives one).
    """
    settings = with_groups(settings, generator=generator, paths=paths, engine=engine)
    check_data_folder(settings)
    refuse_exports_folder(settings)
    bronze = await generate_and_load(settings)
    refreshed = await silver_gold_refresh(settings)
    await publish_headline(settings, refreshed)
    result = {"bronze": bronze, **public_result(refreshed)}
    await publish_pipeline_summary(settings, result)
    return result


def parse_settings(argv: list[str]) -> Settings:
    """The few knobs worth a flag; everything else has its settings default."""
    parser = parser_for(__doc__)
    add_generator_options(parser)
    add_data_dir_option(parser)
    add_set_option(parser)
    add_engine_option(parser)
    return settings_from(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    def prepare() -> Settings:
        settings = parse_settings(sys.argv[1:] if argv is None else argv)
        preflight(settings)
        refuse_exports_folder(settings)
        return settings

    return run_command(prepare, medallion_pipeline)


if __name__ == "__main__":
    raise SystemExit(main())
