"""Command-line options shared by the entry points, turned into Settings.

Every command that builds a Settings from flags (the pipeline, the drop
maker, the ingester, the watcher) takes the same flags the same way.
"""

from __future__ import annotations

import argparse
from typing import Any

from ssa.settings import Settings

# flag -> GeneratorSettings field
GENERATOR_FLAGS = {"customers": "n_customers", "days": "days", "seed": "seed"}


def add_generator_options(
    parser: argparse.ArgumentParser, days_help: str = "days to simulate"
) -> None:
    parser.add_argument("--customers", type=int, help="number of customers")
    parser.add_argument("--days", type=int, help=days_help)
    parser.add_argument("--seed", type=int, help="random seed")


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder for the warehouse and exports")


def add_engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=("sqlite", "duckdb"),
        help="warehouse engine (default sqlite; duckdb for big months)",
    )


def settings_from(args: argparse.Namespace, **paths: Any) -> Settings:
    """Settings from the parsed flags; a flag left out keeps its default.

    Raises pydantic's ValidationError, naming the field, on a bad value.
    """
    generator = {
        field: getattr(args, flag)
        for flag, field in GENERATOR_FLAGS.items()
        if getattr(args, flag, None) is not None
    }
    if getattr(args, "data_dir", None):
        paths["data_dir"] = args.data_dir
    paths = {k: v for k, v in paths.items() if v}
    engine = {"engine": args.engine} if getattr(args, "engine", None) else {}
    return Settings(generator=generator, paths=paths, **engine)
