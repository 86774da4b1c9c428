"""End-to-end benchmark: a million transactions through the pipeline.

Runs every stage with the same functions the Prefect tasks call, in a
temporary data folder, in the order the flow runs them (the Silver CSV export
beside Gold and the detection report, as in flows/silver_gold.py), and prints
rows/s per stage, wall and CPU seconds, total wall time and peak memory.
Then it runs the Silver SQL files, unchanged, with the bare ``sqlite3`` CLI and
with the plain ``sqlite3`` module on one connection (no Prefect, no pandas,
default pragmas) on a copy of the same Bronze, to show what the runner adds.
With ``--engine duckdb`` the same stages run on DuckDB (no bare comparison);
``python -m bench.engines`` puts the engines side by side.

    python -m bench.benchmark                      # ~1M rows, one run
    python -m bench.benchmark --repeat 3           # medians of three runs
    python -m bench.benchmark --customers 3000     # a smaller month
    python -m bench.benchmark --flow               # also once through Prefect
    python -m bench.benchmark --engine duckdb      # the same month on DuckDB

Targets (2-core machine): generation >= 500k transactions/s,
Silver <= 1.3x bare sqlite3, whole pipeline <= 20 s, peak RSS <= 2 GiB.
Timings on a shared machine are noisy: the load average is printed with
them, and ``--repeat`` reports medians. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
from tabulate import tabulate

from bench.stages import DEFAULT_CUSTOMERS, Stage, load_average, run_pipeline
from ssa.engines import base
from ssa.models import SILVER_MODELS
from ssa.settings import Settings, sql_params

TARGET_GENERATION_ROWS_S = 500_000
TARGET_SILVER_VS_BARE = 1.3
TARGET_TOTAL_S = 20.0
TARGET_PEAK_RSS_BYTES = 2 * 1024**3


def snapshot(db: Path, copy: Path) -> None:
    """A consistent copy of the warehouse file (WAL folded in first)."""
    with sqlite3.connect(db) as conn:
        conn.execute("pragma wal_checkpoint(truncate)")
    shutil.copyfile(db, copy)


def _models(settings: Settings) -> list[tuple[str, str, dict[str, Any]]]:
    """(table, select, bound parameters) for every Silver model, in order."""
    out = []
    for model in SILVER_MODELS:
        sql = base.sql_text(f"{model}.sql")
        out.append((Path(model).stem, sql, base.bind(sql, sql_params(settings))))
    return out


def bare_cli(db: Path, models: list[tuple[str, str, dict[str, Any]]]) -> float | None:
    """The Silver files through the sqlite3 command-line shell, as shipped."""
    exe = shutil.which("sqlite3")
    if exe is None:
        return None
    script = [".bail on"]
    for table, sql, params in models:
        script += [f".parameter set :{k} {v!r}" for k, v in params.items()]
        script.append(f"drop table if exists {table};")
        script.append(f"create table {table} as {sql.strip().rstrip(';')};")
    start = time.perf_counter()
    subprocess.run(
        [exe, str(db)], input="\n".join(script) + "\n", text=True, check=True
    )
    return time.perf_counter() - start


def bare_module(db: Path, models: list[tuple[str, str, dict[str, Any]]]) -> float:
    """The Silver files on one plain sqlite3 connection, default pragmas."""
    start = time.perf_counter()
    with sqlite3.connect(db) as conn:
        for table, sql, params in models:
            conn.execute(f"drop table if exists {table}")
            conn.execute(f"create table {table} as {sql}", params)
    return time.perf_counter() - start


def compare_silver(settings: Settings, bronze_copy: Path) -> dict[str, float | None]:
    models = _models(settings)
    cli_db = bronze_copy.with_name("bare_cli.db")
    shutil.copyfile(bronze_copy, cli_db)
    result = {
        "cli": bare_cli(cli_db, models),
        "module": bare_module(bronze_copy, models),
    }
    cli_db.unlink()
    return result


def run_flow(settings: Settings) -> float:
    """The same month through the real Prefect flow (temporary server)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.medallion import medallion_pipeline

    start = time.perf_counter()
    asyncio.run(medallion_pipeline(settings))
    return time.perf_counter() - start


def median_stages(runs: list[list[Stage]]) -> list[Stage]:
    out = []
    for i, first in enumerate(runs[0]):
        cpus = [r[i].cpu for r in runs if r[i].cpu is not None]
        out.append(
            Stage(
                first.name,
                first.rows,
                statistics.median(r[i].wall for r in runs),
                statistics.median(cpus) if cpus else None,
                max((r[i].peak_rss or 0 for r in runs), default=0) or None,
                first.overlapped,
            )
        )
    return out


def stage_table(stages: list[Stage], walls: list[float]) -> str:
    rows = []
    for s in stages:
        rate = f"{s.rows / s.wall:,.0f}" if s.wall > 0 and s.rows else ""
        cpu = "" if s.cpu is None else f"{s.cpu:.2f}"
        peak = "" if s.peak_rss is None else f"{s.peak_rss / 2**30:.2f}"
        rows.append(
            [
                s.name + (" *" if s.overlapped else ""),
                f"{s.rows:,}" if s.rows else "",
                f"{s.wall:.2f}",
                cpu,
                rate,
                peak,
            ]
        )
    rows.append(["pipeline (wall)", "", f"{statistics.median(walls):.2f}", "", "", ""])
    return (
        tabulate(
            rows,
            headers=["stage", "rows", "wall s", "cpu s", "rows/s", "peak RSS GiB"],
            colalign=("left", "right", "right", "right", "right", "right"),
        )
        + "\n* side by side with the others marked so (as in the flow)"
    )


def silver_against_bare(silver_s: float, bare: list[dict[str, float | None]]) -> list:
    """Print the runner against bare sqlite3; the target's row of the checks."""
    cli = [b["cli"] for b in bare if b["cli"] is not None]
    module = statistics.median(b["module"] for b in bare)
    reference = statistics.median(cli) if cli else module
    comparison = [
        ["Silver, our runner (slices on all cores)", f"{silver_s:.2f}", ""],
        [
            "Silver, bare sqlite3 CLI, same file",
            f"{statistics.median(cli):.2f}" if cli else "no sqlite3 CLI",
            f"{silver_s / statistics.median(cli):.2f}x" if cli else "",
        ],
        [
            "Silver, plain sqlite3 module, one connection",
            f"{module:.2f}",
            f"{silver_s / module:.2f}x",
        ],
    ]
    print(tabulate(comparison, headers=["", "wall s", "runner / it"]))
    print()
    return [
        "Silver <= 1.3x bare sqlite3",
        f"{silver_s / reference:.2f}x",
        verdict(silver_s / reference <= TARGET_SILVER_VS_BARE),
    ]


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0]
        + " Runs in a temporary folder, removed afterwards."
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=DEFAULT_CUSTOMERS,
        help=f"customers to generate (default {DEFAULT_CUSTOMERS:,}: ~1M rows)",
    )
    parser.add_argument("--days", type=int, default=30, help="days to simulate")
    parser.add_argument("--repeat", type=int, default=1, help="runs; medians shown")
    parser.add_argument("--flow", action="store_true", help="also run the flow")
    parser.add_argument(
        "--engine",
        choices=("sqlite", "duckdb"),
        default="sqlite",
        help="warehouse engine (the bare-sqlite3 comparison is SQLite's only)",
    )
    args = parser.parse_args(argv)

    print(
        f"engine {args.engine} (SQLite {sqlite3.sqlite_version}, "
        f"DuckDB {duckdb.__version__}), Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores, load average before: {load_average()}",
        flush=True,
    )
    runs, walls, peaks, bare = [], [], [], []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="ssa-bench-") as tmp:
            settings = Settings(
                engine=args.engine,
                paths={"data_dir": Path(tmp) / "data"},
                generator={"n_customers": args.customers, "days": args.days},
            )
            bronze_copy = Path(tmp) / "bronze_copy.db"
            keep = None
            if args.engine == "sqlite":
                keep = functools.partial(snapshot, settings.warehouse_path, bronze_copy)
            result = run_pipeline(settings, keep)
            runs.append(result.stages)
            walls.append(result.wall)
            peaks.append(result.peak_rss)
            if args.engine == "sqlite":
                bare.append(compare_silver(settings, bronze_copy))
            print(f"run {i + 1}: pipeline {result.wall:.2f} s", flush=True)

    stages = median_stages(runs)
    by_name = {s.name: s for s in stages}
    total = statistics.median(walls)
    peak = max(peaks)
    silver_s = by_name["silver"].wall
    gen = by_name["generate"]
    print()
    print(stage_table(stages, walls))
    print()
    checks = [
        [
            "generation >= 500k tx/s",
            f"{gen.rows / gen.wall:,.0f} tx/s",
            verdict(gen.rows / gen.wall >= TARGET_GENERATION_ROWS_S),
        ]
    ]
    if bare:
        checks.append(silver_against_bare(silver_s, bare))
    checks += [
        [
            "whole pipeline <= 20 s",
            f"{total:.2f} s",
            verdict(total <= TARGET_TOTAL_S),
        ],
        [
            "peak RSS <= 2 GiB",
            f"{peak / 1024**3:.2f} GiB",
            verdict(peak <= TARGET_PEAK_RSS_BYTES),
        ],
    ]
    print(tabulate(checks, headers=["target", "measured", ""]))
    print(f"\nruns: {args.repeat}; load average after: {load_average()}")
    if args.flow:
        with tempfile.TemporaryDirectory(prefix="ssa-bench-flow-") as tmp:
            settings = Settings(
                engine=args.engine,
                paths={"data_dir": Path(tmp)},
                generator={"n_customers": args.customers, "days": args.days},
            )
            flow_s = run_flow(settings)
        print(
            f"Through the Prefect flow (temporary API server start included): "
            f"{flow_s:.2f} s, vs {total:.2f} s for the stages alone."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
