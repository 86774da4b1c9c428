"""Play the live stream into the watched folder in simulated real time.

One asyncio producer per customer active in the current chunk sleeps until
each of its payments is due on the compressed clock and hands it to the
batch of its window; one writer closes each window when the wall clock has
passed its end and every payment of it has arrived, writes it under a
hidden ``.part`` name and renames it into the folder, then its labels into
``labels/``. Which rows a file holds is decided by ``ssa/generator/live_stream.py``
alone: a busy event loop makes a file later, never different.

A stop (SIGINT, SIGTERM, the duration) lets the window in progress finish,
so the last file is complete and nothing is left half-written.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ssa.generator.live_stream import (
    Batch,
    Chunk,
    LiveStream,
    labels_path,
    remove_stale_parts,
    write_atomically,
)
from ssa.local_time import SECONDS_PER_DAY
from ssa.settings import Settings

logger = logging.getLogger("ssa.generator.simulator")


@dataclass
class _Window:
    """A batch being filled: what it expects and what has arrived."""

    expected: int = 0
    arrived: list[tuple[int, int]] = field(default_factory=list)  # (chunk, row)
    full: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class RunSummary:
    """What a run emitted, for the flow's result and the soak benchmark."""

    speed: float
    batches: list[Batch]
    producers_peak: int
    stopped_by: str

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)

    @property
    def frauds(self) -> int:
        return sum(b.frauds for b in self.batches)

    def as_dict(self) -> dict[str, object]:
        return {
            "batches": len(self.batches),
            "rows": self.rows,
            "frauds": self.frauds,
            "speed": round(self.speed, 3),
            "producers_peak": self.producers_peak,
            "stopped_by": self.stopped_by,
            "first_file": self.batches[0].name if self.batches else None,
            "last_file": self.batches[-1].name if self.batches else None,
        }


class Simulator:
    """The producers, the writer and the chunk loader of one run."""

    def __init__(
        self,
        settings: Settings,
        *,
        folder: Path | None = None,
        stream: LiveStream | None = None,
    ) -> None:
        self.settings = settings
        self.folder = folder or settings.paths.incoming_path
        self.stream = stream or LiveStream(settings)
        self._windows: dict[int, _Window] = defaultdict(_Window)
        self._chunks: dict[int, Chunk] = {}
        self._known_until = float("-inf")  # simulated time the chunks cover
        self._known = asyncio.Event()
        self._producers: set[asyncio.Task[None]] = set()
        self._peak = 0
        self._wall0 = 0.0

    def check_duration(self) -> None:
        """A run whose clock would pass the present fails before it starts:
        the watcher rejects rows more than limits.future_tolerance_seconds
        ahead of the moment it reads them."""
        duration = self.settings.simulation.duration_seconds
        if duration is None:
            return
        end = self.stream.origin + duration * self.stream.speed
        last_ok = time.time() + self.settings.limits.future_tolerance_seconds
        if end > last_ok:
            ahead = (end - last_ok) / SECONDS_PER_DAY
            raise ValueError(
                f"simulation.start={self.stream.first_day}: {duration:g} s at "
                f"{self.stream.speed:,.0f}x ends {ahead:,.1f} days in the future, "
                "rows the watcher would reject; give an earlier start "
                "(--start) or a shorter duration"
            )

    def _wall(self, t: float) -> float:
        """The loop time at which simulated time ``t`` is due."""
        return self._wall0 + (t - self.stream.origin) / self.stream.speed

    async def run(self, stop: asyncio.Event) -> RunSummary:
        """Emit until ``stop`` is set (or the duration or the present is
        reached); returns once the last window is written."""
        self.check_duration()
        loop = asyncio.get_running_loop()
        stale = remove_stale_parts(self.folder)
        if stale:
            logger.warning(
                "removed %d half-written file(s) of a killed run", len(stale)
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        speed = self.stream.speed  # before the clock starts: it draws chunk 0
        first = await asyncio.to_thread(self.stream.chunk, 0)
        self._wall0 = loop.time()
        loader = asyncio.create_task(self._load_chunks(first))
        summary = RunSummary(speed=speed, batches=[], producers_peak=0, stopped_by="")
        try:
            summary.stopped_by = await self._write_windows(stop, summary.batches)
        finally:
            loader.cancel()
            for task in list(self._producers):
                task.cancel()
            await asyncio.gather(loader, *self._producers, return_exceptions=True)
        summary.producers_peak = self._peak
        return summary

    # -- chunks and producers ----------------------------------------------

    async def _load_chunks(self, first: Chunk) -> None:
        """Know each chunk before its time comes; start its producers then."""
        chunk = first
        while True:
            self._admit(chunk)
            await asyncio.sleep(max(0.0, self._wall(chunk.start_epoch) - _now()))
            self._start_producers(chunk)
            following = await asyncio.to_thread(self.stream.chunk, chunk.index + 1)
            await asyncio.sleep(0)  # let due producers run before admitting
            chunk = following

    def _admit(self, chunk: Chunk) -> None:
        """Count what each window expects from this chunk."""
        self._chunks[chunk.index] = chunk
        windows, counts = np.unique(self.stream.window_of(chunk.t), return_counts=True)
        for window, count in zip(windows.tolist(), counts.tolist(), strict=True):
            self._windows[window].expected += count
        self._known_until = float(chunk.end_epoch)
        self._known.set()

    def _start_producers(self, chunk: Chunk) -> None:
        """One producer per customer who pays in this chunk."""
        order = np.argsort(chunk.customer, kind="stable")
        customers, starts = np.unique(chunk.customer[order], return_index=True)
        for rows in np.split(order, starts[1:]):
            task = asyncio.create_task(self._produce(chunk, rows))
            self._producers.add(task)
            task.add_done_callback(self._producers.discard)
        self._peak = max(self._peak, len(self._producers))
        logger.info(
            "simulated %s: %d producers (one per active customer), %d payments",
            pd.Timestamp(chunk.start_epoch + self.stream.offset, unit="s").date(),
            len(customers),
            len(chunk.t),
        )

    async def _produce(self, chunk: Chunk, rows: np.ndarray) -> None:
        """A customer's payments, each when the clock reaches it."""
        times = chunk.t[rows]
        windows = self.stream.window_of(times)
        for row, t, window in zip(
            rows.tolist(), times.tolist(), windows.tolist(), strict=True
        ):
            delay = self._wall(t) - _now()
            if delay > 0:
                await asyncio.sleep(delay)
            state = self._windows[window]
            state.arrived.append((chunk.index, row))
            if len(state.arrived) >= state.expected:
                state.full.set()

    # -- the writer ----------------------------------------------------------

    async def _write_windows(self, stop: asyncio.Event, batches: list[Batch]) -> str:
        """Close window after window until the last one; returns why it
        stopped. The duration ends the run after a fixed number of windows,
        a stop after the window in progress on the wall clock when it came:
        a writer running late still writes every window up to there."""
        interval = self.settings.simulation.batch_interval_seconds
        duration = self.settings.simulation.duration_seconds
        last = math.ceil(duration / interval) - 1 if duration is not None else None
        present = self.stream.windows_until_now(time.time())
        stop_window: list[int] = []

        async def note_stop() -> None:
            await stop.wait()
            stop_window.append(math.floor((_now() - self._wall0) / interval))

        noting = asyncio.create_task(note_stop())
        try:
            window = 0
            while True:
                if window >= present:
                    logger.warning(
                        "the simulated clock reached the present: later rows "
                        "would be rejected as future; stopping"
                    )
                    return "present"
                await self._close(window, batches)
                if last is not None and window >= last:
                    return "duration"
                if stop_window and window >= stop_window[0]:
                    return "signal"
                window += 1
        finally:
            noting.cancel()

    async def _close(self, window: int, batches: list[Batch]) -> None:
        """Wait for the window's end and for its every row, then write it."""
        end = self.stream.window_start(window + 1)
        await asyncio.sleep(max(0.0, self._wall(end) - _now()))
        while self._known_until < end:
            self._known.clear()
            await self._known.wait()
        state = self._windows[window]
        while len(state.arrived) < state.expected:
            state.full.clear()
            await state.full.wait()
        del self._windows[window]  # every row arrived: none comes later
        if state.expected:
            batches.append(await asyncio.to_thread(self._write, window, state))
        self._forget_chunks_before(end)

    def _write(self, window: int, state: _Window) -> Batch:
        """The window's rows in stream order, then their labels."""
        parts, labels = [], []
        arrived = sorted(state.arrived)
        by_chunk: dict[int, list[int]] = defaultdict(list)
        for chunk_index, row in arrived:
            by_chunk[chunk_index].append(row)
        for chunk_index, rows in sorted(by_chunk.items()):
            chunk = self._chunks[chunk_index]
            parts.append(chunk.rows.iloc[rows])
            labels.append(chunk.labels.iloc[rows])
        frame = pd.concat(parts, ignore_index=True)
        label_frame = pd.concat(labels, ignore_index=True)
        target = self.folder / self.stream.batch_name(window)
        write_atomically(frame, target)
        renamed_at = time.time()
        write_atomically(label_frame, labels_path(target))
        return Batch(
            window=window,
            name=target.name,
            rows=len(frame),
            frauds=int(label_frame["is_fraud"].sum()),
            renamed_at=renamed_at,
        )

    def _forget_chunks_before(self, epoch: float) -> None:
        for index in [i for i, c in self._chunks.items() if c.end_epoch <= epoch]:
            del self._chunks[index]


def _now() -> float:
    return asyncio.get_running_loop().time()
