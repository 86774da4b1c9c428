"""Small drop files and warehouse probes shared by the ingest and watcher tests."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from flows.make_drop import drop_frame
from ssa.intake.ingest_log import LOG_COLUMNS
from ssa.settings import REPO_ROOT, Settings

SMALL_GENERATOR = {"n_customers": 40, "n_merchants": 30, "days": 7}
FAST_INGEST = {
    "stable_seconds": 0.2,
    "poll_seconds": 0.02,
    "debounce_seconds": 0.3,
    "retry_seconds": 0.2,
}


def settings_for(data_dir: Path, **ingest: float) -> Settings:
    return Settings(
        paths={"data_dir": data_dir},
        generator=SMALL_GENERATOR,
        ingest={**FAST_INGEST, **ingest},
    )


@lru_cache(maxsize=8)
def _frame(rows: int, start: date) -> pd.DataFrame:
    settings = Settings(generator=SMALL_GENERATOR)
    return drop_frame(settings, rows, start)


def sample(rows: int = 120, start: date = date(2026, 10, 8)) -> pd.DataFrame:
    """Generated rows in the CSV contract (a copy: tests may spoil it)."""
    return _frame(rows, start).copy()


def write(
    path: Path, frame: pd.DataFrame, *, sep: str = ",", encoding: str = "utf-8"
) -> Path:
    """Write a drop in place (not atomically): tests that need it say so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, sep=sep, encoding=encoding, lineterminator="\n")
    return path


def drop(folder: Path, name: str, frame: pd.DataFrame, **kwargs: Any) -> Path:
    """The drop convention: write a hidden .part file, then rename it in."""
    tmp = write(folder / f".{name}.part", frame, **kwargs)
    return tmp.rename(folder / name)


def query(settings: Settings, sql: str, params: tuple = ()) -> list[tuple]:
    path = settings.warehouse_path
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise


def bronze_ids(settings: Settings) -> list[str]:
    return [
        r[0] for r in query(settings, "select transaction_id from bronze_transactions")
    ]


def log_rows(settings: Settings) -> list[dict[str, Any]]:
    rows = query(settings, f"select {', '.join(LOG_COLUMNS)} from ingestion_log")
    return [dict(zip(LOG_COLUMNS, r, strict=True)) for r in sorted(rows)]


def assert_accounting(settings: Settings) -> None:
    """rows read = loaded + rejected + duplicates + skipped, for every
    logged file."""
    for row in log_rows(settings):
        assert row["rows_read"] == (
            row["rows_loaded"]
            + row["rows_rejected"]
            + row["rows_duplicate"]
            + row["rows_skipped"]
        ), row


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll until predicate holds; fail (not hang) if it never does."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(0.02)


def kill_9_once_marked(script: str, *args: str, marker: Path) -> int:
    """Run ``python -c script args``; SIGKILL it once it creates ``marker``
    (the script writes it inside the transaction, just before the commit)."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO_ROOT)
    try:
        wait_for(marker.exists)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc.returncode
