"""Soak benchmark: the live simulator against the live watcher, engine by
engine and rate by rate.

For each rate and engine, a fresh data folder, the real watcher (``python -m
flows.watcher --engine ...``, in-process mode, default settings) and the
simulator in this process streaming for ``--duration`` seconds; then a wait
(at most ``--drain`` seconds) for the watcher to catch up. Prints one table,
a row per rate and engine: batches and transactions emitted, rows loaded
into Bronze, rows quarantined, the lag from each file's rename into
``incoming/`` to the write of ``gold_anomalies.csv`` by the refresh that
put its rows in Gold (p50, p95, max) and to the end of that refresh (p95),
refreshes run, the watcher's peak RSS, and whether the emitted count equals
Bronze's new rows batch by batch. Last, per engine, the highest rate held
with p95 lag <= 10 s.

    python -m bench.soak                                  # 100, 1k, 5k tx/s, 2 min each
    python -m bench.soak --rates 100 1000 --duration 30 --drain 60 --engines duckdb

Nothing here opens the warehouse while its watcher runs (a DuckDB file
opens in one process at a time), and both engines are measured alike:
while the stream runs, this process only looks at files the refresh
writes (the modification times of ``gold_anomalies.csv``, the file names
in ``dashboard-live.js`` to know when the last batch reached Gold); once
the watcher has stopped, the warehouse's own books (``ingestion_log``: the
log entry of each file; ``ingestion_refresh``: each refresh's range and
times) say which refresh took which file in and how many rows each batch
left in Bronze.

One Prefect server (a temporary one, as a watcher without PREFECT_API_URL
starts) serves every watcher of the run, so its start-up is paid once.
Timings on a shared machine are noisy; nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import get_args

import numpy as np
import psutil
from tabulate import tabulate

from ssa.engines import open_warehouse
from ssa.engines.names import EngineName
from ssa.generator.live_stream import Batch, LiveStream
from ssa.generator.simulator import RunSummary, Simulator
from ssa.settings import Settings

TARGET_P95_LAG_S = 10.0
WATCHER_START_TIMEOUT_S = 180.0
RSS_SAMPLE_S = 0.5
EXPORT_POLL_S = 0.1  # a refresh takes far longer: no write of the export is missed
FEED_POLL_S = 0.5
DEFAULT_ENGINES = ("sqlite", "duckdb")  # the engines the watched folder runs on


@dataclass(frozen=True)
class LogEntry:
    """One file's row of ``ingestion_log``."""

    log_seq: int
    rows_loaded: int
    batch_id: str


@dataclass(frozen=True)
class RefreshEntry:
    """One row of ``ingestion_refresh``, its times as epoch seconds."""

    up_to_log_seq: int
    started: float
    finished: float


@dataclass(frozen=True)
class BatchLag:
    """Seconds from a file's rename to its rows in Gold (inf: never)."""

    to_export: float  # the write of gold_anomalies.csv by that refresh
    to_refresh_end: float  # the refresh recorded (Silver CSV, artifacts done)
    export_seen: bool  # False: that write was not seen, the refresh's end stands in


def batch_lags(
    batches: Sequence[Batch],
    log: Mapping[str, LogEntry],
    refreshes: Iterable[RefreshEntry],
    export_writes: Sequence[float],
) -> list[BatchLag]:
    """Per batch: the first refresh whose range holds its log entry, and the
    write of the Gold export seen while that refresh ran."""
    ordered = sorted(refreshes, key=lambda r: r.finished)
    writes = sorted(export_writes)
    out = []
    for batch in batches:
        entry = log.get(batch.name)
        refresh = next(
            (
                r
                for r in ordered
                if entry is not None and r.up_to_log_seq >= entry.log_seq
            ),
            None,
        )
        if refresh is None:
            out.append(BatchLag(math.inf, math.inf, False))
            continue
        written = next(
            (t for t in writes if refresh.started <= t <= refresh.finished), None
        )
        end = refresh.finished - batch.renamed_at
        out.append(
            BatchLag(
                end if written is None else written - batch.renamed_at,
                end,
                written is not None,
            )
        )
    return out


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "td":
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def feed_files(text: str) -> set[str]:
    """The file names the live feed (``dashboard-live.js``) lists as arrived;
    empty for a feed not written yet or written half (it is replaced whole,
    but a reader may race the first write)."""
    start, end = text.find("("), text.rfind(")")
    try:
        feed = json.loads(text[start + 1 : end])
    except ValueError:
        return set()
    cells = _Cells()
    cells.feed(feed.get("arrivals_html", ""))
    return {c.strip() for c in cells.cells if c.strip().endswith(".csv")}


@dataclass
class SoakResult:
    engine: str
    rate: float
    summary: RunSummary
    loaded: int
    quarantined: int
    lags: list[BatchLag]
    refreshes: int
    watcher_rss_mb: float
    simulator_rss_mb: float
    mismatched_batches: list[str]
    waiting_batches: list[str]
    lost_batches: list[str]
    duration: float

    def _percentiles(self, values: list[float]) -> tuple[float, float, float]:
        if not values:
            return math.inf, math.inf, math.inf
        p50, p95, top = np.percentile(values, [50, 95, 100], method="higher")
        return float(p50), float(p95), float(top)

    @property
    def p95(self) -> float:
        return self._percentiles([lag.to_export for lag in self.lags])[1]

    def row(self) -> list[str]:
        p50, p95, top = self._percentiles([lag.to_export for lag in self.lags])
        end_p95 = self._percentiles([lag.to_refresh_end for lag in self.lags])[1]
        late = sum(1 for lag in self.lags if not math.isfinite(lag.to_export))
        return [
            f"{self.rate:,.0f}",
            self.engine,
            f"{self.summary.rows / self.duration:,.0f}",
            f"{len(self.summary.batches):,}",
            f"{self.summary.rows:,}",
            f"{self.loaded:,}",
            f"{self.quarantined:,}",
            f"{_seconds(p50)} / {_seconds(p95)} / {_seconds(top)}"
            + (f" ({late} not in Gold)" if late else ""),
            _seconds(end_p95),
            f"{self.refreshes:,}",
            f"{self.watcher_rss_mb:,.0f}",
            f"{self.simulator_rss_mb:,.0f}",
            self._nothing_lost(),
        ]

    def _nothing_lost(self) -> str:
        problems = [
            f"{len(names)} {what}"
            for names, what in (
                (self.mismatched_batches, "differ"),
                (self.lost_batches, "lost"),
            )
            if names
        ]
        said = f"NO: {', '.join(problems)}" if problems else "yes"
        if self.waiting_batches:
            said += f" ({len(self.waiting_batches)} not read yet, still in incoming/)"
        return said


HEADERS = [
    "rate tx/s",
    "engine",
    "emitted tx/s",
    "files",
    "emitted",
    "loaded",
    "quarantined",
    "lag to Gold export p50 / p95 / max s",
    "lag to refresh end p95 s",
    "refreshes",
    "watcher peak RSS MB",
    "simulator RSS MB",
    "emitted = Bronze, by batch",
]


def _seconds(value: float) -> str:
    return f"{value:.1f}" if math.isfinite(value) else "never"


def settings_for(data_dir: Path, engine: str, rate: float, duration: float) -> Settings:
    """Default settings at this rate, started early enough that the whole
    run's simulated time lies in the past (the watcher rejects future rows)."""
    base = Settings(
        paths={"data_dir": data_dir},
        engine=engine,
        simulation={"rate": rate, "duration_seconds": duration},
    )
    speed = LiveStream(base).speed
    days_needed = math.ceil(duration * speed / 86_400) + 2
    start = date.today() - timedelta(days=days_needed)
    return Settings(
        paths={"data_dir": data_dir},
        engine=engine,
        simulation={"rate": rate, "duration_seconds": duration, "start": start},
    )


class Sampler:
    """A thread calling ``sample`` every ``period`` seconds until stopped."""

    def __init__(self, period: float, sample: Callable[[], None]) -> None:
        self._period, self._sample = period, sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._sample()

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


class ExportWrites:
    """Every write of one export file, by its modification time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.times: list[float] = []
        self._last: int | None = None

    def sample(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime != self._last:
            self._last = mtime
            self.times.append(mtime / 1e9)


class PeakRss:
    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak = 0

    def sample(self) -> None:
        try:
            self.peak = max(self.peak, self._process.memory_info().rss)
        except psutil.NoSuchProcess:
            return


class WatcherProcess:
    """``python -m flows.watcher`` on a data folder."""

    def __init__(self, settings: Settings, api_url: str, log: Path) -> None:
        self.log = log
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PREFECT_API_URL": api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows.watcher",
                "--data-dir",
                str(settings.paths.data_path),
                "--engine",
                settings.engine,
            ],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def wait_watching(self) -> None:
        deadline = time.monotonic() + WATCHER_START_TIMEOUT_S
        while "watching" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the watcher did not start; see {self.log}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM: the watcher finishes the refresh running, then exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def wait_in_gold(settings: Settings, last: Batch, drain: float) -> bool:
    """Until the live feed a refresh writes lists the last batch: every file
    logged before it is then in Gold (the refresh that wrote the feed holds
    the warehouse; it covers all it lists)."""
    feed = settings.paths.dashboard_live_js
    deadline = time.monotonic() + drain
    while True:
        try:
            if last.name in feed_files(feed.read_text(encoding="utf-8")):
                return True
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(FEED_POLL_S)


def read_books(
    settings: Settings,
) -> tuple[dict[str, LogEntry], list[RefreshEntry], dict[str, int], int]:
    """After the watcher stopped: the ingestion log, the refreshes, Bronze's
    rows per batch, and the rows quarantined."""
    with open_warehouse(settings).transaction() as session:
        log = {
            name: LogEntry(int(seq), int(loaded), batch_id)
            for name, seq, loaded, batch_id in session.fetchall(
                "select file_name, log_seq, rows_loaded, batch_id from ingestion_log "
                "where file_name not like '%.labels.csv'"
            )
        }
        refreshes = [
            RefreshEntry(int(up_to), _epoch(started), _epoch(finished))
            for up_to, started, finished in session.fetchall(
                "select up_to_log_seq, started_at, finished_at from ingestion_refresh"
            )
        ]
        per_batch = {
            batch_id: int(n)
            for batch_id, n in session.fetchall(
                "select batch_id, count(*) from bronze_transactions group by batch_id"
            )
        }
        quarantined = session.fetchall(
            "select coalesce(sum(rows_rejected), 0) + coalesce(sum(case when "
            "status = 'quarantined' then rows_read else 0 end), 0) "
            "from ingestion_log"
        )[0][0]
    return log, refreshes, per_batch, int(quarantined)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def mismatched(
    batches: Sequence[Batch], log: Mapping[str, LogEntry], per_batch: Mapping[str, int]
) -> list[str]:
    """Logged batches whose emitted rows differ from what the log says was
    loaded or from what Bronze holds under the batch's id."""
    out = []
    for batch in batches:
        entry = log.get(batch.name)
        if entry is None:
            continue
        if (
            entry.rows_loaded != batch.rows
            or per_batch.get(entry.batch_id) != batch.rows
        ):
            out.append(batch.name)
    return out


def unread(
    batches: Sequence[Batch], log: Mapping[str, LogEntry], incoming: Path
) -> tuple[list[str], list[str]]:
    """Batches the watcher never logged: still in the folder when it stopped
    (not read yet, a restart takes them), or gone (lost)."""
    waiting, lost = [], []
    for batch in batches:
        if batch.name not in log:
            (waiting if (incoming / batch.name).is_file() else lost).append(batch.name)
    return waiting, lost


def soak_one(
    engine: str, rate: float, duration: float, drain: float, api_url: str, work: Path
) -> SoakResult:
    label = f"{engine}-{rate:g}"
    settings = settings_for(work / label, engine, rate, duration)
    settings.paths.incoming_path.mkdir(parents=True)
    watcher = WatcherProcess(settings, api_url, work / f"watcher-{label}.log")
    writes = ExportWrites(settings.paths.gold_anomalies_csv)
    samplers: list[Sampler] = []
    rss, me = None, PeakRss(os.getpid())
    try:
        watcher.wait_watching()
        rss = PeakRss(watcher.proc.pid)
        samplers = [
            Sampler(RSS_SAMPLE_S, rss.sample).start(),
            Sampler(RSS_SAMPLE_S, me.sample).start(),
            Sampler(EXPORT_POLL_S, writes.sample).start(),
        ]
        print(
            f"  {engine} {rate:,.0f} tx/s: streaming {duration:g} s from "
            f"{settings.simulation.start} ...",
            flush=True,
        )
        summary = asyncio.run(Simulator(settings).run(asyncio.Event()))
        if summary.batches and not wait_in_gold(settings, summary.batches[-1], drain):
            print(f"  not caught up {drain:g} s after the stream ended", flush=True)
    finally:
        watcher.stop()
        for sampler in samplers:
            sampler.stop()
    log, refreshes, per_batch, quarantined = read_books(settings)
    new_rows = {b.name for b in summary.batches}
    waiting, lost = unread(summary.batches, log, settings.paths.incoming_path)
    return SoakResult(
        engine=engine,
        rate=rate,
        summary=summary,
        loaded=sum(
            per_batch.get(e.batch_id, 0) for name, e in log.items() if name in new_rows
        ),
        quarantined=quarantined,
        lags=batch_lags(summary.batches, log, refreshes, writes.times),
        refreshes=len(refreshes),
        watcher_rss_mb=(rss.peak if rss else 0) / 2**20,
        simulator_rss_mb=me.peak / 2**20,
        mismatched_batches=mismatched(summary.batches, log, per_batch),
        waiting_batches=waiting,
        lost_batches=lost,
        duration=duration,
    )


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[100.0, 1_000.0, 5_000.0]
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=get_args(EngineName),
        default=list(DEFAULT_ENGINES),
        help="engines to soak, each rate on each (default: sqlite duckdb)",
    )
    parser.add_argument(
        "--duration", type=float, default=120.0, help="seconds per rate"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=120.0,
        help="seconds to wait for the watcher to catch up after each stream",
    )
    parser.add_argument("--keep", help="folder to keep the warehouses and logs in")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    print("starting a Prefect server for the watchers ...", flush=True)
    server.start(timeout=int(WATCHER_START_TIMEOUT_S))
    results, loads = [], [f"start {load_average()}"]
    with tempfile.TemporaryDirectory(prefix="ssa-soak-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            # Engines alternate within a rate, so each pair meets a like load.
            for rate in args.rates:
                for engine in args.engines:
                    results.append(
                        soak_one(
                            engine,
                            rate,
                            args.duration,
                            args.drain,
                            server.api_url,
                            work,
                        )
                    )
                    loads.append(f"{engine} {rate:g}: {load_average()}")
        finally:
            server.stop()
    print()
    print(tabulate([r.row() for r in results], headers=HEADERS, disable_numparse=True))
    for engine in args.engines:
        held = [
            r.rate for r in results if r.engine == engine and r.p95 <= TARGET_P95_LAG_S
        ]
        best = f"{max(held):,.0f} tx/s" if held else "none of the rates"
        print(
            f"{engine}: highest rate held with p95 lag <= "
            f"{TARGET_P95_LAG_S:.0f} s: {best}"
        )
    unseen = sum(
        not lag.export_seen
        for r in results
        for lag in r.lags
        if math.isfinite(lag.to_export)
    )
    if unseen:
        print(f"{unseen} batches: export write not seen, the refresh's end stands in")
    print(
        f"{os.cpu_count()} cores, {args.duration:g} s per rate; load average "
        f"(1, 5, 15 min) after each: " + "; ".join(loads)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
