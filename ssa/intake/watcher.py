"""Watch the incoming folder: ingest each complete drop, refresh once per burst.

Three threads, one job each:

- watchdog's observer hands every created, modified, closed or moved-in CSV
  to the intake (``DropHandler`` only passes the path on);
- the intake thread waits until a file is complete (renamed in: at once;
  written in place: size and mtime unchanged for ``stable_seconds``), then
  ingests files one by one, in arrival order;
- an ``EventDebouncer`` turns the loads of a burst into one refresh: the
  intake signals it when it has nothing left to read, and the refresh reads
  what is pending from the warehouse's ingestion log, so 50 files dropped at
  once give one Silver/Gold run.

Ingestion and refresh share one lock, so two writers never meet on the
SQLite file ("database is locked"). Nothing here knows Prefect: the refresh
and the per-file hook are callables given to ``Watcher`` (``flows/watcher.py``
passes the Prefect subflow, or an event emitter).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from watchdog.events import FileSystemEvent, PatternMatchingEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.utils.event_debouncer import EventDebouncer

from ssa.engines import open_warehouse
from ssa.intake import ingest_log
from ssa.intake.ingest import IngestResult, ingest_file, source_of
from ssa.intake.ingest_log import PendingRefresh
from ssa.intake.source_mapping import LABELS_FOLDER, SourceError, load_source
from ssa.intake.staging import stage, staged_files, staged_root
from ssa.intake.validation import bairro_index
from ssa.settings import Settings

logger = logging.getLogger("ssa.intake.watcher")

# watchdog 7 matches patterns against the absolute path: "*.csv" never
# matches, "**/*.csv" does.
PATTERNS = ["**/*.csv"]
IGNORE_PATTERNS = ["**/.*", "**/~$*", "**/*.part", "**/*.tmp"]
IGNORED_PREFIXES = (".", "~$")
LOCK_NAME = ".watcher.lock"  # a dot-file: never taken for a drop
MAX_BACKOFF_DOUBLINGS = 5  # a failing file or refresh: at most 32x retry_seconds
KEEP_LAST = 10_000  # results and refreshes kept for inspection (tests, debugging)

Ingest = Callable[[Path], IngestResult]
Refresh = Callable[[PendingRefresh], None]


def is_drop(path: Path) -> bool:
    """A CSV that is not hidden, an Office lock file or a partial download."""
    name = path.name
    return name.lower().endswith(".csv") and not name.startswith(IGNORED_PREFIXES)


def _is_source_folder(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(IGNORED_PREFIXES)


def in_reach(path: Path, folder: Path) -> bool:
    """At the top of the watched folder, in one of its source folders, or in
    a source's reports folder (``<source>/labels/``): deeper files are not
    drops (ssa/intake/ingest.source_of)."""
    parent = path.parent
    if parent == folder:
        return True
    if parent.name.startswith(IGNORED_PREFIXES):
        return False
    if parent.parent == folder:
        return True
    return _is_reports_folder(parent, folder)


def _is_reports_folder(path: Path, folder: Path) -> bool:
    """``incoming/<source>/labels``: a source's reported fraud."""
    source = path.parent
    return (
        path.name == LABELS_FOLDER
        and source.parent == folder
        and source.name != LABELS_FOLDER
        and not source.name.startswith(IGNORED_PREFIXES)
    )


class DropHandler(PatternMatchingEventHandler):
    """Hands each candidate drop to ``offer(path, renamed)``; nothing more.

    ``ignore_policy="all"``: a rename from ``x.csv.part`` to ``x.csv`` must
    pass although its source path is ignored (the default policy drops any
    event that touches an ignored path).
    """

    def __init__(self, offer: Callable[[Path, bool], None]) -> None:
        super().__init__(
            patterns=PATTERNS,
            ignore_patterns=IGNORE_PATTERNS,
            ignore_directories=True,
            ignore_policy="all",
        )
        self._offer = offer

    def _hand_on(self, raw: bytes | str, renamed: bool) -> None:
        path = Path(raw if isinstance(raw, str) else raw.decode())
        if is_drop(path):
            self._offer(path, renamed)

    def on_created(self, event: FileSystemEvent) -> None:
        self._hand_on(event.src_path, False)

    def on_modified(self, event: FileSystemEvent) -> None:
        self._hand_on(event.src_path, False)

    def on_closed(self, event: FileSystemEvent) -> None:
        self._hand_on(event.src_path, False)

    def on_moved(self, event: FileSystemEvent) -> None:
        self._hand_on(event.dest_path, True)


@dataclass
class Settling:
    """A file seen in the folder, not read yet: is it complete?"""

    renamed: bool
    order: int
    signature: tuple[int, int] | None = None
    since: float = 0.0
    not_before: float = 0.0
    failures: int = 0

    def is_complete(
        self, size: int, mtime: float, now: float, wall: float, stable: float
    ) -> bool:
        """Renamed in: yes. Written in place: unchanged for ``stable`` seconds.

        The first look accepts a file whose mtime is already that old (left
        in the folder while the watcher was down).
        """
        if self.renamed:
            return True
        signature = (size, int(mtime * 1e9))
        if signature != self.signature:
            first_look = self.signature is None
            self.signature, self.since = signature, now
            return first_look and wall - mtime >= stable
        return now - self.since >= stable


@dataclass
class _State:
    """What the intake and the refresh share, under one condition."""

    settling: dict[Path, Settling] = field(default_factory=dict)
    reading: int = 0
    arrivals: int = 0
    refresh_due: float | None = None
    waiting_since: float | None = None
    handed_off_log_seq: int = 0
    refresh_failures: int = 0


class Watcher:
    """The watched folder, as a start/stop object (a context manager too)."""

    def __init__(
        self,
        settings: Settings,
        refresh: Refresh,
        *,
        ingest: Ingest | None = None,
        on_result: Callable[[IngestResult], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        stage_only: bool = False,
    ) -> None:
        """``stage_only``: hand each complete file to the refresh run instead
        of loading it (``ssa.intake.staging``), for a warehouse that one
        process at a time may open; ``refresh`` then hears of the staged
        files, with no range of the ingestion log."""
        self.settings = settings
        self.folder = settings.paths.incoming_path
        self._refresh = refresh
        if ingest is None:
            index = bairro_index(settings.paths.resolve(settings.paths.bairros_csv))

            def ingest(path: Path) -> IngestResult:
                source = source_of(path, self.folder)
                return ingest_file(path, settings, source=source, bairros=index)

        self._ingest = ingest
        self._stage_only = stage_only
        self._on_result = on_result
        self._clock = clock
        self._state = _State()
        self._cond = threading.Condition()
        self._warehouse_lock = threading.Lock()
        self._stopping = threading.Event()
        self._observer: BaseObserver | None = None  # its inotify thread starts at once
        self._intake = threading.Thread(
            target=self._run_intake, name="ssa-watcher-intake", daemon=True
        )
        self._debouncer = EventDebouncer(
            settings.ingest.debounce_seconds, self._on_debounced
        )
        self._debouncer.name = "ssa-watcher-refresh"
        self._lock_file: IO[bytes] | None = None
        # Held while watching so that steps do not checkpoint the WAL as
        # they close (Warehouse.keep_open); opened once the warehouse exists.
        self._warehouse = open_warehouse(settings)
        self._held: ExitStack | None = None
        self.results: deque[IngestResult] = deque(maxlen=KEEP_LAST)
        self.refreshes: deque[PendingRefresh] = deque(maxlen=KEEP_LAST)

    # -- lifecycle ---------------------------------------------------------

    def claim(self) -> Watcher:
        """Take the folder's lock, or raise FolderBusyError: before anything
        slow, so that a second watcher is refused at once."""
        if self._lock_file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock_file = _lock_folder(self.folder)
            self._make_source_folders()
        return self

    def _make_source_folders(self) -> None:
        """A folder for reported fraud and one per source mapping (with its
        ``labels/`` where the mapping says how its reports read), so that a
        user drops another system's export where it belongs without having
        to make the folder first."""
        sources = self.settings.paths.sources_path
        names = [LABELS_FOLDER]
        names += sorted(p.stem for p in sources.glob("*.yaml"))
        for name in names:
            (self.folder / name).mkdir(exist_ok=True)
        # A mapping that cannot load quarantines each file dropped for it:
        # said now, an operator fixes it before the first export arrives.
        for name in names[1:]:
            try:
                if load_source(name, sources).mapping.reports is not None:
                    (self.folder / name / LABELS_FOLDER).mkdir(exist_ok=True)
            except SourceError as exc:
                logger.warning(
                    "files dropped into %s will be quarantined until the "
                    "mapping loads: %s",
                    self.folder / name,
                    exc,
                )

    def start(self) -> Watcher:
        """Watch first, then list what is already there: nothing slips by."""
        self.claim()
        try:
            self._debouncer.start()
            self._intake.start()
            self._observer = Observer()
            self._observer.name = "ssa-watcher-observer"
            # Recursive, as inotify watches each folder it finds: one level
            # down, incoming/<source>/ holds another system's exports and
            # incoming/labels/ reported fraud; two levels down,
            # incoming/<source>/labels/ that source's reports
            # (ssa/intake/ingest.source_of); in_reach drops the rest.
            self._observer.schedule(
                DropHandler(self.offer), str(self.folder), recursive=True
            )
            self._observer.start()
        except BaseException:
            self.stop()
            raise
        with self._warehouse_lock:
            self._hold_warehouse()
        for path in _existing_drops(self.folder):
            self.offer(path, renamed=False)
        if self._pending() is not None:
            logger.info("loads from an earlier run wait for a refresh")
            with self._cond:
                self._state.refresh_due = self._clock()
                self._state.waiting_since = self._clock()
                self._cond.notify_all()
        logger.info("watching %s", self.folder)
        return self

    def stop(self) -> None:
        """Finish the file being read and the refresh running, then return.

        Loads not refreshed yet stay pending in the ingestion log; the next
        start refreshes them.
        """
        self._stopping.set()
        if self._observer is not None:
            quiet = _QuietEmitterShutdown()
            inotify_logger = logging.getLogger("watchdog.observers.inotify")
            inotify_logger.addFilter(quiet)
            try:
                self._observer.stop()
                if self._observer.is_alive():
                    self._observer.join()
            finally:
                inotify_logger.removeFilter(quiet)
            self._observer = None
        with self._cond:
            self._cond.notify_all()
        if self._intake.is_alive():
            self._intake.join()
        if self._debouncer.is_alive():
            self._debouncer.stop()
            self._debouncer.join()
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None
        logger.info("stopped watching %s", self.folder)

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is waiting, being read, or due for refresh."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self._idle() and self._state.refresh_due is None):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    # -- intake ------------------------------------------------------------

    def offer(self, path: Path, renamed: bool) -> None:
        """A candidate drop appeared or changed; the intake will look at it."""
        if not in_reach(path, self.folder):
            return
        with self._cond:
            known = self._state.settling.get(path)
            if known is None:
                self._state.arrivals += 1
                self._state.settling[path] = Settling(
                    renamed=renamed, order=self._state.arrivals
                )
            elif renamed:
                known.renamed = True
            self._cond.notify_all()

    def _run_intake(self) -> None:
        poll = self.settings.ingest.poll_seconds
        rescan = self.settings.ingest.rescan_seconds
        next_scan = self._clock() + rescan
        while not self._stopping.is_set():
            if self._clock() >= next_scan:
                # Events can be lost (queue overflow, network shares): a
                # listing finds what they missed; offer() ignores known files.
                for path in _existing_drops(self.folder):
                    self.offer(path, renamed=False)
                next_scan = self._clock() + rescan
            for path, failures in self._take_complete():
                if self._stopping.is_set():
                    break
                self._read(path, failures)
            self._maybe_signal()
            with self._cond:
                if not self._stopping.is_set():
                    self._cond.wait(poll)

    def _take_complete(self) -> list[tuple[Path, int]]:
        """Complete files in arrival order, moved from settling to reading."""
        now, wall = self._clock(), time.time()
        stable = self.settings.ingest.stable_seconds
        ready: list[tuple[int, Path, int]] = []
        with self._cond:
            for path, settling in list(self._state.settling.items()):
                if now < settling.not_before:
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    del self._state.settling[path]  # moved away or deleted
                    continue
                if settling.is_complete(stat.st_size, stat.st_mtime, now, wall, stable):
                    ready.append((settling.order, path, settling.failures))
            for _, path, _ in ready:
                del self._state.settling[path]
            self._state.reading += len(ready)
        return [(path, failures) for _, path, failures in sorted(ready)]

    def _hold_warehouse(self) -> None:
        """Keep an idle connection once the warehouse exists (under the lock)."""
        if self._held is None and self._warehouse.exists():
            self._held = ExitStack()
            self._held.enter_context(self._warehouse.keep_open())

    def _read(self, path: Path, failures: int) -> None:
        staged = False
        try:
            with self._warehouse_lock:
                if self._stage_only:
                    result = None
                    stage(path, self.folder)
                    staged = True
                else:
                    result = self._ingest(path)
                    self._hold_warehouse()
        except Exception as exc:
            result = None
            if isinstance(exc, FileNotFoundError) and not path.exists():
                logger.warning("%s vanished before it was read", path.name)
            else:
                self._retry_later(path, failures + 1)
        with self._cond:
            self._state.reading -= 1
            if staged or (result is not None and result.rows_loaded > 0):
                now = self._clock()
                self._state.refresh_due = now
                if self._state.waiting_since is None:
                    self._state.waiting_since = now
            self._cond.notify_all()
        if result is not None:
            self.results.append(result)
            if self._on_result is not None:
                try:
                    self._on_result(result)
                except Exception:
                    logger.exception("per-file hook failed for %s", path.name)

    def _retry_later(self, path: Path, failures: int) -> None:
        """The file stays in the folder and is tried again, ever less often."""
        retry = self.settings.ingest.retry_seconds * 2 ** min(
            failures - 1, MAX_BACKOFF_DOUBLINGS
        )
        logger.exception(
            "ingesting %s failed (%d in a row); it stays in the folder, "
            "retry in %.1f s",
            path.name,
            failures,
            retry,
        )
        with self._cond:
            self._state.settling[path] = Settling(
                renamed=True,
                order=0,
                not_before=self._clock() + retry,
                failures=failures,
            )

    def _idle(self) -> bool:
        return not self._state.settling and self._state.reading == 0

    def _overdue(self) -> bool:
        since = self._state.waiting_since
        limit = self.settings.ingest.max_refresh_delay_seconds
        return since is not None and self._clock() - since >= limit

    def _maybe_signal(self) -> None:
        """Wake the debouncer once the folder has nothing left to read."""
        with self._cond:
            due = self._state.refresh_due
            if due is None or self._clock() < due:
                return
            if not (self._idle() or self._overdue()):
                return
            self._state.refresh_due = None
        self._debouncer.handle_event(FileSystemEvent(str(self.folder)))

    # -- refresh -----------------------------------------------------------

    def _pending(self) -> PendingRefresh | None:
        if self._stage_only:
            files = staged_files(self.folder)
            if not files:
                return None
            names = tuple(str(f.relative_to(staged_root(self.folder))) for f in files)
            return PendingRefresh(0, 0, names, 0)
        if not self._warehouse.exists():
            return None
        with self._warehouse.transaction() as session:
            return ingest_log.pending_refresh(session, self._state.handed_off_log_seq)

    def _on_debounced(self, _events: list[FileSystemEvent]) -> None:
        """One refresh for everything loaded since the last one."""
        if self._stopping.is_set():
            return
        with self._cond:
            if not (self._idle() or self._overdue()):
                # More files came in while we waited: the intake signals
                # again when it has read them, and one refresh takes all.
                self._state.refresh_due = self._clock()
                return
        with self._warehouse_lock:
            try:
                pending = self._pending()
                if pending is not None:
                    logger.info(
                        "refreshing Silver/Gold for %d file(s), %d new rows",
                        len(pending.files),
                        pending.rows_loaded,
                    )
                    self._refresh(pending)
            except Exception:
                with self._cond:
                    # A refresh that keeps failing is retried ever less often.
                    failures = self._state.refresh_failures = (
                        self._state.refresh_failures + 1
                    )
                    retry = self.settings.ingest.retry_seconds * 2 ** min(
                        failures - 1, MAX_BACKOFF_DOUBLINGS
                    )
                    self._state.refresh_due = self._clock() + retry
                    self._cond.notify_all()
                logger.exception(
                    "refresh failed (%d in a row); retry in %.1f s", failures, retry
                )
                return
        with self._cond:
            if pending is not None:
                self._state.handed_off_log_seq = pending.up_to_log_seq
                self.refreshes.append(pending)
            self._state.waiting_since = None
            self._state.refresh_failures = 0
            self._cond.notify_all()


class FolderBusyError(RuntimeError):
    """Another watcher already watches this folder."""


def _lock_folder(folder: Path) -> IO[bytes]:
    """One watcher per folder: two would race to read and move the same file."""
    handle = (folder / LOCK_NAME).open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise FolderBusyError(
            f"another watcher is already watching {folder} "
            f"(it holds {folder / LOCK_NAME})"
        ) from None
    return handle


class _QuietEmitterShutdown(logging.Filter):
    """watchdog 7 logs an ERROR when its inotify thread reads once more while
    stopping (gorakhargosh/watchdog#963); it is harmless, so not shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


def _existing_drops(folder: Path) -> list[Path]:
    """Files left in the folder, its source folders and their reports
    folders, oldest first (the order they were dropped)."""
    found = []
    sources = [p for p in folder.iterdir() if _is_source_folder(p)]
    reports = [s / LABELS_FOLDER for s in sources]
    folders = [folder, *sources, *(r for r in reports if _is_reports_folder(r, folder))]
    folders = [f for f in folders if f.is_dir()]
    for path in (path for f in folders for path in f.iterdir()):
        try:
            if path.is_file() and is_drop(path):
                found.append((path.stat().st_mtime, path.name, path))
        except FileNotFoundError:
            continue
    return [path for _, _, path in sorted(found)]
