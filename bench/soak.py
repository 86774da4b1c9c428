"""Soak benchmark: the live simulator against the live watcher, rate by rate.

For each rate, a fresh SQLite warehouse, the real watcher (``python -m
flows.watcher``, in-process mode, default settings) and the simulator in this
process streaming for ``--duration`` seconds; then a wait (at most
``--drain`` seconds) for the watcher to catch up. Prints per rate: batches
and transactions emitted, rows loaded into Bronze, rows quarantined, the lag
from each file's rename into ``incoming/`` to the refresh that put its rows
in Gold (recorded in ``ingestion_refresh`` after Gold's tables and exports
are written; p50, p95, max), refreshes run, the watcher's peak RSS, and
whether the emitted count equals Bronze's new rows batch by batch. Last, the
highest rate held with p95 lag <= 10 s.

    python -m bench.soak                                  # 100, 1k, 5k tx/s, 2 min each
    python -m bench.soak --rates 100 1000 --duration 30 --drain 60

One Prefect server (a temporary one, as a watcher without PREFECT_API_URL
starts) serves every watcher of the run, so its start-up is paid once. The
watched folder runs on SQLite only: its incremental refresh is not built for
DuckDB yet, so there is no DuckDB row. Timings on a shared machine are noisy;
nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import psutil
from tabulate import tabulate

from ssa.generator.live_stream import Batch, LiveStream
from ssa.generator.simulator import RunSummary, Simulator
from ssa.settings import Settings

TARGET_P95_LAG_S = 10.0
WATCHER_START_TIMEOUT_S = 180.0
RSS_SAMPLE_S = 0.5
DUCKDB_NOTE = (
    "DuckDB: not measured. The watcher runs it, but this soak reads the "
    "warehouse while the watcher writes, and a DuckDB file opens in one "
    "process at a time."
)


@dataclass
class RateResult:
    rate: float
    summary: RunSummary
    loaded: int
    quarantined: int
    lags: list[float]  # per batch; inf: not in Gold when the drain ended
    refreshes: int
    watcher_rss_mb: float
    simulator_rss_mb: float
    mismatched_batches: list[str]
    duration: float

    def row(self) -> list[str]:
        done = [x for x in self.lags if math.isfinite(x)]
        late = len(self.lags) - len(done)
        p50, p95, top = (
            np.percentile(self.lags, [50, 95, 100], method="higher")
            if self.lags
            else (0, 0, 0)
        )
        return [
            f"{self.rate:,.0f}",
            f"{self.summary.rows / self.duration:,.0f}",
            f"{len(self.summary.batches):,}",
            f"{self.summary.rows:,}",
            f"{self.loaded:,}",
            f"{self.quarantined:,}",
            _seconds(p50),
            _seconds(p95),
            _seconds(top) + (f" ({late} not in Gold)" if late else ""),
            f"{self.refreshes:,}",
            f"{self.watcher_rss_mb:,.0f}",
            f"{self.simulator_rss_mb:,.0f}",
            "yes"
            if not self.mismatched_batches
            else f"NO: {len(self.mismatched_batches)} batches differ",
        ]

    @property
    def p95(self) -> float:
        if not self.lags:
            return math.inf
        return float(np.percentile(self.lags, 95, method="higher"))


HEADERS = [
    "rate tx/s",
    "emitted tx/s",
    "files",
    "emitted",
    "loaded",
    "quarantined",
    "lag p50 s",
    "lag p95 s",
    "lag max s",
    "refreshes",
    "watcher peak RSS MB",
    "simulator RSS MB",
    "emitted = Bronze, by batch",
]


def _seconds(value: float) -> str:
    return f"{value:.1f}" if math.isfinite(value) else "never"


def settings_for(data_dir: Path, rate: float, duration: float) -> Settings:
    """Default settings at this rate, started early enough that the whole
    run's simulated time lies in the past (the watcher rejects future rows)."""
    base = Settings(
        paths={"data_dir": data_dir},
        simulation={"rate": rate, "duration_seconds": duration},
    )
    speed = LiveStream(base).speed
    days_needed = math.ceil(duration * speed / 86_400) + 2
    start = date.today() - timedelta(days=days_needed)
    return Settings(
        paths={"data_dir": data_dir},
        simulation={"rate": rate, "duration_seconds": duration, "start": start},
    )


class WatcherProcess:
    """``python -m flows.watcher`` on a data folder, its RSS sampled."""

    def __init__(self, data_dir: Path, api_url: str, log: Path) -> None:
        self.log = log
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PREFECT_API_URL": api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flows.watcher", "--data-dir", str(data_dir)],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.peak_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def wait_watching(self) -> None:
        deadline = time.monotonic() + WATCHER_START_TIMEOUT_S
        while "watching" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the watcher did not start; see {self.log}")
            time.sleep(0.2)
        self._sampler.start()

    def _sample(self) -> None:
        process = psutil.Process(self.proc.pid)
        while not self._stop.wait(RSS_SAMPLE_S):
            try:
                self.peak_rss = max(self.peak_rss, process.memory_info().rss)
            except psutil.NoSuchProcess:
                return

    def stop(self) -> None:
        self._stop.set()
        if self._sampler.is_alive():
            self._sampler.join()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def _query(settings: Settings, sql: str) -> list[tuple]:
    path = settings.warehouse_path
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=30) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise


def _caught_up(settings: Settings, batches: list[Batch]) -> bool:
    """Every batch logged, and a refresh recorded up to the last log entry."""
    rows = _query(
        settings,
        "select (select count(*) from ingestion_log where file_name like 'live-%' "
        "and file_name not like '%.labels.csv'), "
        "(select max(log_seq) from ingestion_log), "
        "(select max(up_to_log_seq) from ingestion_refresh)",
    )
    if not rows:
        return False
    logged, last, refreshed = rows[0]
    return logged >= len(batches) and last is not None and refreshed == last


def measure(
    settings: Settings, summary: RunSummary
) -> tuple[int, int, list[float], int, list[str]]:
    """Loaded, quarantined, lag per batch, refreshes, mismatched batches."""
    log = {
        name: (seq, loaded, batch_id)
        for name, seq, loaded, batch_id in _query(
            settings,
            "select file_name, log_seq, rows_loaded, batch_id from ingestion_log "
            "where file_name not like '%.labels.csv'",
        )
    }
    refreshes = sorted(
        (up_to, datetime.fromisoformat(finished).timestamp())
        for up_to, finished in _query(
            settings, "select up_to_log_seq, finished_at from ingestion_refresh"
        )
    )
    per_batch = dict(
        _query(
            settings,
            "select batch_id, count(*) from bronze_transactions group by batch_id",
        )
    )
    quarantined = _query(
        settings,
        "select coalesce(sum(rows_rejected), 0) + coalesce(sum(case when "
        "status = 'quarantined' then 1 else 0 end), 0) from ingestion_log",
    )[0][0]
    lags, mismatched = [], []
    for batch in summary.batches:
        seq, loaded, batch_id = log.get(batch.name, (None, 0, None))
        if loaded != batch.rows or per_batch.get(batch_id, 0) != batch.rows:
            mismatched.append(batch.name)
        done = [t for up_to, t in refreshes if seq is not None and up_to >= seq]
        lags.append(min(done) - batch.renamed_at if done else math.inf)
    loaded = sum(per_batch.values())
    return loaded, quarantined, lags, len(refreshes), mismatched


def soak_rate(
    rate: float, duration: float, drain: float, api_url: str, work: Path
) -> RateResult:
    data_dir = work / f"rate-{rate:g}"
    settings = settings_for(data_dir, rate, duration)
    settings.paths.incoming_path.mkdir(parents=True)
    watcher = WatcherProcess(data_dir, api_url, work / f"watcher-{rate:g}.log")
    simulator_peak = [0]
    stop_sampling = threading.Event()

    def sample_self() -> None:
        me = psutil.Process()
        while not stop_sampling.wait(RSS_SAMPLE_S):
            simulator_peak[0] = max(simulator_peak[0], me.memory_info().rss)

    sampler = threading.Thread(target=sample_self, daemon=True)
    try:
        watcher.wait_watching()
        print(
            f"  {rate:,.0f} tx/s: streaming {duration:g} s from "
            f"{settings.simulation.start} ...",
            flush=True,
        )
        sampler.start()
        summary = asyncio.run(Simulator(settings).run(asyncio.Event()))
        stop_sampling.set()
        sampler.join()
        deadline = time.monotonic() + drain
        while not _caught_up(settings, summary.batches):
            if time.monotonic() > deadline:
                print(f"  not caught up {drain:g} s after the stream ended")
                break
            time.sleep(0.5)
    finally:
        stop_sampling.set()
        watcher.stop()
    loaded, quarantined, lags, refreshes, mismatched = measure(settings, summary)
    result = RateResult(
        rate=rate,
        summary=summary,
        loaded=loaded,
        quarantined=quarantined,
        lags=lags,
        refreshes=refreshes,
        watcher_rss_mb=watcher.peak_rss / 2**20,
        simulator_rss_mb=simulator_peak[0] / 2**20,
        mismatched_batches=mismatched,
        duration=duration,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[100.0, 1_000.0, 5_000.0]
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
    results = []
    with tempfile.TemporaryDirectory(prefix="ssa-soak-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            for rate in args.rates:
                results.append(
                    soak_rate(rate, args.duration, args.drain, server.api_url, work)
                )
        finally:
            server.stop()
    print()
    print(tabulate([r.row() for r in results], headers=HEADERS, disable_numparse=True))
    held = [r.rate for r in results if r.p95 <= TARGET_P95_LAG_S]
    best = f"{max(held):,.0f} tx/s" if held else "none of the rates"
    print(
        f"\nhighest rate held with p95 lag <= {TARGET_P95_LAG_S:.0f} s: {best} "
        f"(SQLite, {os.cpu_count()} cores, {args.duration:g} s per rate)"
    )
    print(DUCKDB_NOTE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
