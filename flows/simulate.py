"""A live Salvador: the generator's payments streamed into the watched folder.

    python -m flows.simulate                         # 100 tx/s until Ctrl-C
    python -m flows.simulate --rate 1000 --duration 120
    python -m flows.simulate --speed 60 --seed 7     # an hour a minute

Many asyncio producers, one per customer paying in the simulated weeks,
emit the generator's transactions (its rhythm of the day, its bairros, its
planted fraud) on a compressed clock; every ``--batch-interval`` seconds the
payments that fell due land in ``data/incoming/`` as one micro-batch file,
written under a hidden ``.part`` name and renamed when complete, and their
planted labels in ``data/incoming/labels/`` so the detection report judges
the streamed rows. The same seed gives the same files. SIGINT or SIGTERM
stops it after the batch in progress, so the last file is complete. Run
``python -m flows.watcher`` beside it to see the stream reach Gold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, runtime
from prefect.artifacts import acreate_markdown_artifact
from pydantic import ValidationError

from flows.naming import run_stamp
from ssa.cli import add_data_dir_option
from ssa.generator.simulator import RunSummary, Simulator
from ssa.settings import (
    GeneratorSettings,
    PathSettings,
    Settings,
    SimulationSettings,
    with_groups,
)


def _run_name() -> str:
    params = runtime.flow_run.parameters
    settings = with_groups(
        params.get("settings"),
        simulation=params.get("simulation"),
        generator=params.get("generator"),
    )
    live = settings.simulation
    if live.rate:
        pace = f"{live.rate:,g} tx/s"
    elif live.speed:
        pace = f"{live.speed:,g}x"
    else:
        pace = "the customers' pace"
    return f"live · {pace} · {run_stamp(settings)}"


# A stream left on by mistake stops on its own; a demo lasts minutes.
SIMULATION_TIMEOUT_SECONDS = 6 * 3600


@flow(
    name="live-simulation",
    flow_run_name=_run_name,
    timeout_seconds=SIMULATION_TIMEOUT_SECONDS,
)
async def live_simulation(
    settings: Settings | None = None,
    simulation: SimulationSettings | None = None,
    generator: GeneratorSettings | None = None,
    paths: PathSettings | None = None,
) -> dict[str, Any]:
    """Stream micro-batches into the watched folder until the duration ends
    or the process is told to stop.

    Args:
        settings: Everything else: leave empty for the defaults of
            ssa/settings.py.
        simulation: Rate, speed, duration, batch interval of the stream.
        generator: Seed and customers whose payments are streamed.
        paths: The data folder whose watched folder receives the files.
    """
    settings = with_groups(
        settings, simulation=simulation, generator=generator, paths=paths
    )
    logger = get_run_logger()
    simulator = Simulator(settings)
    simulator.check_duration()  # before any file: a clock past the present
    stop = asyncio.Event()
    logger.info(
        "streaming into %s at %sx (%s)",
        settings.paths.incoming_path,
        f"{simulator.stream.speed:,.0f}",
        _pace(settings),
    )
    with _stop_on_signals(stop):
        summary = await simulator.run(stop)
    await _publish(summary, settings)
    logger.info(
        "stopped (%s): %d files, %d transactions, %d planted frauds",
        summary.stopped_by,
        len(summary.batches),
        summary.rows,
        summary.frauds,
    )
    return summary.as_dict()


def _pace(settings: Settings) -> str:
    sim = settings.simulation
    if sim.rate is not None:
        return f"{sim.rate:g} tx/s on average"
    return f"speed {sim.speed:g}"


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop``; where the loop cannot take signals
    (not the main thread, as under some runners) the duration still ends it."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (RuntimeError, ValueError, NotImplementedError):
            continue
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _publish(summary: RunSummary, settings: Settings) -> None:
    """The run's outcome on the run a user launched."""
    lines = [
        "| files | transactions | planted frauds | speed | producers | stopped by |",
        "|---:|---:|---:|---:|---:|---|",
        f"| {len(summary.batches)} | {summary.rows} | {summary.frauds} | "
        f"{summary.speed:,.0f}x | {summary.producers_peak} | {summary.stopped_by} |",
    ]
    if summary.batches:
        lines.append(
            f"\nFirst file `{summary.batches[0].name}`, last "
            f"`{summary.batches[-1].name}`, in `{settings.paths.incoming_path}`."
        )
    await acreate_markdown_artifact(
        key="live-simulation", markdown="\n".join(lines), description="Stream"
    )


def parse_args(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, help="mean transactions per second")
    pace.add_argument(
        "--speed", type=float, help="simulated seconds per wall second (60: 1 h/min)"
    )
    parser.add_argument(
        "--duration", type=float, help="seconds to run (default: until Ctrl-C)"
    )
    parser.add_argument(
        "--batch-interval", type=float, help="seconds of payments per file"
    )
    parser.add_argument("--seed", type=int, help="random seed (same seed, same files)")
    parser.add_argument("--customers", type=int, help="number of customers")
    parser.add_argument(
        "--start", type=date.fromisoformat, help="first simulated local day"
    )
    add_data_dir_option(
        parser, "data folder whose incoming/ gets the stream (default data/)"
    )
    args = parser.parse_args(argv)
    simulation = {
        key: value
        for key, value in {
            "rate": args.rate,
            "speed": args.speed,
            "duration_seconds": args.duration,
            "batch_interval_seconds": args.batch_interval,
            "start": args.start,
        }.items()
        if value is not None
    }
    generator = {
        key: value
        for key, value in {"seed": args.seed, "n_customers": args.customers}.items()
        if value is not None
    }
    paths = {"data_dir": args.data_dir} if args.data_dir else {}
    return Settings(simulation=simulation, generator=generator, paths=paths)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        settings = parse_args(sys.argv[1:] if argv is None else argv)
        Simulator(settings).check_duration()
    except ValidationError as exc:
        print(f"invalid settings:\n{exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    result = asyncio.run(live_simulation(settings))
    print(
        f"{result['batches']} files, {result['rows']:,} transactions "
        f"({result['frauds']} planted frauds) at {result['speed']:,.0f}x; "
        f"stopped by {result['stopped_by']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
