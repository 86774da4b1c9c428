"""The watched folder with a real watchdog observer on a temporary folder.

Most tests inject a fake refresh (a list of what it was asked to refresh);
one runs the real incoming-refresh flow under Prefect's test harness. No
thread may outlive its test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
)
from watchdog.utils import BaseThread

from flows.watcher import (
    REFRESH_EVENT,
    build_watcher,
    file_event,
    in_process_refresh,
    main,
)
from ssa.intake.ingest import ingest_file
from ssa.intake.ingest_log import PendingRefresh
from ssa.intake.watcher import DropHandler, FolderBusyError, Settling, Watcher
from ssa.settings import REPO_ROOT, Settings
from tests.drops import (
    assert_accounting,
    bronze_ids,
    drop,
    kill_9_once_marked,
    log_rows,
    query,
    sample,
    settings_for,
    wait_for,
    write,
)


@pytest.fixture(autouse=True)
def no_thread_outlives_the_test():
    before = set(threading.enumerate())
    yield
    leaked = [
        t
        for t in threading.enumerate()
        if t not in before
        and t.is_alive()
        and (isinstance(t, BaseThread) or t.name.startswith("ssa-"))
    ]
    assert not leaked, leaked


class FakeRefresh:
    """Records each refresh; can fail the first few times."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[PendingRefresh] = []
        self.failures = failures

    def __call__(self, pending: PendingRefresh) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        self.calls.append(pending)


# -- the handler and the completeness rule, without an observer -------------


def test_handler_hands_on_csv_drops_and_ignores_the_rest(tmp_path):
    offered: list[tuple[str, bool]] = []
    handler = DropHandler(lambda path, renamed: offered.append((path.name, renamed)))
    folder = str(tmp_path)
    events = [
        FileCreatedEvent(f"{folder}/a.csv"),
        FileModifiedEvent(f"{folder}/a.csv"),
        FileClosedEvent(f"{folder}/b.CSV"),
        FileMovedEvent(f"{folder}/.c.csv.part", f"{folder}/c.csv"),
        FileMovedEvent(f"{folder}/d.tmp", f"{folder}/d.csv"),
        FileCreatedEvent(f"{folder}/e.csv.part"),
        FileCreatedEvent(f"{folder}/f.tmp"),
        FileCreatedEvent(f"{folder}/~$g.csv"),
        FileCreatedEvent(f"{folder}/.h.csv"),
        FileCreatedEvent(f"{folder}/notes.txt"),
        FileMovedEvent(f"{folder}/i.csv", f"{folder}/.i.csv"),
    ]
    for event in events:
        handler.dispatch(event)
    assert offered == [
        ("a.csv", False),
        ("a.csv", False),
        ("b.CSV", False),
        ("c.csv", True),
        ("d.csv", True),
    ]


def test_a_file_written_in_place_is_complete_once_it_stops_changing():
    settling = Settling(renamed=False, order=1)
    stable, wall = 1.0, 1_000.0
    # Being written: every look finds a new size or mtime.
    assert not settling.is_complete(10, wall, now=0.0, wall=wall, stable=stable)
    assert not settling.is_complete(20, wall + 0.5, now=0.5, wall=wall, stable=stable)
    # Unchanged, but not for long enough yet; then long enough.
    assert not settling.is_complete(20, wall + 0.5, now=1.2, wall=wall, stable=stable)
    assert settling.is_complete(20, wall + 0.5, now=1.5, wall=wall, stable=stable)
    # Renamed in: complete at once. Left there long ago: complete at first look.
    assert Settling(renamed=True, order=2).is_complete(5, wall, 0.0, wall, stable)
    assert Settling(renamed=False, order=3).is_complete(5, wall - 60, 0.0, wall, stable)


# -- with a real observer ---------------------------------------------------


def test_a_good_drop_is_ingested_and_refreshed(settings, incoming):
    refresh = FakeRefresh()
    frame = sample(120)
    with Watcher(settings, refresh) as watcher:
        drop(incoming, "good.csv", frame)
        wait_for(lambda: len(refresh.calls) == 1)
    [result] = watcher.results
    assert (result.status, result.rows_loaded) == ("loaded", 120)
    assert refresh.calls[0].files == ("good.csv",)
    assert sorted(bronze_ids(settings)) == sorted(frame["transaction_id"])
    # Only the lock file is left, beside the (empty) source folders.
    assert [p.name for p in incoming.iterdir() if p.is_file()] == [".watcher.lock"]
    assert_accounting(settings)


def test_files_already_there_are_read_first(settings, incoming):
    write(incoming / "left-over.csv", sample(120))
    refresh = FakeRefresh()
    with Watcher(settings, refresh) as watcher:
        wait_for(lambda: len(refresh.calls) == 1)
    assert [r.file_name for r in watcher.results] == ["left-over.csv"]
    assert_accounting(settings)


def test_a_file_written_slowly_in_place_is_read_once_complete(settings, incoming):
    """Half the rows, a pause shorter than stable_seconds, the rest."""
    frame = sample(120)
    text = frame.to_csv(index=False, lineterminator="\n")
    cut = text.index("\n", len(text) // 2) + 1
    refresh = FakeRefresh()
    with Watcher(settings, refresh) as watcher:
        with (incoming / "slow.csv").open("w", encoding="utf-8") as f:
            f.write(text[:cut])
            f.flush()
            time.sleep(settings.ingest.stable_seconds / 4)
            f.write(text[cut:])
        wait_for(lambda: len(refresh.calls) == 1)
    [result] = watcher.results
    assert (result.rows_read, result.rows_loaded) == (120, 120)


def test_temporary_and_hidden_files_are_left_alone(settings, incoming):
    frame = sample(120)
    refresh = FakeRefresh()
    with Watcher(settings, refresh) as watcher:
        for name in (".hidden.csv", "~$open.csv", "export.csv.part", "x.tmp"):
            write(incoming / name, frame)
        drop(incoming, "real.csv", frame)
        wait_for(lambda: len(refresh.calls) == 1)
    assert [r.file_name for r in watcher.results] == ["real.csv"]
    assert {p.name for p in incoming.iterdir() if p.is_file()} == {
        ".watcher.lock",
        ".hidden.csv",
        "~$open.csv",
        "export.csv.part",
        "x.tmp",
    }


def test_a_burst_of_50_files_gives_one_refresh(tmp_path):
    default = Settings().ingest.debounce_seconds
    settings = settings_for(tmp_path / "data", debounce_seconds=default)
    incoming = settings.paths.incoming_path
    incoming.mkdir(parents=True)
    frame = sample(500)
    parts = [frame.iloc[i * 10 : (i + 1) * 10] for i in range(50)]
    staged = [
        write(incoming / f".drop-{i:02d}.csv.part", p) for i, p in enumerate(parts)
    ]
    refresh = FakeRefresh()
    with Watcher(settings, refresh) as watcher:
        for i, path in enumerate(staged):  # 50 atomic renames in a few ms
            path.rename(incoming / f"drop-{i:02d}.csv")
        wait_for(lambda: len(watcher.results) == 50)
        wait_for(lambda: len(refresh.calls) >= 1)
        assert watcher.wait_idle(timeout=30)
    assert len(refresh.calls) == 1
    assert len(refresh.calls[0].files) == 50
    assert refresh.calls[0].rows_loaded == 500
    assert [r.file_name for r in watcher.results] == [
        f"drop-{i:02d}.csv" for i in range(50)
    ]
    assert len(bronze_ids(settings)) == 500
    assert_accounting(settings)


def test_mixed_duplicate_and_broken_files_through_the_watcher(settings, incoming):
    frame = sample(120)
    spoiled = frame.copy()
    spoiled.loc[3, "amount"] = "abc"
    refresh = FakeRefresh()
    with Watcher(settings, refresh) as watcher:
        drop(incoming, "a.csv", spoiled)
        wait_for(lambda: len(watcher.results) == 1)
        drop(incoming, "a-again.csv", spoiled)  # same content
        # The row a.csv rejected, fixed, and 20 rows already loaded.
        drop(incoming, "overlap.csv", frame.iloc[[3, *range(100, 120)]])
        (incoming / "broken.csv").write_bytes(b"PK\x03\x04zipped")
        wait_for(lambda: len(watcher.results) == 4)
        assert watcher.wait_idle(timeout=30)
    statuses = {r.file_name: r.status for r in watcher.results}
    assert statuses == {
        "a.csv": "loaded",
        "a-again.csv": "duplicate_file",
        "overlap.csv": "loaded",
        "broken.csv": "quarantined",
    }
    overlap = next(r for r in watcher.results if r.file_name == "overlap.csv")
    assert (overlap.rows_read, overlap.rows_loaded, overlap.rows_duplicate) == (
        21,
        1,
        20,
    )
    assert len(bronze_ids(settings)) == 120
    assert (settings.paths.quarantine_path / "broken.error.txt").exists()
    assert (settings.paths.quarantine_path / "a.rejected.csv").exists()
    assert_accounting(settings)


def test_failed_ingest_and_failed_refresh_are_retried(settings, incoming):
    attempts = []

    def flaky_ingest(path: Path):
        attempts.append(path.name)
        if len(attempts) == 1:
            return ingest_file(path, settings, before_commit=_raise_disk_full)
        return ingest_file(path, settings)

    refresh = FakeRefresh(failures=1)
    with Watcher(settings, refresh, ingest=flaky_ingest) as watcher:
        drop(incoming, "drop.csv", sample(120))
        wait_for(lambda: len(refresh.calls) == 1)
    assert attempts == ["drop.csv", "drop.csv"]
    assert [r.rows_loaded for r in watcher.results] == [120]
    assert len(bronze_ids(settings)) == 120
    assert_accounting(settings)


def _raise_disk_full() -> None:
    raise OSError("disk full")


KILLED_WATCHER = """
import sys, time
from pathlib import Path
from ssa.intake.ingest import ingest_file
from ssa.intake.watcher import Watcher
from tests.drops import settings_for

settings = settings_for(Path(sys.argv[1]))

def hang():
    Path(sys.argv[2]).write_text("rows written, not committed")
    time.sleep(600)

def ingest(path):
    return ingest_file(path, settings, before_commit=hang)

Watcher(settings, lambda pending: None, ingest=ingest).start()
time.sleep(600)
"""


def test_a_watcher_killed_mid_file_loads_it_once_after_restart(
    settings, incoming, tmp_path
):
    frame = sample(120)
    write(incoming / "drop.csv", frame)
    marker = tmp_path / "in-transaction"
    code = kill_9_once_marked(
        KILLED_WATCHER, str(settings.paths.data_path), str(marker), marker=marker
    )
    assert code == -signal.SIGKILL
    assert bronze_ids(settings) == []
    assert (incoming / "drop.csv").exists()

    refresh = FakeRefresh()
    with Watcher(settings, refresh) as watcher:
        wait_for(lambda: len(refresh.calls) == 1)
        drop(incoming, "drop-again.csv", frame)
        wait_for(lambda: len(watcher.results) == 2)
    ids = bronze_ids(settings)
    assert sorted(ids) == sorted(frame["transaction_id"])  # each exactly once
    assert [r.status for r in watcher.results] == ["loaded", "duplicate_file"]
    assert_accounting(settings)


def test_loads_a_killed_watcher_never_refreshed_are_refreshed_at_start(
    settings, incoming
):
    ingest_file(write(incoming / "drop.csv", sample(120)), settings)
    refresh = FakeRefresh()
    with Watcher(settings, refresh):
        wait_for(lambda: len(refresh.calls) == 1)
    assert refresh.calls[0].files == ("drop.csv",)


def test_one_watcher_per_folder(settings, incoming):
    with (
        Watcher(settings, FakeRefresh()),
        pytest.raises(FolderBusyError, match="already watching"),
    ):
        Watcher(settings, FakeRefresh()).start()
    with Watcher(settings, FakeRefresh()):  # released on stop
        pass


def test_prefect_mode_emits_one_event_per_file_and_one_per_burst(settings, incoming):
    events: list[dict] = []
    watcher = build_watcher(settings, "prefect", emit=lambda **e: events.append(e))
    with watcher:
        drop(incoming, "good.csv", sample(120))
        (incoming / "empty.csv").write_bytes(b"")
        wait_for(lambda: any(e["event"] == REFRESH_EVENT for e in events))
        assert watcher.wait_idle(timeout=30)
    names = sorted(e["event"] for e in events)
    assert names == [
        "ssa.incoming.file-ingested",
        "ssa.incoming.file-quarantined",
        REFRESH_EVENT,
    ]
    burst = next(e for e in events if e["event"] == REFRESH_EVENT)
    assert burst["payload"]["files"] == ["good.csv"]
    assert burst["payload"]["up_to_log_seq"] > burst["payload"]["after_log_seq"]
    ingested = next(e for e in events if e["event"] == "ssa.incoming.file-ingested")
    assert ingested["resource"]["prefect.resource.id"].startswith("ssa.drop.")
    assert ingested["payload"]["rows_loaded"] == 120
    assert ingested["payload"]["quarantine_file"] is None
    refused = next(e for e in events if e["event"] == "ssa.incoming.file-quarantined")
    quarantined = settings.paths.quarantine_path / "empty.csv"
    assert refused["payload"]["quarantine_file"] == str(quarantined)


def test_prefect_mode_needs_a_server(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("flows.watcher._prefect_api_url", lambda: None)
    assert main(["--mode", "prefect", "--data-dir", str(tmp_path)]) == 2
    assert "PREFECT_API_URL" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_headless_watcher_stops_cleanly_on_a_signal(
    tmp_path, signum, prefect_harness
):
    from prefect.settings import PREFECT_API_URL

    log = tmp_path / "watcher.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.watcher", "--data-dir", str(tmp_path)],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            # The harness's server: the watcher's warm-up is then a health
            # check, not a temporary server of its own.
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "PREFECT_API_URL": PREFECT_API_URL.value(),
            },
        )
        try:
            wait_for(lambda: "watching" in log.read_text())
            proc.send_signal(signum)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert f"{signal.Signals(signum).name} received: stopping" in text
    assert "stopped watching" in text
    assert "Traceback" not in text


# -- the real refresh, once -------------------------------------------------


def with_a_burst(frame: pd.DataFrame) -> pd.DataFrame:
    """Five more payments by the first row's customer within five minutes: a
    velocity burst, so Gold has at least one anomaly to show."""
    start = pd.Timestamp(frame.loc[0, "created_at"])
    burst = pd.concat([frame.iloc[[0]]] * 5, ignore_index=True)
    burst["transaction_id"] = [f"burst-{i}" for i in range(5)]
    burst["created_at"] = [
        (start + pd.Timedelta(minutes=i + 1)).isoformat() for i in range(5)
    ]
    return pd.concat([frame, burst], ignore_index=True)


def test_drops_land_and_update_gold_end_to_end(settings, incoming, prefect_harness):
    first, second = with_a_burst(sample(120)), sample(120, date(2026, 10, 12))
    with Watcher(settings, in_process_refresh(settings)) as watcher:
        drop(incoming, "first.csv", first)
        wait_for(lambda: len(watcher.refreshes) == 1, timeout=120)
        gold_after_first = pd.read_csv(settings.paths.gold_customer_csv)
        assert "burst-4" in set(
            pd.read_csv(settings.paths.gold_anomalies_csv)["transaction_id"]
        )
        drop(incoming, "second.csv", second, sep=";")
        wait_for(lambda: len(watcher.refreshes) == 2, timeout=120)
    silver = pd.read_csv(settings.paths.silver_csv)
    assert sorted(silver["transaction_id"]) == sorted(
        [*first["transaction_id"], *second["transaction_id"]]
    )
    anomalies = pd.read_csv(settings.paths.gold_anomalies_csv)
    assert set(anomalies["transaction_id"]) == set(
        silver.loc[silver["anomaly_flag"] != "Normal", "transaction_id"]
    )
    customers = pd.read_csv(settings.paths.gold_customer_csv)
    assert (
        customers["transactions"].sum() == 245 > gold_after_first["transactions"].sum()
    )
    assert query(
        settings, "select after_log_seq, up_to_log_seq from ingestion_refresh"
    ) == [(0, 1), (1, 2)]
    assert [r["status"] for r in log_rows(settings)] == ["loaded", "loaded"]
    assert_accounting(settings)


def test_file_events_are_valid_prefect_events(settings, incoming, prefect_harness):
    from prefect.events import emit_event

    result = ingest_file(write(incoming / "good.csv", sample(120)), settings)
    event = emit_event(**file_event(result))
    assert event is not None
    assert event.event == "ssa.incoming.file-ingested"
    assert event.resource.id == f"ssa.drop.{result.sha256}"
    assert event.payload["rows_read"] == 120


def test_a_second_watcher_is_refused_in_one_line_before_any_warm_up(
    settings, incoming, monkeypatch, capsys
):
    def warm_up(_settings: Settings) -> None:
        raise AssertionError("the second watcher warmed Prefect up")

    monkeypatch.setattr("flows.watcher.warm_up_prefect", warm_up)
    with Watcher(settings, FakeRefresh()):
        code = main(["--data-dir", str(settings.paths.data_path)])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"another watcher is already watching {incoming} "
        f"(it holds {incoming / '.watcher.lock'})"
    ]


def test_a_watcher_killed_with_kill_9_takes_its_temporary_server_along(tmp_path):
    import psutil

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(
        PYTHONUNBUFFERED="1",
        PREFECT_HOME=str(tmp_path / "prefect"),  # no profile's API URL
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    )
    log = tmp_path / "watcher.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.watcher", "--data-dir", str(tmp_path)],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    servers: list[psutil.Process] = []
    try:
        wait_for(lambda: "watching" in log.read_text(), timeout=240)
        servers = [
            child
            for child in psutil.Process(proc.pid).children(recursive=True)
            if "uvicorn" in child.cmdline()
        ]
        assert len(servers) == 1, log.read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        wait_for(lambda: not any(_running(s) for s in servers), timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for server in servers:
            if _running(server):
                server.kill()
    assert "temporary Prefect server (pid" in log.read_text()


def _running(process) -> bool:
    """Alive, not a zombie waiting for init to reap it."""
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_on_duckdb_the_prefect_watcher_stages_and_the_refresh_run_loads(
    settings, incoming, prefect_harness
):
    """DuckDB lets one process at a time open its file: in Prefect mode the
    watcher never opens it, it stages each drop (its source folder kept) and
    asks for a refresh; the refresh run, a process of its own, loads every
    staged file and refreshes."""
    import asyncio

    from flows.ingest import incoming_refresh
    from ssa.intake.staging import staged_files

    duck = settings.model_copy(update={"engine": "duckdb"})
    events: list[dict] = []
    watcher = build_watcher(duck, "prefect", emit=lambda **e: events.append(e))
    with watcher:
        drop(incoming, "good.csv", sample(120))
        wait_for(lambda: any(e["event"] == REFRESH_EVENT for e in events))
        assert watcher.wait_idle(timeout=30)
    assert not duck.warehouse_path.exists()  # the watcher never opened it
    assert [p.name for p in staged_files(incoming)] == ["good.csv"]
    burst = next(e for e in events if e["event"] == REFRESH_EVENT)
    assert burst["payload"]["files"] == ["good.csv"]
    assert burst["payload"]["engine"] == "duckdb"
    # What the on-drop trigger passes: the payload's range, data folder, engine.
    result = asyncio.run(
        incoming_refresh(
            after_log_seq=burst["payload"]["after_log_seq"],
            up_to_log_seq=burst["payload"]["up_to_log_seq"],
            files="good.csv",
            paths={"data_dir": burst["payload"]["data_dir"]},
            engine=burst["payload"]["engine"],
            settings=duck.model_dump(exclude={"paths", "engine"}),
        )
    )
    assert result["refreshed"] and result["files"] == 1
    assert staged_files(incoming) == []
    gold = pd.read_csv(duck.paths.gold_anomalies_csv)
    assert set(gold["transaction_id"]) <= set(sample(120)["transaction_id"])
    assert duck.warehouse_path.exists()
