"""Drops into Bronze, then Silver/Gold: the flows behind the watched folder.

- ``incoming-refresh``: the refresh after drops. It lists the files loaded
  since the last refresh (an artifact), runs the shared
  ``silver-gold-refresh`` subflow on just the partitions their rows touch
  and records that those loads are now reflected. The watcher runs it
  in-process; in Prefect mode a deployment trigger runs it from the
  watcher's event.
- ``ingest-drops``: ingest given files by hand or from a deployment, then
  the same refresh, as part of its own run: ``python -m flows.ingest
  data/incoming/*.csv``. A path that is not a readable file is reported in
  one line and skipped; the command exits 1 when any path could not be
  ingested.

Either way the run a person launched carries the headline artifacts (run
summary, top anomalies, detection report, the dashboard's picture).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime

from flows.console import alerts_line, say_server_start
from flows.naming import files_shown, origin, run_stamp
from flows.silver_gold import silver_gold_refresh
from ssa.cli import (
    REFUSED,
    add_data_dir_option,
    add_engine_option,
    add_set_option,
    parser_for,
    preflight,
    refusal,
    settings_from,
    with_folder_engine,
)
from ssa.engines import check_data_folder, following_folder
from ssa.engines.names import EngineName
from ssa.intake.drop_paths import split_usable
from ssa.intake.ingest import source_of, summary_line
from ssa.intake.source_mapping import LABELS_FOLDER, load_source, report_folder
from ssa.intake.staging import staged_files, staged_root
from ssa.settings import PathSettings, Settings, with_groups
from tasks.artifacts import public_result, publish_headline
from tasks.ingest import (
    ingest_drop,
    publish_ingestion,
    read_pending,
    read_touched,
    record_refresh,
)

# A refresh after drops takes seconds, a full rebuild minutes (README,
# 'Speed'); half an hour means it is stuck.
REFRESH_TIMEOUT_SECONDS = 30 * 60


def refresh_run_name() -> str:
    """'on-drop · lojas.csv, pix.csv · 2026-12-01 10:15:02-03:00 #3f2a': the files
    the watcher's event names, or 'pending loads' when run by hand."""
    params = runtime.flow_run.parameters
    try:
        settings = with_groups(params.get("settings"), paths=params.get("paths"))
    except ValueError:  # the run itself fails on it, with the message
        settings = Settings()
    shown = files_shown((params.get("files") or "").split(","))
    return f"{origin('refresh')} · {shown or 'pending loads'} · {run_stamp(settings)}"


def ingest_run_name() -> str:
    """'ingest · lote.csv, pix.csv · 2026-12-01 10:15:02-03:00 #3f2a': the
    files given (reported-fraud files after them), like the other runs."""
    params = runtime.flow_run.parameters
    try:
        settings = with_groups(params.get("settings"))
    except ValueError:  # the run itself fails on it, with the message
        settings = Settings()
    given = [*(params.get("paths") or []), *(params.get("labels") or [])]
    shown = files_shown(given) or "no files"
    return f"{origin('ingest')} · {shown} · {run_stamp(settings)}"


async def load_staged(settings: Settings) -> int:
    """Load the files the watcher staged for this run, each as a task; a file
    that fails stays staged (the next run tries it again) and the others go
    on. How many were handled."""
    incoming = settings.paths.incoming_path
    handled = 0
    for path in staged_files(incoming):
        try:
            source = source_of(path, staged_root(incoming))
            await ingest_drop(str(path), settings, source, keep_original=False)
            handled += 1
        except Exception as exc:  # this file only: it stays staged
            get_run_logger().error("staged %s not loaded: %s", path.name, exc)
    return handled


@flow(
    name="incoming-refresh",
    flow_run_name=refresh_run_name,
    log_prints=True,
    timeout_seconds=REFRESH_TIMEOUT_SECONDS,
)
async def incoming_refresh(
    settings: Settings | None = None,
    after_log_seq: int | None = None,
    up_to_log_seq: int | None = None,
    files: str | None = None,
    paths: PathSettings | None = None,
    engine: EngineName | None = None,
) -> dict[str, Any]:
    """Silver/Gold for the loads in (after, up_to]; all pending ones if unset.

    Files the watcher staged for this run (an engine that one process at a
    time may open: ``ssa.intake.staging``) are loaded first; the range is
    then every load still pending.

    Args:
        settings: Everything else (rule thresholds, risk weights, exports):
            leave empty for the defaults of ssa/settings.py.
        after_log_seq: Refresh the loads after this ingestion-log entry; the
            watcher's event gives it. Empty: every load still pending.
        up_to_log_seq: ... up to and including this entry.
        files: The files of those loads, comma-separated, as the watcher's
            event names them (for the run's name; the ingestion log says
            what was loaded).
        paths: The data folder whose warehouse the drops were loaded into.
        engine: Its engine; empty: the engine of the warehouse it holds.
    """
    settings = with_groups(settings, paths=paths, engine=engine)
    if engine is None:
        settings = following_folder(settings)
    check_data_folder(settings)
    if await load_staged(settings):
        after_log_seq = up_to_log_seq = None
    return await refresh_loads(settings, after_log_seq, up_to_log_seq)


async def refresh_loads(
    settings: Settings,
    after_log_seq: int | None = None,
    up_to_log_seq: int | None = None,
) -> dict[str, Any]:
    """Silver/Gold for the loads in (after, up_to], or all pending ones, with
    the headline artifacts and the ingestion record.

    A plain coroutine, not a flow: awaited in ``incoming-refresh`` or in
    ``ingest-drops``, its artifacts land on that run, the one a person
    launched, and its Silver/Gold subflow is a child of it.
    """
    started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    if after_log_seq is None or up_to_log_seq is None:
        pending = await asyncio.to_thread(read_pending, settings)
        if pending is None:
            return {"refreshed": False, "files": 0}
        after_log_seq = pending["after_log_seq"]
        up_to_log_seq = pending["up_to_log_seq"]
    # Read here, not in tasks, so that the subflow starts at once (see
    # tasks/ingest.read_pending); the bookkeeping tasks run after it.
    touched = await asyncio.to_thread(
        read_touched, settings, after_log_seq, up_to_log_seq
    )
    customer_ids: list[str] = touched["customer_ids"]
    loaded = [f for f in touched["files"] if f["status"] == "loaded"]
    others = len(touched["files"]) - len(loaded)
    get_run_logger().info(
        "%d file(s) loaded (%s)%s, %d customers touched (log_seq %d..%d)",
        len(loaded),
        ", ".join(f["file_name"] for f in loaded) or "none",
        f", {others} quarantined or already received" if others else "",
        len(customer_ids),
        after_log_seq + 1,
        up_to_log_seq,
    )
    # Only the partitions the loaded batches touch are recomputed; the
    # engine falls back to a full build when Silver does not exist yet.
    batch_ids = [f["batch_id"] for f in loaded if f["batch_id"]]
    refreshed = await silver_gold_refresh(settings, batch_ids)
    await publish_headline(settings, refreshed)
    await publish_ingestion(touched["files"])
    await record_refresh(
        settings, after_log_seq, up_to_log_seq, len(customer_ids), started_at
    )
    return {
        "refreshed": True,
        "files": len(loaded),
        "files_handled": len(touched["files"]),
        "customers": len(customer_ids),
        "after_log_seq": after_log_seq,
        "up_to_log_seq": up_to_log_seq,
        **public_result(refreshed),
    }


@flow(name="ingest-drops", flow_run_name=ingest_run_name)
async def ingest_drops(
    paths: list[str],
    settings: Settings | None = None,
    refresh: bool = True,
    source: str | None = None,
    labels: list[str] | None = None,
    move: bool = False,
) -> dict[str, Any]:
    """Each file into Bronze (or quarantine), then one Silver/Gold refresh.

    ``source`` names the mapping of the files' layout (``sources/<name>.yaml``);
    without it a file in ``incoming/<name>/`` follows that folder's source and
    any other the native contract. ``labels`` are reported-fraud files: in
    the layout of ``source``'s ``reports`` section when a source is given,
    else in the native labels layout. A file outside the watched folder is
    copied, not moved, unless ``move``.
    A path that is not a readable file, or a file that still fails after
    its retries, is listed under ``problems`` (one line each) and the other
    files go on.
    """
    settings = settings or Settings()
    check_data_folder(settings)
    if source is not None:
        _check_source(source, settings, bool(labels))  # stop before any work
    logger = get_run_logger()
    usable, problems = split_usable(paths)
    usable_labels, label_problems = split_usable(labels or [])
    problems += label_problems
    for problem in problems:
        logger.warning("skipped %s", problem)
    jobs = [(path, source) for path in usable]
    reports = LABELS_FOLDER if source is None else report_folder(source)
    jobs += [(path, reports) for path in usable_labels]
    results = []
    for path, given in jobs:
        inside = _in_incoming(path, settings)
        try:
            if given is None and inside:
                given = source_of(path, settings.paths.incoming_path)
            results.append(
                await ingest_drop(
                    str(path), settings, given, keep_original=not (move or inside)
                )
            )
        except Exception as exc:  # this file only: the others go on
            problems.append(f"{path}: failed ({type(exc).__name__}: {exc})")
            logger.error("%s", problems[-1])
    changed = sum(r["rows_loaded"] for r in results)
    refreshed = await refresh_loads(settings) if refresh and changed else None
    return {
        "files": results,
        "problems": problems,
        "rows_loaded": changed,
        "quarantine_files": [
            r["quarantine_file"] for r in results if r["quarantine_file"]
        ],
        "refresh": refreshed,
    }


def _check_source(source: str, settings: Settings, with_labels: bool) -> None:
    """The source's mapping loads and, given labels files, says how its
    reports read (SourceError naming the file and key otherwise)."""
    loaded = load_source(source, settings.paths.sources_path)
    if with_labels:
        loaded.reports()


def _in_incoming(path: Path, settings: Settings) -> bool:
    incoming = settings.paths.incoming_path.resolve()
    return incoming in path.resolve().parents


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("paths", nargs="*", help="CSV drop files")
    parser.add_argument(
        "--source",
        help="the files' layout: sources/NAME.yaml (default: the folder they "
        "sit in under data/incoming/, else the native contract)",
    )
    parser.add_argument(
        "--labels",
        nargs="+",
        default=[],
        metavar="FILE",
        help="reported-fraud files: transaction_id,is_fraud[,fraud_type,"
        "reported_at], or with --source in the layout of that mapping's reports "
        "section",
    )
    parser.add_argument(
        "--move",
        action="store_true",
        help="move files from outside data/incoming/ into the archive "
        "(default: copy, leaving them where they are)",
    )
    add_data_dir_option(parser)
    add_set_option(parser)
    add_engine_option(parser)
    parser.add_argument(
        "--no-refresh", action="store_true", help="load Bronze only, no Silver/Gold"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.paths and not args.labels:
        parser.error("give CSV files, --labels files, or both")
    try:
        settings = with_folder_engine(settings_from(args), args)
        preflight(settings)
        if args.source is not None:
            _check_source(args.source, settings, bool(args.labels))
    except REFUSED as exc:
        print(refusal(exc), file=sys.stderr)
        return 2
    usable, problems = split_usable([*args.paths, *args.labels])
    if not usable:  # nothing to load: said before any server starts
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    say_server_start()
    result = asyncio.run(
        ingest_drops(
            args.paths,
            settings,
            not args.no_refresh,
            source=args.source,
            labels=args.labels,
            move=args.move,
        )
    )
    for f in result["files"]:
        print(summary_line(f))
    if result["refresh"]:
        print(f"Silver/Gold refreshed: {alerts_line(result['refresh'], settings)}")
    for problem in result["problems"]:
        print(problem, file=sys.stderr)
    return exit_code(result)


def exit_code(result: dict[str, Any]) -> int:
    """1: a path was not a readable file; 3: a file was quarantined whole or
    none of its rows loaded; else 0 (rows refused beside loaded ones are in
    the quarantine its line names). A scheduler wrapping the command tells
    a load from a refusal by it."""
    if result["problems"]:
        return 1
    refused = any(
        f["status"] == "quarantined" or (f["rows_rejected"] and not f["rows_loaded"])
        for f in result["files"]
        if f["status"] != "duplicate_file"
    )
    return 3 if refused else 0


if __name__ == "__main__":
    raise SystemExit(main())
