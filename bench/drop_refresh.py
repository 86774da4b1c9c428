"""Drop-to-dashboard benchmark: how fast a drop reaches the Gold export.

With a warehouse of about a million transactions already refined, times a
10,000-row CSV drop from the moment it lands in ``incoming/`` to the updated
``gold_anomalies.csv``: ingestion (validate, load, file away), the Silver
refresh the flow chooses (the partitions the drop touches, or a full parallel
rebuild when it touches most customers), the Gold build and the Gold export,
in process, through the same functions the watcher's refresh flow calls.
Prints that next to a full Silver/Gold refresh of the same warehouse. Before
that, a first drop goes through the real watcher process (``python -m
flows.watcher``, in-process mode, already watching): from its rename into
``incoming/`` to the new ``gold_anomalies.csv``, which adds the watcher's
wait for a quiet folder (``ingest.debounce_seconds``) and the Prefect flow
run around the same stages.

With ``--stack`` drops also go through the Prefect stack (``scripts/stack.py
up`` on a free port with its own Prefect home, the watcher in Prefect mode on
the benchmark's folder), one after the other (``--stack-drops``, 2): rename
into ``incoming/``, the watcher's event, the ``on-drop`` deployment's
trigger, the warm worker's poll, the flow run in its started process, the
same refresh. The modes are printed side by side, and for each drop through
the stack where its seconds went, from the server's timestamps.

    python -m bench.drop_refresh                  # ~1M rows, 10k-row drop
    python -m bench.drop_refresh --stack          # and through the Prefect stack
    python -m bench.drop_refresh --customers 3000 --rows 2000
    python -m bench.drop_refresh --engine duckdb  # the same drop on DuckDB
    python -m bench.drop_refresh --stack --warehouse /tmp/ssa-1m
        # builds the warehouse in /tmp/ssa-1m once; later runs copy it

Targets (2-core machine): drop to Gold <= 5 s in in-process mode, <= 10 s
through the Prefect stack. Timings on a shared machine are noisy; nothing
here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import get_args

from tabulate import tabulate

from bench import stack_timeline
from flows.make_drop import make_drop
from ssa.engines import open_warehouse
from ssa.engines.names import DEFAULT_ENGINE, EngineName
from ssa.generator import generate
from ssa.intake.ingest import ingest_file
from ssa.models import FINAL_MODEL
from ssa.settings import Settings
from tasks import bronze, gold, silver

TARGET_DROP_TO_GOLD_S = 5.0
TARGET_THROUGH_STACK_S = 10.0
PROJECT = Path(__file__).resolve().parent.parent
# Starting the watcher includes Prefect's temporary server (up to 40 s).
# A drop's wait for the new export: Spark's first drop starts a local server
# and rebuilds whole, minutes on a busy 2-core machine.
DROP_TIMEOUT_S = 900
WATCHER_START_TIMEOUT_S = 180.0
# The longest wait for the on-drop run to end after the Gold CSV (the Silver
# CSV, report, dashboard and artifacts follow it).
STACK_RUN_TAIL_S = 300.0
RSS_SETTLE_S = 2.0
# Each drop is the week after the one before; the generator's stream repeats
# after four weeks.
MAX_WEEKLY_DROPS = 4


def start_watcher(
    settings: Settings, *args: str, env: dict[str, str]
) -> subprocess.Popen[str]:
    """``python -m flows.watcher`` on the benchmark's folder, once it says it
    is watching (its start includes Prefect's temporary server in-process)."""
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.watcher",
            *args,
            "--data-dir",
            str(settings.paths.data_dir),
        ],
        cwd=PROJECT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    watching = threading.Event()

    def read_log() -> None:
        assert watcher.stderr is not None
        for line in watcher.stderr:
            if "watching" in line:
                watching.set()

    threading.Thread(target=read_log, daemon=True).start()
    if not watching.wait(WATCHER_START_TIMEOUT_S):
        stop_watcher(watcher)
        raise RuntimeError("the watcher did not start watching in time")
    return watcher


def stop_watcher(watcher: subprocess.Popen[str]) -> None:
    watcher.send_signal(signal.SIGTERM)
    watcher.wait(timeout=300)


def drop_to_gold_csv(settings: Settings, drop: Path) -> tuple[float, float, float]:
    """Seconds from the drop's rename into ``incoming/`` to a rewritten
    ``gold_anomalies.csv``, and those two moments on the wall clock (epoch
    seconds, to set beside the Prefect server's timestamps)."""
    gold_csv = settings.paths.gold_anomalies_csv
    before = gold_csv.stat().st_mtime_ns
    renamed_at = time.time()
    start = time.perf_counter()
    drop.replace(settings.paths.incoming_path / drop.name)
    while gold_csv.stat().st_mtime_ns == before:
        if time.perf_counter() - start > DROP_TIMEOUT_S:
            raise RuntimeError(
                f"gold_anomalies.csv was not rewritten in {DROP_TIMEOUT_S} s"
            )
        time.sleep(0.01)
    return time.perf_counter() - start, renamed_at, time.time()


def through_watcher(settings: Settings, drop: Path) -> float:
    """The drop with the real watcher (in-process mode) already watching."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    watcher = start_watcher(settings, env=env)
    try:
        return drop_to_gold_csv(settings, drop)[0]
    finally:
        stop_watcher(watcher)


@dataclass(frozen=True)
class StackDrop:
    """One drop through the stack: its seconds, where they went, and the
    warm worker's memory after its run."""

    seconds: float
    timeline: list[list[str]]
    worker_rss: int


def through_stack(settings: Settings, drops: list[Path], home: Path) -> list[StackDrop]:
    """Drops through the local Prefect stack, one after the other: the watcher
    in Prefect mode emits its event, the ``on-drop`` deployment's trigger
    creates a run, the warm worker runs it in its started process. For each,
    the stages' timeline, read back from the server before the stack stops
    (bench/stack_timeline.py)."""
    from scripts.stack import Stack, free_port, running

    stack = Stack(PROJECT, home, free_port())
    script = [sys.executable, "scripts/stack.py"]
    where = ["--home", str(home), "--port", str(stack.port)]
    up = subprocess.run(
        [*script, "up", *where, "--no-watcher"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        if up.returncode != 0:
            raise RuntimeError(f"stack.py up failed:\n{up.stdout}{up.stderr}")
        watcher = start_watcher(settings, "--mode", "prefect", env=stack.child_env())
        try:
            done = []
            for drop in drops:
                seconds, renamed_at, gold_at = drop_to_gold_csv(settings, drop)
                # The run goes on after the CSV (report, dashboard,
                # artifacts): wait for its end, so the timeline has every
                # state, and the next drop has the pool's slot.
                stack_timeline.wait_final(stack.api_url, renamed_at, STACK_RUN_TAIL_S)
                marks = stack_timeline.read_marks(stack.api_url, renamed_at)
                # The worker gives freed memory back just after the run ends.
                time.sleep(RSS_SETTLE_S)
                warm = running(stack, "refresh-worker")
                done.append(
                    StackDrop(
                        seconds,
                        stack_timeline.breakdown(marks, renamed_at, gold_at),
                        warm.memory_info().rss if warm else 0,
                    )
                )
            return done
        finally:
            stop_watcher(watcher)
    finally:
        subprocess.run(
            [*script, "down", "--home", str(home)],
            cwd=PROJECT,
            capture_output=True,
            timeout=300,
        )


# Beside a kept warehouse: what it was built for.
BUILT_FOR = "bench-warehouse.json"


def _built_for(settings: Settings) -> dict[str, object]:
    return {
        "engine": settings.engine,
        "generator": settings.generator.model_dump(mode="json"),
    }


def reusable(folder: Path, settings: Settings) -> bool:
    """The folder holds a warehouse kept by an earlier run with these
    settings; one built for others is an error, not something to overwrite."""
    marker = folder / BUILT_FOR
    if not marker.exists():
        if folder.exists() and any(folder.iterdir()):
            raise SystemExit(
                f"--warehouse {folder}: not empty, and not a warehouse kept here"
            )
        return False
    built = json.loads(marker.read_text(encoding="utf-8"))
    if built != _built_for(settings):
        raise SystemExit(
            f"--warehouse {folder} was built for {built}, not {_built_for(settings)}:"
            " give another folder or remove it"
        )
    return True


def keep(data_dir: Path, folder: Path, settings: Settings) -> None:
    """A copy of the freshly built data folder, for the next runs."""
    print(f"keeping the warehouse in {folder} ...")
    shutil.copytree(data_dir, folder, dirs_exist_ok=True)
    (folder / BUILT_FOR).write_text(
        json.dumps(_built_for(settings), indent=2), encoding="utf-8"
    )


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=15_150)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--no-watcher", action="store_true", help="skip the real watcher run"
    )
    parser.add_argument(
        "--engine",
        choices=get_args(EngineName),
        default=DEFAULT_ENGINE,
        help="the warehouse engine (the watcher follows the folder's)",
    )
    parser.add_argument(
        "--stack",
        action="store_true",
        help="also drops through the local Prefect stack (deployment trigger, "
        "warm worker, flow run)",
    )
    parser.add_argument(
        "--stack-drops",
        type=int,
        default=2,
        help="drops through the stack, one after the other: the first is the "
        "warm worker's first run, the next ones its usual (default 2)",
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        metavar="DIR",
        help="keep the built warehouse in DIR and, when DIR already holds one "
        "built for the same --customers and --engine, start from a copy of it "
        "instead of building (minutes at 1M rows); the drops go to the copy",
    )
    args = parser.parse_args(argv)
    drops = (0 if args.no_watcher else 1) + (args.stack_drops if args.stack else 0)
    if drops + 1 > MAX_WEEKLY_DROPS:
        parser.error(
            f"{drops + 1} weekly drops: at most {MAX_WEEKLY_DROPS} (the "
            "generator's content repeats every four weeks, so a fifth drop "
            "repeats the first one's transactions and loads them as duplicates)"
        )
    with tempfile.TemporaryDirectory(prefix="ssa-drop-") as tmp:
        settings = Settings(
            engine=args.engine,
            paths={"data_dir": Path(tmp)},
            generator={"n_customers": args.customers, "n_merchants": 3_000},
        )
        full_silver = full_gold = None
        if args.warehouse is not None and reusable(args.warehouse, settings):
            print(f"copying the warehouse built in {args.warehouse} ...")
            shutil.copytree(args.warehouse, tmp, dirs_exist_ok=True)
            (Path(tmp) / BUILT_FOR).unlink()
        else:
            print("building the warehouse (generate, load, full Silver/Gold) ...")
            bronze._load(generate(settings), settings)
            _, full_silver = _timed(lambda: silver._build(settings, None))
            _, full_gold = _timed(
                lambda: (gold._build(settings), gold._export(settings))
            )
            if args.warehouse is not None:
                keep(Path(tmp), args.warehouse, settings)
        with open_warehouse(settings).transaction() as session:
            total = session.fetchall("select count(*) from bronze_transactions")[0]
        # The drops: the same customers, the weeks after the month (late
        # exports). The first goes through the real watcher process.
        start = settings.generator.start_date + timedelta(days=settings.generator.days)
        staging = Path(tmp) / "staging"
        watcher_s = None
        if not args.no_watcher:
            print("starting the watcher (python -m flows.watcher) ...")
            watched = make_drop(settings, args.rows, staging / "watched", start=start)
            watcher_s = through_watcher(settings, watched)
            start += timedelta(days=7)
        stacked: list[StackDrop] = []
        if args.stack and not open_warehouse(settings).capabilities.shared_writers:
            print(f"--stack skipped: {args.engine} has one process at a time")
        elif args.stack:
            print("starting the Prefect stack (scripts/stack.py up) ...")
            staged = []
            for i in range(args.stack_drops):
                folder = staging / f"stack-{i + 1}"
                staged.append(make_drop(settings, args.rows, folder, start=start))
                start += timedelta(days=7)
            stacked = through_stack(settings, staged, Path(tmp) / "prefect-home")
        drop = make_drop(settings, args.rows, staging, start=start)
        landed = settings.paths.data_path / "incoming" / drop.name
        landed.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        drop.replace(landed)  # the atomic rename the drop convention asks for
        result, ingest_s = _timed(lambda: ingest_file(landed, settings))
        # What the refresh flow does: incremental unless the drop touches
        # more than ingest.incremental_max_customer_share of the customers,
        # and Gold the same way as Silver.
        (mode, replaced), silver_s = _timed(
            lambda: silver._build(settings, [result.batch_id])
        )
        _, gold_s = _timed(
            lambda: gold._build(settings, incremental=mode == "incremental")
        )
        _, export_s = _timed(lambda: gold._export(settings))
        drop_to_gold = time.perf_counter() - t0
        with open_warehouse(settings).transaction() as session:
            touched, customers = session.fetchall(
                "select count(distinct case when batch_id = ? then customer_id "
                "end), count(distinct customer_id) from bronze_transactions",
                (result.batch_id,),
            )[0]
        share = touched / customers

    rows = [
        ["warehouse before the drop (Bronze rows)", f"{total[0]:,}", ""],
        [
            "drop file rows (loaded)",
            f"{result.rows_read:,} ({result.rows_loaded:,})",
            "",
        ],
        ["ingest: validate, load, file away", "", f"{ingest_s:.2f}"],
        ["customers the drop touches", f"{share:.1%}", ""],
        [
            f"Silver refresh, {mode} (rows recomputed)",
            f"{replaced[FINAL_MODEL]:,}",
            f"{silver_s:.2f}",
        ],
        [f"Gold build, {mode}", "", f"{gold_s:.2f}"],
        ["Gold export (gold_anomalies.csv ...)", "", f"{export_s:.2f}"],
        ["drop landed -> gold_anomalies.csv", "", f"{drop_to_gold:.2f}"],
    ]
    if full_silver is not None and full_gold is not None:
        rows += [
            ["for comparison: full Silver rebuild", "", f"{full_silver:.2f}"],
            ["for comparison: full Gold build + export", "", f"{full_gold:.2f}"],
        ]
    if watcher_s is not None:
        rows.append(
            [
                "through the real watcher (in-process mode): drop renamed "
                "into incoming/ -> new gold_anomalies.csv",
                f"{args.rows:,}",
                f"{watcher_s:.2f}",
            ]
        )
    for i, drop in enumerate(stacked, start=1):
        rows.append(
            [
                f"through the Prefect stack, drop {i} (watcher --mode prefect, "
                f"on-drop trigger, warm worker; its RSS after: "
                f"{drop.worker_rss / 2**20:,.0f} MiB)",
                f"{args.rows:,}",
                f"{drop.seconds:.2f}",
            ]
        )
    print(f"engine: {args.engine}")
    print(tabulate(rows, headers=["step", "rows", "wall s"], disable_numparse=True))
    for i, drop in enumerate(stacked, start=1):
        print(
            f"\nthrough the Prefect stack, drop {i}: where the seconds go "
            "(server timestamps)"
        )
        print(
            tabulate(
                drop.timeline,
                headers=["moment", "s since drop", "s since previous"],
                disable_numparse=True,
            )
        )
    print("\ndrop renamed into incoming/ -> new gold_anomalies.csv, side by side:")
    for label, seconds, target in (
        ("stages alone", drop_to_gold, TARGET_DROP_TO_GOLD_S),
        ("in-process watcher", watcher_s, TARGET_DROP_TO_GOLD_S),
        *(
            (f"Prefect stack, drop {i}", drop.seconds, TARGET_THROUGH_STACK_S)
            for i, drop in enumerate(stacked, start=1)
        ),
    ):
        if seconds is not None:
            verdict = "ok" if seconds <= target else "MISSED"
            print(
                f"  {label:28s} {seconds:6.2f} s  (target <= {target:.0f} s) {verdict}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
