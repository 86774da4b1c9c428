"""The soak benchmark's arithmetic: which refresh took each batch into Gold,
how late, and which files the live feed says arrived. The soak itself runs
minutes per rate (bench/soak.py); these check what it computes from the
books and files it reads."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.soak import (
    BatchLag,
    LogEntry,
    RefreshEntry,
    batch_lags,
    feed_files,
    mismatched,
    unread,
)
from ssa.generator.live_stream import Batch
from ssa.report.dashboard.data import DashboardData, arrival_table
from ssa.report.dashboard.page import live_feed


def _batch(window: int, renamed_at: float, rows: int = 10) -> Batch:
    return Batch(
        window=window,
        name=f"live-seed1-x-{window:07d}.csv",
        rows=rows,
        frauds=0,
        renamed_at=renamed_at,
    )


BATCHES = [_batch(0, 100.0), _batch(1, 101.0), _batch(2, 102.0), _batch(3, 103.0)]
# Labels files share the log's sequence: batch 1 is entry 3, not 2.
LOG = {
    BATCHES[0].name: LogEntry(1, 10, "b0"),
    BATCHES[1].name: LogEntry(3, 10, "b1"),
    BATCHES[2].name: LogEntry(5, 10, "b2"),
    BATCHES[3].name: LogEntry(7, 10, "b3"),
}


def test_each_batch_takes_the_first_refresh_covering_it_and_its_export_write() -> None:
    refreshes = [
        RefreshEntry(up_to_log_seq=6, started=104.0, finished=109.0),
        RefreshEntry(up_to_log_seq=2, started=100.5, finished=103.0),
    ]
    # The export is written during each refresh; a write outside any refresh
    # (another process, a full run) belongs to none.
    writes = [101.5, 99.0, 106.0]
    lags = batch_lags(BATCHES, LOG, refreshes, writes)
    assert lags[0] == BatchLag(1.5, 3.0, True)
    assert lags[1] == BatchLag(5.0, 8.0, True)  # log 3 > 2: the second refresh
    assert lags[2] == BatchLag(4.0, 7.0, True)
    assert lags[3].to_export == math.inf and lags[3].to_refresh_end == math.inf


def test_a_refresh_whose_export_write_was_not_seen_counts_until_its_end() -> None:
    refreshes = [RefreshEntry(up_to_log_seq=7, started=104.0, finished=109.0)]
    lags = batch_lags(BATCHES[:1], LOG, refreshes, export_writes=[])
    assert lags == [BatchLag(9.0, 9.0, False)]


def test_a_batch_missing_from_the_log_never_reached_gold() -> None:
    refreshes = [RefreshEntry(up_to_log_seq=99, started=104.0, finished=109.0)]
    lags = batch_lags([_batch(9, 100.0)], LOG, refreshes, [105.0])
    assert not math.isfinite(lags[0].to_export)


def test_mismatched_names_logged_batches_whose_rows_differ_in_log_or_bronze() -> None:
    per_batch = {"b0": 10, "b1": 9, "b2": 10}  # b1 lost a row in Bronze
    log = {**LOG, BATCHES[2].name: LogEntry(5, 8, "b2")}  # log says 8 of 10
    del log[BATCHES[3].name]  # never read: unread() tells waiting from lost
    assert mismatched(BATCHES, log, per_batch) == [BATCHES[1].name, BATCHES[2].name]
    assert mismatched(BATCHES[:1], LOG, per_batch) == []


def test_unread_tells_a_file_still_in_the_folder_from_a_lost_one(
    tmp_path: Path,
) -> None:
    log = {BATCHES[0].name: LOG[BATCHES[0].name]}
    (tmp_path / BATCHES[1].name).write_text("transaction_id\n")
    (tmp_path / f".{BATCHES[2].name}.part").write_text("")  # hidden: not the file
    waiting, lost = unread(BATCHES, log, tmp_path)
    assert waiting == [BATCHES[1].name]
    assert lost == [BATCHES[2].name, BATCHES[3].name]


def _feed(names: list[str]) -> str:
    frame = pd.DataFrame(
        {
            "log_seq": range(len(names), 0, -1),
            "file_name": names,
            "source": "native",
            "status": "loaded",
            "rows_loaded": 10,
            "rows_rejected": 0,
            "rows_duplicate": 0,
            "rows_skipped": 0,
            "finished_at": "2026-12-01T12:00:00.000+00:00",
        }
    )
    data = DashboardData(
        kpis={"transactions": 20, "flagged": 1},
        bairros=pd.DataFrame(),
        daily=pd.DataFrame(),
        hour_channel=pd.DataFrame(),
        top=pd.DataFrame(),
        arrivals=arrival_table(frame, -3 * 3600),
        generated_at="01/12/2026 09:00",
        zone="America/Bahia",
    )
    return live_feed(data, "1")


def test_feed_files_reads_the_file_names_the_dashboard_feed_lists() -> None:
    names = ["live-seed1-x-0000001.csv", "labels/live-seed1-x-0000001.labels.csv"]
    assert feed_files(_feed(names)) == set(names)
    assert feed_files(_feed([])) == set()


def test_feed_files_is_empty_for_a_feed_cut_short() -> None:
    text = _feed(["live-seed1-x-0000001.csv"])
    assert feed_files(text[: len(text) // 2]) == set()
    assert feed_files("") == set()
