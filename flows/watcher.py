"""The watched folder, headless: every CSV dropped in data/incoming lands in
Bronze and refreshes Silver/Gold.

    python -m flows.watcher                  # in-process (no server needed)
    python -m flows.watcher --mode prefect   # emit events for a deployment

In-process, the watcher runs the ``incoming-refresh`` flow itself after each
burst of drops. In Prefect mode it still ingests each file (one writer on the
warehouse), then emits events: one per file, and one
``ssa.incoming.refresh-requested`` per burst, which a deployment trigger in
``prefect.yaml`` turns into an ``incoming-refresh`` run. SIGINT or SIGTERM
stops it cleanly: the file being read and the refresh running finish first.
A second watcher on the same folder is refused in one line before it starts
anything; a temporary Prefect server started for this watcher stops with it,
even when it is killed with ``kill -9``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, Literal

from prefect import flow, get_run_logger
from pydantic import ValidationError

from ssa.cli import (
    add_data_dir_option,
    add_engine_option,
    add_set_option,
    parser_for,
    refusal,
    settings_from,
    with_folder_engine,
)
from ssa.engines import (
    WarehouseError,
    check_data_folder,
    open_warehouse,
)
from ssa.intake.ingest import IngestResult, quarantine_file
from ssa.intake.ingest_log import PendingRefresh
from ssa.intake.watcher import FolderBusyError, Refresh, Watcher
from ssa.process_guard import Guard, stop_with_me
from ssa.settings import Settings

logger = logging.getLogger("ssa.intake.watcher")

Mode = Literal["in-process", "prefect"]
FILE_EVENTS = {
    "loaded": "ssa.incoming.file-ingested",
    "duplicate_file": "ssa.incoming.file-skipped",
    "quarantined": "ssa.incoming.file-quarantined",
}
REFRESH_EVENT = "ssa.incoming.refresh-requested"
Emit = Callable[..., Any]


def in_process_refresh(settings: Settings) -> Refresh:
    """Run the incoming-refresh flow for the pending loads, in this process."""
    from flows.ingest import incoming_refresh

    def refresh(pending: PendingRefresh) -> None:
        result = asyncio.run(
            incoming_refresh(
                settings,
                pending.after_log_seq,
                pending.up_to_log_seq,
                files=", ".join(pending.files),  # for the run's name
            )
        )
        logger.info(
            "Silver/Gold refreshed: %s files, %s customers touched, %s alerts",
            result["files"],
            result["customers"],
            result["exports"][str(settings.paths.gold_anomalies_csv)],
        )

    return refresh


@flow(name="watcher-started")
async def watcher_started(folder: str) -> None:
    """A record in the UI of each in-process watcher start. Running it also
    pays, before any drop, what a process's first flow run costs more than
    the next ones."""
    get_run_logger().info("watcher started on %s; refreshes run in its process", folder)


def warm_up_prefect(settings: Settings) -> None:
    """Reach the Prefect API now rather than at the first drop: without
    PREFECT_API_URL this starts Prefect's temporary server (up to 40 s on 2
    cores), which then serves every refresh of this process."""
    from prefect.client.orchestration import get_client

    async def healthcheck() -> Exception | None:
        async with get_client() as client:
            return await client.api_healthcheck()

    problem = asyncio.run(healthcheck())
    if problem is not None:
        logger.warning("Prefect API not reachable yet: %s", problem)
        return
    asyncio.run(watcher_started(str(settings.paths.incoming_path)))


def guard_temporary_server() -> Guard | None:
    """Without PREFECT_API_URL, Prefect runs a temporary server as a child
    of this process and stops it at exit; a watcher killed with ``kill -9``
    never exits, so a guard stops the server then (ssa/process_guard.py)."""
    if _prefect_api_url():
        return None  # the stack's server: not ours to stop
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer().server_process
    if server is None or server.poll() is not None:
        return None
    return stop_with_me(server.pid, "temporary Prefect server")


def file_event(result: IngestResult) -> dict[str, Any]:
    """One event per file handled; the resource is the file's content."""
    return {
        "event": FILE_EVENTS[result.status],
        "resource": {
            "prefect.resource.id": f"ssa.drop.{result.sha256}",
            "prefect.resource.name": result.file_name,
        },
        "payload": {
            **result.as_dict(),
            "quarantine_file": quarantine_file(result.as_dict()),
        },
    }


def run_settings(settings: Settings) -> dict[str, Any]:
    """The watcher's settings as the on-drop run's ``settings`` and ``paths``
    parameters, as ``prefect deployment run --param`` would give them: what
    ``--set`` and the flags chose, so the run started by the event judges
    the drops with the thresholds the watcher was given, not the defaults.
    The engine goes apart (the run's ``engine`` parameter); the data folder
    is absolute, the worker may run elsewhere."""
    paths = settings.paths.model_dump(mode="json", exclude_unset=True)
    return {
        "settings": settings.model_dump(
            mode="json", exclude_unset=True, exclude={"paths", "engine"}
        ),
        "paths": {**paths, "data_dir": str(settings.paths.data_path)},
    }


def refresh_event(pending: PendingRefresh, settings: Settings) -> dict[str, Any]:
    """One event per burst: the parameters of the incoming-refresh run."""
    return {
        "event": REFRESH_EVENT,
        "resource": {
            "prefect.resource.id": "ssa.incoming",
            "prefect.resource.name": str(settings.paths.incoming_path),
        },
        "payload": {
            "after_log_seq": pending.after_log_seq,
            "up_to_log_seq": pending.up_to_log_seq,
            "files": list(pending.files),
            "rows_loaded": pending.rows_loaded,
            "data_dir": str(settings.paths.data_path),
            "engine": settings.engine,
            **run_settings(settings),
        },
    }


def build_watcher(
    settings: Settings, mode: Mode = "in-process", emit: Emit | None = None
) -> Watcher:
    """The watcher wired for a mode; ``emit`` defaults to Prefect's."""
    if mode == "in-process":
        return Watcher(settings, in_process_refresh(settings))
    if emit is None:
        from prefect.events import emit_event as emit

    def on_result(result: IngestResult) -> None:
        emit(**file_event(result))

    def refresh(pending: PendingRefresh) -> None:
        emit(**refresh_event(pending, settings))
        logger.info(
            "emitted %s for %d file(s) (log_seq %d..%d)",
            REFRESH_EVENT,
            len(pending.files),
            pending.after_log_seq + 1,
            pending.up_to_log_seq,
        )

    # A warehouse one process at a time may open is the refresh run's: the
    # watcher stages each file for it instead of loading it here.
    stage_only = not open_warehouse(settings).capabilities.shared_writers
    return Watcher(settings, refresh, on_result=on_result, stage_only=stage_only)


def parse_args(argv: list[str]) -> tuple[Settings, Mode]:
    parser = parser_for(__doc__)
    parser.add_argument(
        "--mode",
        choices=("in-process", "prefect"),
        default="in-process",
        help="refresh here (default) or emit Prefect events for a deployment",
    )
    add_data_dir_option(parser)
    add_set_option(parser)
    add_engine_option(parser)
    parser.add_argument("--incoming", help="watched folder (default data/incoming)")
    args = parser.parse_args(argv)
    settings = settings_from(args, incoming_dir=args.incoming)
    return with_folder_engine(settings, args), args.mode


def _prefect_api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call
    # Prefect sets the root logger to WARNING when its first flow runs here;
    # the watcher's own lines stay at INFO.
    logging.getLogger("ssa").setLevel(logging.INFO)
    try:
        settings, mode = parse_args(sys.argv[1:] if argv is None else argv)
    except (ValidationError, ValueError) as exc:
        print(refusal(exc), file=sys.stderr)
        return 2
    try:
        check_data_folder(settings)
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if mode == "prefect" and not _prefect_api_url():
        print(
            "--mode prefect needs a Prefect server: set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api after `prefect server start`)",
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logger.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    watcher = build_watcher(settings, mode)
    try:
        watcher.claim()
    except FolderBusyError as exc:
        print(exc, file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    guard: Guard | None = None
    try:
        if mode == "in-process":
            warm_up_prefect(settings)
            guard = guard_temporary_server()
        watcher.start()
        while not stop.wait(1.0):
            pass
    finally:
        watcher.stop()
        if mode == "prefect":
            from prefect.events.worker import EventsWorker

            EventsWorker.drain_all(timeout=10)
        if guard is not None:
            guard.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
