"""The engines side by side, and how each stage grows with the month.

One run, one table: the same synthetic month through every stage
(``bench.stages``, the functions the Prefect tasks call) on each engine the
project knows (``ssa.engines.names.EngineName``), each engine in a process of
its own so its peak memory is its own; wall seconds, rows/s and peak RSS per
stage, and each engine's speed-up over the first. An engine that cannot run
here (its client not installed, no server) is skipped with a note.

    python -m bench.engines                        # ~1M rows, every engine
    python -m bench.engines --rows 100k            # a smaller month
    python -m bench.engines --engines duckdb       # one engine
    python -m bench.engines --curve                # DuckDB at 100k, 1M, 10M rows
    python -m bench.engines --curve --sizes 100k,1M
    python -m bench.engines --curve --engine-setting duckdb_memory_limit=4GiB \\
        --engine-setting duckdb_threads=2

``--curve`` runs one engine at growing sizes and prints, beside each size,
how much longer each stage took than at the size before (10x the rows: 10x
the time is linear). With 10M rows among the sizes it checks the target:
end to end <= 60 s with peak RSS <= 6 GiB. ``--engine-setting`` sets a field
of ``settings.engines`` (the engines' memory and threads), as a settings
file would.

Peak RSS is the benchmark process's: an engine running in a server of its
own (Spark's JVM) is not counted there. Timings on a shared machine are
noisy: the load average is printed before and after. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError
from tabulate import tabulate

from bench.stages import SIDE_BY_SIDE, Run, customers_for, load_average, run_pipeline
from ssa.engines import open_warehouse
from ssa.engines.names import EngineName
from ssa.settings import EngineSettings, Settings

CURVE_ENGINE = "duckdb"
CURVE_SIZES = "100k,1M,10M"
TARGET_ROWS = 10_000_000
TARGET_TOTAL_S = 60.0
TARGET_PEAK_RSS_BYTES = 6 * 1024**3
GiB = 1024**3

_SUFFIX = {"k": 1_000, "m": 1_000_000}


def parse_rows(text: str) -> int:
    """'100k', '1M', '10M' or a plain number of rows."""
    text = text.strip().lower().replace("_", "").replace(",", "")
    try:
        if text[-1:] in _SUFFIX:
            return int(float(text[:-1]) * _SUFFIX[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number of rows: {text!r} (e.g. 100k, 1M, 2500000)"
        ) from None


def size_label(rows: int) -> str:
    for suffix, unit in (("M", 1_000_000), ("k", 1_000)):
        if rows >= unit and rows % unit == 0:
            return f"{rows // unit}{suffix}"
    return f"{rows:,}"


def engine_settings(pairs: list[str]) -> dict[str, Any]:
    """``name=value`` pairs as ``settings.engines`` fields, validated there."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in EngineSettings.model_fields:
            fields = ", ".join(EngineSettings.model_fields)
            raise SystemExit(
                f"--engine-setting {pair!r}: expected NAME=VALUE, NAME in {fields}"
            )
        values[name] = value
    try:
        return EngineSettings(**values).model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise SystemExit(f"--engine-setting: {exc}") from None


# --- one engine, one size: the child process ------------------------------------


def _child(args: argparse.Namespace) -> int:
    """Run the pipeline once and write what it measured as JSON."""
    out = Path(args.json)
    with tempfile.TemporaryDirectory(prefix="ssa-bench-engines-") as tmp:
        try:
            settings = Settings(
                engine=args.child,
                paths={"data_dir": Path(tmp) / "data"},
                generator={"n_customers": args.customers, "days": args.days},
                engines=json.loads(args.engines_json),
            )
            # Untimed: an engine that cannot open a warehouse here is
            # skipped, not counted as slow.
            with open_warehouse(settings).transaction() as session:
                session.table_exists("bronze_transactions")
        except Exception as exc:  # any reason the engine cannot run here
            out.write_text(json.dumps({"unavailable": f"{type(exc).__name__}: {exc}"}))
            return 0
        run = run_pipeline(
            settings,
            progress=lambda s: print(
                f"  {args.child} {s.name.strip()}: {s.wall:.1f} s", flush=True
            ),
        )
    out.write_text(json.dumps(run.to_json()))
    return 0


def measure(
    engine: str, customers: int, days: int, engines: dict[str, Any]
) -> Run | str:
    """One run in a fresh process (its peak RSS its own); a reason if the
    engine cannot run here."""
    with tempfile.TemporaryDirectory(prefix="ssa-bench-result-") as tmp:
        out = Path(tmp) / "run.json"
        command = [
            sys.executable,
            "-m",
            "bench.engines",
            "--child",
            engine,
            "--customers",
            str(customers),
            "--days",
            str(days),
            "--engines-json",
            json.dumps(engines),
            "--json",
            str(out),
        ]
        done = subprocess.run(command, cwd=Path(__file__).resolve().parents[1])
        if done.returncode != 0 or not out.exists():
            return f"its run failed (exit {done.returncode}; the error is above)"
        data = json.loads(out.read_text())
    if "unavailable" in data:
        return data["unavailable"]
    return Run.from_json(data)


# --- the table ----------------------------------------------------------------


def _rate(rows: int, wall: float) -> str:
    if not rows or wall <= 0:
        return ""
    rate = rows / wall
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    return f"{rate / 1e3:.0f}k" if rate >= 1e4 else f"{rate:,.0f}"


def _gib(value: int | None) -> str:
    return "" if value is None else f"{value / GiB:.2f}"


def table(
    columns: list[tuple[str, Run]],
    ratios: list[tuple[int, int, str]],
    cpu_ratios: bool = False,
) -> str:
    """Stages down, runs across (wall s, rows/s, peak RSS GiB each), then
    ``ratios`` (i, j, header): run i's wall over run j's, per stage, and with
    ``cpu_ratios`` its CPU over run j's too (what grows with the rows, less
    moved by the machine's load than the wall time)."""
    first = columns[0][1]
    headers = ["stage"]
    for label, _ in columns:
        headers += [
            f"{label}\nwall s",
            f"{label}\ncpu s",
            f"{label}\nrows/s",
            f"{label}\npeak GiB",
        ]
    headers += [header for _, _, header in ratios]
    if cpu_ratios:
        headers += [f"{header}\n(cpu)" for _, _, header in ratios]
    rows = []
    for i, stage in enumerate(first.stages):
        name = stage.name + (" *" if stage.overlapped else "")
        line = [name]
        for _, run in columns:
            s = run.stages[i]
            rate = "" if stage.name == SIDE_BY_SIDE else _rate(s.rows, s.wall)
            cpu = "" if s.cpu is None else f"{s.cpu:.1f}"
            line += [f"{s.wall:.2f}", cpu, rate, _gib(s.peak_rss)]
        for a, b, _ in ratios:
            wa, wb = columns[a][1].stages[i].wall, columns[b][1].stages[i].wall
            line.append(f"{wa / wb:.2f}x" if wb > 0.005 else "")
        if cpu_ratios:
            for a, b, _ in ratios:
                ca, cb = columns[a][1].stages[i].cpu, columns[b][1].stages[i].cpu
                line.append(f"{ca / cb:.2f}x" if ca and cb and cb > 0.005 else "")
        rows.append(line)
    total = ["total (end to end)"]
    for _, run in columns:
        rows_in = run.stages[0].rows
        cpu = _cpu(run)
        total += [
            f"{run.wall:.2f}",
            f"{cpu:.1f}",
            _rate(rows_in, run.wall),
            _gib(run.peak_rss),
        ]
    for a, b, _ in ratios:
        total.append(f"{columns[a][1].wall / columns[b][1].wall:.2f}x")
    if cpu_ratios:
        for a, b, _ in ratios:
            total.append(f"{_cpu(columns[a][1]) / _cpu(columns[b][1]):.2f}x")
    rows.append(total)
    return tabulate(
        rows,
        headers=headers,
        disable_numparse=True,
        colalign=("left",) + ("right",) * (len(headers) - 1),
    )


def _cpu(run: Run) -> float:
    """The run's CPU seconds: its stages', the side-by-side ones counted once
    (on their line together)."""
    return sum(s.cpu or 0.0 for s in run.stages)


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GiB
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"{memory:.0f} GiB RAM, Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--engines",
        help="engines to compare, the first the baseline (default: every one, "
        f"{', '.join(get_args(EngineName))}; with --curve {CURVE_ENGINE})",
    )
    parser.add_argument(
        "--rows",
        type=parse_rows,
        default=1_000_000,
        help="transactions in the month, about (default 1M)",
    )
    parser.add_argument("--days", type=int, default=30, help="days to simulate")
    parser.add_argument(
        "--curve",
        action="store_true",
        help=f"one engine ({CURVE_ENGINE} unless --engines names one) at --sizes",
    )
    parser.add_argument(
        "--sizes", default=CURVE_SIZES, help=f"rows per run of --curve ({CURVE_SIZES})"
    )
    parser.add_argument(
        "--engine-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a settings.engines field, e.g. duckdb_memory_limit=4GiB",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--customers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engines-json", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)

    engines = engine_settings(args.engine_setting)
    known = get_args(EngineName)
    default = CURVE_ENGINE if args.curve else ",".join(known)
    wanted = [e.strip() for e in (args.engines or default).split(",") if e.strip()]
    print(f"{machine()}; load average before: {load_average()}", flush=True)
    if engines:
        print(f"settings.engines: {engines}")
    for name in wanted:
        if name not in known:
            print(
                f"note: {name} skipped: not an engine of this version "
                f"({', '.join(known)})"
            )
    wanted = [name for name in wanted if name in known]
    if args.curve:
        return _curve(
            wanted[0],
            [parse_rows(s) for s in args.sizes.split(",")],
            args.days,
            engines,
        )
    return _side_by_side(wanted, args.rows, args.days, engines)


def _side_by_side(
    wanted: list[str], rows: int, days: int, engines: dict[str, Any]
) -> int:
    customers = customers_for(rows)
    columns: list[tuple[str, Run]] = []
    for name in wanted:
        print(f"{name}: {customers:,} customers, {days} days...", flush=True)
        result = measure(name, customers, days, engines)
        if isinstance(result, str):
            print(f"note: {name} skipped: {result}")
            continue
        columns.append((name, result))
    if not columns:
        print("no engine could run")
        return 1
    base = columns[0][0]
    ratios = [(0, i, f"{base} /\n{label}") for i, (label, _) in enumerate(columns) if i]
    print()
    print(
        f"{columns[0][1].stages[0].rows:,} transactions ({customers:,} customers, "
        f"{days} days), one run per engine"
    )
    print(table(columns, ratios))
    _footer(
        ratio=f"{base} / engine: {base}'s wall over the engine's "
        "(above 1: the engine is faster)\n"
        if ratios
        else ""
    )
    return 0


def _curve(engine: str, sizes: list[int], days: int, engines: dict[str, Any]) -> int:
    columns: list[tuple[str, Run]] = []
    for rows in sizes:
        customers = customers_for(rows)
        print(
            f"{engine} at {size_label(rows)}: {customers:,} customers, {days} days...",
            flush=True,
        )
        result = measure(engine, customers, days, engines)
        if isinstance(result, str):
            print(f"note: {engine} at {size_label(rows)} skipped: {result}")
            continue
        columns.append((size_label(rows), result))
    if not columns:
        return 1
    ratios = [
        (i, i - 1, f"{columns[i][0]} /\n{columns[i - 1][0]}")
        for i in range(1, len(columns))
    ]
    print()
    print(
        f"{engine}, one run per size ("
        + ", ".join(f"{label}: {run.stages[0].rows:,}" for label, run in columns)
        + " transactions)"
    )
    print(table(columns, ratios, cpu_ratios=True))
    _footer(
        ratio="size / size before: how much longer the stage took, in wall time "
        "and (cpu) in CPU "
        "(10x the rows in 10x the time: linear)\n"
    )
    for label, run in columns:
        if run.stages[0].rows >= TARGET_ROWS * 0.95:
            print()
            print(
                tabulate(
                    [
                        [
                            f"{label} end to end <= {TARGET_TOTAL_S:.0f} s",
                            f"{run.wall:.1f} s",
                            _verdict(run.wall <= TARGET_TOTAL_S),
                        ],
                        [
                            f"{label} peak RSS <= {TARGET_PEAK_RSS_BYTES // GiB} GiB",
                            f"{run.peak_rss / GiB:.2f} GiB",
                            _verdict(run.peak_rss <= TARGET_PEAK_RSS_BYTES),
                        ],
                    ],
                    headers=["target", "measured", ""],
                )
            )
    return 0


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _footer(ratio: str) -> None:
    print(
        "* runs beside the stages marked so, as in the flow (the Silver CSV export "
        "beside Gold, its export, the report and the dashboard); their row "
        "'= all, side by side' is their wall time together and their one peak RSS\n"
        f"{ratio}"
        "cpu s: the process's CPU, every thread (DuckDB's on both cores); under "
        "load it moves less than wall time\n"
        "peak GiB: the stage's own high-water mark (the run's largest on the "
        "total line)\n"
        f"load average after: {load_average()} (2 cores shared: timings are noisy)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
