"""The medallion pipeline: synthetic Salvador month -> Bronze -> Silver -> Gold.

Run it with ``python -m flows.medallion`` (no Prefect server needed: Prefect
starts a temporary one) or as the ``medallion-pipeline`` deployment.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from prefect import flow
from pydantic import ValidationError

from flows.silver_gold import silver_gold_refresh
from ssa import engine
from ssa.cli import (
    add_data_dir_option,
    add_engine_option,
    add_generator_options,
    settings_from,
)
from ssa.settings import Settings
from tasks.artifacts import publish_pipeline_summary
from tasks.bronze import generate_transactions, load_bronze


@flow(
    name="medallion-pipeline",
    flow_run_name="medallion-seed{settings.generator.seed}",
)
async def medallion_pipeline(settings: Settings | None = None) -> dict[str, Any]:
    """Bronze from the generator, then the shared Silver/Gold refresh."""
    settings = settings or Settings()
    engine.check_data_folder(settings)
    dataset = await generate_transactions(settings)
    bronze = await load_bronze(dataset, settings)
    refreshed = await silver_gold_refresh(settings)
    result = {"bronze": bronze, **refreshed}
    await publish_pipeline_summary(settings, result)
    return result


def parse_settings(argv: list[str]) -> Settings:
    """The few knobs worth a flag; everything else has its settings default."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_generator_options(parser)
    add_data_dir_option(parser)
    add_engine_option(parser)
    return settings_from(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv)
    except ValidationError as exc:
        print(f"invalid settings:\n{exc}", file=sys.stderr)
        return 2
    result = asyncio.run(medallion_pipeline(settings))
    print(
        f"Done: {result['silver']['rows']:,} Silver rows, "
        f"{result['exports'][str(settings.paths.gold_anomalies_csv)]:,} anomalies -> "
        f"{settings.paths.gold_anomalies_csv}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
