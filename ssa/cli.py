"""Command-line options shared by the entry points, turned into Settings.

Every command that builds a Settings from flags (the pipeline, the drop
maker, the ingester, the watcher) takes the same flags the same way.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, get_args

from pydantic import ValidationError

from ssa.engines import WarehouseError, check_data_folder, following_folder
from ssa.engines.names import DEFAULT_ENGINE, EngineName
from ssa.settings import GeneratorSettings, Settings

# flag -> GeneratorSettings field
GENERATOR_FLAGS = {"customers": "n_customers", "days": "days", "seed": "seed"}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """--help keeps the module docstring's layout and shows each default:
    argparse's own, or the settings default the help text already names (an
    option left out keeps its settings default, so its argparse one is None)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" not in text
            and action.default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


def parser_for(doc: str | None, **kwargs: Any) -> argparse.ArgumentParser:
    """A parser whose --help is the whole first paragraph of ``doc`` (the
    module docstring), the rest as its epilog, with defaults shown."""
    first, _, rest = (doc or "").strip().partition("\n\n")
    return argparse.ArgumentParser(
        description=first, epilog=rest or None, formatter_class=HelpFormatter, **kwargs
    )


def add_generator_options(
    parser: argparse.ArgumentParser, days_help: str = "days to simulate"
) -> None:
    g = GeneratorSettings()
    parser.add_argument(
        "--customers", type=int, help=f"number of customers (default {g.n_customers})"
    )
    parser.add_argument("--days", type=int, help=f"{days_help} (default {g.days})")
    parser.add_argument("--seed", type=int, help=f"random seed (default {g.seed})")


DATA_DIR_HELP = (
    "folder for the warehouse and exports (default data/; an engine "
    "with a folder of its own uses it: data/duckdb or data/spark with "
    "--engine duckdb or spark)"
)


def add_data_dir_option(
    parser: argparse.ArgumentParser, text: str = DATA_DIR_HELP
) -> None:
    """--data-dir; a command without --engine says what the
    folder is to it in ``text``, so its --help names no flag it lacks."""
    parser.add_argument("--data-dir", help=text)


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=setting_override,
        metavar="GROUP.FIELD=VALUE",
        help="any field of ssa/settings.py for this run, repeatable: "
        "--set rules.velocity_min_count=6 --set risk.level_medium=30 "
        "(a number, true/false, or text)",
    )


def setting_override(text: str) -> tuple[tuple[str, ...], Any]:
    """``group.field=value`` as (path, value): JSON where the value reads as
    JSON (numbers, true, false, null, lists), else the text itself."""
    key, sep, raw = text.partition("=")
    path = tuple(key.strip().split("."))
    if not sep or not all(p.isidentifier() for p in path):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected GROUP.FIELD=VALUE, e.g. rules.velocity_min_count=6"
        )
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return path, value


def _nested(overrides: list[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in overrides:
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {'.'.join(path)}: {part} is not a group")
        node[path[-1]] = value
    return out


def add_engine_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=get_args(EngineName),
        help=f"warehouse engine (default {DEFAULT_ENGINE}; duckdb for big "
        "months; spark through Spark Connect: a local server, or "
        "--spark-remote). Commands that add to a data folder follow the "
        "warehouse already there",
    )
    parser.add_argument(
        "--spark-remote",
        metavar="URL",
        help="with --engine spark: the cluster's Spark Connect address, "
        "sc://host:15002 (docs/spark.md); default: a local server for the run",
    )
    parser.add_argument(
        "--spark-schema",
        metavar="NAME",
        help="with --engine spark: the schema (or catalog.schema) of the "
        "tables, created if missing; default: the session's current one",
    )


def one_line(exc: ValidationError) -> str:
    """A refused setting as one line: where, what was wrong, what was given."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "settings"
        given = error.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "no such setting (a typo?)"
        parts.append(f"{where}: {message}{shown}")
    return "invalid setting " + "; ".join(parts)


def preflight(settings: Settings) -> None:
    """What would fail a run, checked before Prefect starts its server.

    Raises ValueError (WarehouseError included) with a one-line message.
    """
    check_data_folder(settings)
    for path in (settings.paths.bairros_csv, settings.paths.bairros_map):
        resolved = settings.paths.resolve(path)
        if not resolved.is_file():
            raise ValueError(f"bairro reference file not found: {resolved}")


REFUSED = (ValidationError, WarehouseError, ValueError)


def refusal(exc: Exception) -> str:
    """The one line a refused command prints."""
    if isinstance(exc, ValidationError):
        return one_line(exc)
    return f"error: {exc}"


def settings_from(args: argparse.Namespace, **paths: Any) -> Settings:
    """Settings from the parsed flags; a flag left out keeps its default.
    ``--set`` fields come first, and the named flags (``--days``,
    ``--data-dir``, ...) over them.

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
    engines = {
        flag: getattr(args, flag)
        for flag in ("spark_remote", "spark_schema")
        if getattr(args, flag, None)
    }
    given = _nested(getattr(args, "overrides", None) or [])
    for group, values in (
        ("generator", generator),
        ("paths", paths),
        ("engines", engines),
    ):
        if values or group in given:
            base = given.get(group, {})
            if not isinstance(base, dict):
                raise ValueError(f"--set {group}: a group takes GROUP.FIELD=VALUE")
            given[group] = {**base, **values}
    return Settings(**{**given, **engine})


def with_folder_engine(settings: Settings, args: argparse.Namespace) -> Settings:
    """For commands that add to a data folder (ingest, watch): the engine of
    the warehouse the folder holds, unless ``--engine`` says otherwise."""
    return settings if getattr(args, "engine", None) else following_folder(settings)
