"""The live simulator: same seed, same files; a stop leaves every file whole;
a real watcher loads every row it streams."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from flows.simulate import main as simulate_main
from flows.simulate import parse_args
from ssa.generator.live_stream import LiveStream
from ssa.generator.simulator import RunSummary, Simulator
from ssa.settings import REPO_ROOT, Settings
from tests.drops import FAST_INGEST, query, wait_for

# 40 customers pay about 90 times a simulated day; at this speed a 0.1 s
# batch holds half a day, some 50 rows.
SMALL = {"n_customers": 40, "n_merchants": 30}
SPEED = 432_000.0
INTERVAL = 0.1
# Far enough back that no machine's clock calls these rows future.
START = date(2025, 1, 6)


def sim_settings(data_dir: Path, **simulation: object) -> Settings:
    return Settings(
        paths={"data_dir": data_dir},
        generator=SMALL,
        ingest=FAST_INGEST,
        simulation={
            "speed": SPEED,
            "batch_interval_seconds": INTERVAL,
            "start": START,
            "chunk_days": 7,
            **simulation,
        },
    )


def run(settings: Settings, *, disturb: bool = False) -> RunSummary:
    async def go() -> RunSummary:
        blocker = asyncio.create_task(_block_the_loop()) if disturb else None
        try:
            return await Simulator(settings).run(asyncio.Event())
        finally:
            if blocker is not None:
                blocker.cancel()

    return asyncio.run(go())


async def _block_the_loop() -> None:
    """A badly behaved neighbour: holds the event loop 30 ms at a time."""
    while True:
        time.sleep(0.03)
        await asyncio.sleep(0.01)


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_same_seed_gives_the_same_files_whatever_the_loop_does(tmp_path):
    first = sim_settings(tmp_path / "a", duration_seconds=0.5)
    stale = first.paths.incoming_path / ".live-seed42-x-0000009.csv.part"
    stale.parent.mkdir(parents=True)
    stale.write_text("half a file of a killed run")
    summary = run(first)
    again = run(sim_settings(tmp_path / "b", duration_seconds=0.5), disturb=True)
    other = run(
        sim_settings(tmp_path / "c", duration_seconds=0.5).model_copy(
            update={"generator": Settings(generator={**SMALL, "seed": 7}).generator}
        )
    )
    written = files(first.paths.incoming_path)
    assert not stale.exists()
    assert len(summary.batches) == 5 and summary.stopped_by == "duration"
    assert summary.producers_peak == SMALL["n_customers"]
    assert written == files(tmp_path / "b" / "incoming")
    assert set(written) == {
        *(b.name for b in summary.batches),
        *(f"labels/{b.name.removesuffix('.csv')}.labels.csv" for b in summary.batches),
    }
    assert [b.rows for b in again.batches] == [b.rows for b in summary.batches]
    assert files(tmp_path / "c" / "incoming") != written
    assert other.rows > 0
    # Each file is its window of simulated time, and labels every row.
    stream = LiveStream(first)
    chunk = stream.chunk(0)
    windows = stream.window_of(chunk.t)
    for batch in summary.batches:
        rows = pd.read_csv(first.paths.incoming_path / batch.name, dtype=str)
        labels = pd.read_csv(
            first.paths.incoming_path
            / "labels"
            / f"{Path(batch.name).stem}.labels.csv",
            dtype=str,
        )
        expected = chunk.rows[windows == batch.window]["transaction_id"]
        assert rows["transaction_id"].tolist() == expected.tolist()
        assert labels["transaction_id"].tolist() == expected.tolist()


def test_a_clock_past_the_present_is_refused_before_any_file(tmp_path):
    settings = sim_settings(
        tmp_path, start=date.today(), speed=86_400.0, duration_seconds=10
    )
    with pytest.raises(ValueError, match=r"simulation\.start=") as err:
        Simulator(settings).check_duration()
    assert "--start" in str(err.value)
    with pytest.raises(SystemExit):  # argparse: one of --rate, --speed
        simulate_main(["--rate", "5", "--speed", "60"])
    with pytest.raises(ValidationError, match="exactly one of rate and speed"):
        Settings(simulation={"rate": 5, "speed": 60})
    assert not settings.paths.incoming_path.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_after_a_whole_last_file(tmp_path, signum, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    settings = sim_settings(tmp_path / "data")
    incoming = settings.paths.incoming_path
    log = tmp_path / "simulate.log"
    command = [
        sys.executable,
        "-m",
        "flows.simulate",
        "--speed",
        str(SPEED),
        "--batch-interval",
        str(INTERVAL),
        "--customers",
        str(SMALL["n_customers"]),
        "--start",
        START.isoformat(),
        "--data-dir",
        str(settings.paths.data_dir),
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "PREFECT_API_URL": PREFECT_API_URL.value(),
            },
        )
        try:
            wait_for(lambda: len(list(incoming.glob("*.csv"))) >= 3, timeout=120)
            proc.send_signal(signum)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert "stopped by signal" in text, text
    assert "Traceback" not in text
    assert not [p for p in incoming.rglob("*") if p.name.endswith(".part")]
    # Every file, the last too, holds its whole window of the CLI's stream.
    cli = parse_args(command[3:])
    stream = LiveStream(cli)
    chunk = stream.chunk(0)
    per_window = np.bincount(stream.window_of(chunk.t))
    batches = sorted(incoming.glob("*.csv"))
    assert batches
    for path in batches:
        window = int(path.stem.rsplit("-", 1)[1])
        assert len(pd.read_csv(path, dtype=str)) == per_window[window], path.name
        assert (incoming / "labels" / f"{path.stem}.labels.csv").exists()


def test_a_short_stream_lands_whole_in_bronze_and_gold(tmp_path, prefect_harness):
    from flows.watcher import in_process_refresh
    from ssa.intake.watcher import Watcher

    settings = sim_settings(tmp_path / "data", duration_seconds=0.6)
    settings.paths.incoming_path.mkdir(parents=True)
    with Watcher(settings, in_process_refresh(settings)) as watcher:
        summary = run(settings)
        streamed = {b.name: b.rows for b in summary.batches}
        wait_for(
            lambda: (
                sum(r.rows_loaded for r in watcher.results)
                >= summary.rows + summary.rows
            ),  # the rows and their labels
            timeout=120,
        )
        wait_for(lambda: _refreshed_up_to_the_last_load(settings), timeout=120)
    loaded = dict(
        query(
            settings,
            "select file_name, rows_loaded from ingestion_log "
            "where status = 'loaded' and file_name like 'live-%.csv' "
            "and file_name not like '%.labels.csv'",
        )
    )
    assert loaded == streamed
    assert query(settings, "select count(*) from bronze_transactions") == [
        (summary.rows,)
    ]
    assert query(settings, "select count(*) from reported_labels") == [(summary.rows,)]
    assert query(
        settings,
        "select count(*) from gold_transaction_risk where transaction_id in "
        "(select transaction_id from bronze_transactions)",
    ) == [(summary.rows,)]
    assert query(settings, "select sum(rows_rejected) from ingestion_log") == [(0,)]


def _refreshed_up_to_the_last_load(settings: Settings) -> bool:
    """Gold reflects every file the watcher has logged."""
    rows = query(
        settings,
        "select (select max(log_seq) from ingestion_log), "
        "(select max(up_to_log_seq) from ingestion_refresh)",
    )
    return bool(rows) and rows[0][0] is not None and rows[0][0] == rows[0][1]


def test_an_open_ended_run_stops_where_the_present_begins(tmp_path):
    """Rows more than limits.future_tolerance_seconds ahead would be rejected
    by the watcher: the stream ends before them, with whole files."""
    from datetime import timedelta

    yesterday = date.today() - timedelta(days=1)
    # Yesterday and the tolerated day ahead (2 days and a bit) in about 1 s.
    settings = sim_settings(tmp_path, start=yesterday, speed=250_000.0)
    summary = run(settings)
    stream = LiveStream(settings)
    assert summary.stopped_by == "present"
    assert summary.batches
    last_end = stream.window_start(summary.batches[-1].window + 1)
    tolerance = settings.limits.future_tolerance_seconds
    assert last_end <= time.time() + tolerance
    assert not list(settings.paths.incoming_path.rglob("*.part"))
