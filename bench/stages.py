"""The pipeline's stages, timed through the functions the Prefect tasks call.

Shared by the benchmarks (``bench.benchmark`` for one engine against bare
``sqlite3``, ``bench.engines`` for the engines side by side and the growth
curve): every stage runs in the order, and with the overlap, of
``flows/medallion.py`` and ``flows/silver_gold.py``, so the total is what a
run costs without Prefect's own work (its server, the task runs).

Each stage reports wall and CPU seconds and its own peak resident memory:
Linux lets a process reset its high-water mark (``/proc/self/clear_refs``),
so the peak of the report is not hidden behind the generator's. Stages that
overlap share one peak, and their CPU is the process's, so it is not split.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ssa.engines import open_warehouse
from ssa.generator import Dataset, generate_chunks
from ssa.models import FINAL_MODEL
from ssa.settings import Settings
from tasks import bronze, dashboard, gold, report, silver

# ~66.5 transactions per customer in a 30-day month at the default rates:
# 15,150 customers make 1,007,802 rows at the default seed.
DEFAULT_CUSTOMERS = 15_150
ROWS_PER_CUSTOMER_MONTH = 66.5
SIDE_BY_SIDE = "  = all, side by side"

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class Stage:
    name: str
    rows: int
    wall: float
    cpu: float | None  # process CPU; None where stages overlapped
    peak_rss: int | None = None  # bytes; None where not measurable apart
    overlapped: bool = False  # ran beside other stages (the Silver CSV export)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Run:
    """One pass of the pipeline: its stages, total wall time, process peak."""

    stages: list[Stage]
    wall: float
    peak_rss: int

    def to_json(self) -> dict[str, Any]:
        return {
            "stages": [s.to_json() for s in self.stages],
            "wall": self.wall,
            "peak_rss": self.peak_rss,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        return cls([Stage(**s) for s in data["stages"]], data["wall"], data["peak_rss"])


def customers_for(rows: int) -> int:
    """Customers whose 30-day month makes about ``rows`` transactions."""
    return max(1, round(rows / ROWS_PER_CUSTOMER_MONTH))


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _high_water_mark() -> int | None:
    """The peak RSS since the last reset (VmHWM), where Linux tells it."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_high_water_mark() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def timed(
    name: str,
    fn: Callable[[], Any],
    rows: Callable[[Any], int],
    alone: bool = True,
) -> Stage:
    """One stage: wall, CPU and, when it runs ``alone``, its own peak RSS
    (beside another stage the counters are the process's: left out)."""
    separate = alone and _reset_high_water_mark()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return Stage(
        name,
        rows(result),
        time.perf_counter() - wall,
        time.process_time() - cpu if alone else None,
        _high_water_mark() if separate else None,
        overlapped=not alone,
    )


class _ClockedChunks:
    """The generator's chunks, timed apart from the load that consumes them
    (they interleave: chunk, load, chunk...), each side's peak RSS its own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.generate = Stage("generate", 0, 0.0, 0.0)
        self.load = Stage("bronze load", 0, 0.0, 0.0)
        self.separate = _reset_high_water_mark()

    def _peak(self, stage: Stage) -> None:
        if self.separate:
            stage.peak_rss = max(stage.peak_rss or 0, _high_water_mark() or 0)
            _reset_high_water_mark()

    def __iter__(self) -> Iterator[Dataset]:
        for chunk in _timed_iter(generate_chunks(self.settings), self.generate):
            self.generate.rows += len(chunk.transactions)
            self._peak(self.generate)
            yield chunk
            self._peak(self.load)  # the load of that chunk


def _timed_iter(items: Iterator[Any], stage: Stage) -> Iterator[Any]:
    """Each ``next`` timed into ``stage`` (wall and CPU)."""
    while True:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            item = next(items)
        except StopIteration:
            return
        finally:
            stage.wall += time.perf_counter() - wall
            stage.cpu = (stage.cpu or 0.0) + time.process_time() - cpu
        yield item


def generate_and_load(settings: Settings) -> list[Stage]:
    """Generation and the Bronze load, streamed chunk by chunk as the flow's
    task runs them, as two stages."""
    chunks = _ClockedChunks(settings)
    wall, cpu = time.perf_counter(), time.process_time()
    loaded = bronze._load(chunks, settings)
    chunks._peak(chunks.load)
    load = chunks.load
    load.wall = time.perf_counter() - wall - chunks.generate.wall
    load.cpu = time.process_time() - cpu - (chunks.generate.cpu or 0.0)
    load.rows = loaded["bronze_transactions"]
    return [chunks.generate, load]


def run_pipeline(
    settings: Settings,
    after_bronze: Callable[[], None] | None = None,
    progress: Callable[[Stage], None] | None = None,
) -> Run:
    """Every stage once. ``after_bronze`` runs untimed between the load and
    Silver (the SQLite benchmark copies Bronze aside there); ``progress``
    hears of each stage as it ends."""
    say = progress or (lambda _: None)
    start = time.perf_counter()
    # Every stage's rows are the month's transactions, so rows/s compare.
    stages = generate_and_load(settings)
    for stage in stages:
        say(stage)
    pipeline_wall = time.perf_counter() - start
    if after_bronze is not None:
        after_bronze()
    resumed = time.perf_counter()
    stages.append(
        timed(
            "silver",
            lambda: silver._build(settings, None),
            lambda r: r[1][FINAL_MODEL],
        )
    )
    say(stages[-1])
    silver_rows = stages[-1].rows

    # As in flows/silver_gold.py after a full build: the Silver CSV export
    # starts at once and runs beside everything after it.
    def gold_side() -> list[Stage]:
        found: dict[str, Any] = {}

        def evaluate() -> int:
            found["report"] = report._evaluate(settings)
            return silver_rows

        def gold_build() -> int:
            gold._score(settings, False)
            gold._build(settings)
            return silver_rows

        return [
            timed("gold", gold_build, int, alone=False),
            timed(
                "gold export",
                lambda: gold._export(settings),
                lambda _: silver_rows,
                alone=False,
            ),
            timed("report", evaluate, int, alone=False),
            timed(
                "dashboard",
                lambda: dashboard._write(settings, found["report"]),
                lambda _: silver_rows,
                alone=False,
            ),
        ]

    separate = _reset_high_water_mark()
    with ThreadPoolExecutor(max_workers=2) as pool:
        wall, cpu = time.perf_counter(), time.process_time()
        csv_run = pool.submit(
            timed, "silver export", lambda: silver._export(settings), int, False
        )
        gold_run = pool.submit(gold_side)
        side_by_side = [csv_run.result(), *gold_run.result()]
        pair = Stage(
            SIDE_BY_SIDE,
            0,
            time.perf_counter() - wall,
            time.process_time() - cpu,
            _high_water_mark() if separate else None,
        )
    stages.extend(side_by_side)
    stages.append(pair)
    for stage in (*side_by_side, pair):
        say(stage)
    stages.append(
        timed("checkpoint", lambda: open_warehouse(settings).checkpoint(), lambda _: 0)
    )
    say(stages[-1])
    pipeline_wall += time.perf_counter() - resumed
    # Resetting the high-water mark resets the process's own peak too: the
    # run's peak is the largest stage's.
    peaks = [s.peak_rss for s in stages if s.peak_rss is not None]
    return Run(stages, pipeline_wall, max(peaks) if peaks else peak_rss_bytes())


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())
