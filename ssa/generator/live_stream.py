"""The live stream's content: the generator's transactions, cut into
micro-batches by simulated time.

Everything here is a pure function of the settings, so the same seed gives
the same files whatever the wall clock does: the stream is drawn from the
generator a few weeks at a time (``simulation.chunk_days``), the clock speed
is fixed before the first row, and a row belongs to the batch whose window
of simulated time holds it. The asyncio producers (``ssa/generator/simulator.py``)
only decide *when* each row is emitted, never *which* batch it lands in.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ssa.generator import Dataset, generate
from ssa.generator.contract_rows import salted_ids, to_contract
from ssa.intake.source_mapping import LABELS_FOLDER
from ssa.local_time import SECONDS_PER_DAY, day_number, midnight
from ssa.settings import Settings

FILE_PREFIX = "live"
# Salt of the stream's transaction ids: a drop made with make_drop for the
# same day draws the same generator rows, and must not collide with these.
ID_SALT = b"live-stream:"
# A rate the customers cannot make within a year of simulated time is a
# mistake in the settings, not a run to calibrate.
MAX_CALIBRATION_DAYS = 366


@dataclass(frozen=True)
class Chunk:
    """``chunk_days`` simulated days of payments, in time order."""

    index: int
    start_epoch: int
    end_epoch: int
    t: np.ndarray  # simulated UTC epoch of each row, ascending
    customer: np.ndarray  # customer code of each row
    rows: pd.DataFrame  # the CSV contract's text columns
    labels: pd.DataFrame  # transaction_id, is_fraud, fraud_type


@dataclass(frozen=True)
class Batch:
    """One micro-batch file: what it holds and where it went."""

    window: int
    name: str
    rows: int
    frauds: int
    renamed_at: float  # wall time (time.time()) of the rename into the folder


class LiveStream:
    """The simulated clock and the content of every batch, for one Settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        sim, gen = settings.simulation, settings.generator
        self.first_day: date = sim.start or gen.start_date + timedelta(days=gen.days)
        self.offset = settings.rules.utc_offset_seconds
        self.origin = self._midnight(self.first_day)
        self.chunk_seconds = sim.chunk_days * SECONDS_PER_DAY
        self._first: Chunk | None = None  # the speed needs it before the run

    def _midnight(self, day: date) -> int:
        return midnight(day_number(day), self.offset)

    def _day(self, index: int) -> date:
        days = index * self.settings.simulation.chunk_days
        return self.first_day + timedelta(days=days)

    def _generate(self, index: int) -> Dataset:
        shifted = Settings.model_validate(
            {
                **self.settings.model_dump(),
                "generator": {
                    **self.settings.generator.model_dump(),
                    "start_date": self._day(index),
                    "days": self.settings.simulation.chunk_days,
                },
            }
        )
        return generate(shifted)

    def chunk(self, index: int) -> Chunk:
        """Chunk ``index``: the generator's rows for its days, ids salted with
        its first day so that chunks never share an id."""
        if index == 0 and self._first is not None:
            return self._first
        day = self._day(index)
        data = self._generate(index)
        tx = data.transactions
        ids = salted_ids(tx["transaction_id"], ID_SALT + day.isoformat().encode())
        order = np.lexsort((ids.to_numpy(str), tx["created_at_epoch"].to_numpy()))
        tx = tx.iloc[order].reset_index(drop=True)
        ids = ids.iloc[order].reset_index(drop=True)
        planted = data.labels.set_index("transaction_id")
        fraud = tx["transaction_id"].map(planted["is_fraud"]).fillna(0).astype(int)
        kind = tx["transaction_id"].map(planted["scenario"]).where(fraud == 1, "")
        labels = pd.DataFrame(
            {"transaction_id": ids, "is_fraud": fraud, "fraud_type": kind.fillna("")}
        )
        start = self._midnight(day)
        return Chunk(
            index=index,
            start_epoch=start,
            end_epoch=start + self.chunk_seconds,
            t=tx["created_at_epoch"].to_numpy(np.int64),
            customer=tx["customer_id"].cat.codes.to_numpy(np.int64),
            rows=to_contract(tx.assign(transaction_id=ids), self.offset),
            labels=labels,
        )

    @cached_property
    def speed(self) -> float:
        """Simulated seconds per wall second: given, or what the rate needs.
        A run of set duration gets a clock that fits ``rate x duration``
        payments into it (night and noon as the generator makes them); an
        open-ended run, the pace of a mean simulated chunk."""
        sim = self.settings.simulation
        if sim.speed is not None:
            return sim.speed
        assert sim.rate is not None
        self._first = self.chunk(0)
        if sim.duration_seconds is None:
            return sim.rate * self.chunk_seconds / max(len(self._first.t), 1)
        wanted = max(1, math.ceil(sim.rate * sim.duration_seconds))
        times = [self._first.t]
        while sum(len(t) for t in times) <= wanted:
            if len(times) * sim.chunk_days > MAX_CALIBRATION_DAYS:
                raise ValueError(
                    f"simulation.rate={sim.rate:g} for {sim.duration_seconds:g} s "
                    f"is {wanted:,} payments, more than "
                    f"{self.settings.generator.n_customers:,} customers make in "
                    f"{MAX_CALIBRATION_DAYS} days: raise generator.n_customers "
                    "(--customers) or lower the rate"
                )
            times.append(self._times(len(times)))
        end = np.concatenate(times)[wanted]  # rows before it: exactly wanted
        return float(end - self.origin) / sim.duration_seconds

    def _times(self, index: int) -> np.ndarray:
        """Only the simulated times of a chunk (the speed needs no more)."""
        return np.sort(self._generate(index).transactions["created_at_epoch"])

    @property
    def window_seconds(self) -> float:
        """Simulated seconds in one batch."""
        return self.settings.simulation.batch_interval_seconds * self.speed

    def window_of(self, t: np.ndarray) -> np.ndarray:
        return np.floor((t - self.origin) / self.window_seconds).astype(np.int64)

    def window_start(self, window: int) -> float:
        return self.origin + window * self.window_seconds

    def batch_name(self, window: int) -> str:
        """Seed, simulated local start and sequence: sorted names are stream
        order, and two runs of the same seed name their files alike."""
        start = math.floor(self.window_start(window)) + self.offset
        stamp = datetime.fromtimestamp(start, UTC).strftime("%Y%m%dT%H%M%S")
        seed = self.settings.generator.seed
        return f"{FILE_PREFIX}-seed{seed}-{stamp}-{window:07d}.csv"

    def windows_until_now(self, now_epoch: float) -> int:
        """Windows that end before the watcher would call their rows future."""
        tolerance = self.settings.limits.future_tolerance_seconds
        return math.floor((now_epoch + tolerance - self.origin) / self.window_seconds)


def write_atomically(frame: pd.DataFrame, target: Path) -> None:
    """Under a hidden .part name, then renamed: readers see all or nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    os.replace(tmp, target)


def labels_path(batch: Path) -> Path:
    """Where a batch's planted labels go: the labels folder beside it."""
    return batch.parent / LABELS_FOLDER / f"{batch.stem}.labels.csv"


def remove_stale_parts(folder: Path) -> list[Path]:
    """Half-written batches of a simulator killed with SIGKILL: hidden, the
    watcher never reads them, but nothing should stay half-done."""
    stale = [
        *folder.glob(f".{FILE_PREFIX}-*.csv.part"),
        *(folder / LABELS_FOLDER).glob(f".{FILE_PREFIX}-*.labels.csv.part"),
    ]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
