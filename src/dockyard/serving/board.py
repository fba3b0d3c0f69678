"""A tiny shared-memory table of worker states, shared by the supervisor and every worker.

Each worker slot holds (state, busy_since, connections). Workers write their own slot; the supervisor
resets a slot when its worker dies. ``/ping`` in any worker reads the whole table, so that it
answers 200 only when every worker holds a loaded model. The table is a memory-mapped file, not
``multiprocessing.shared_memory``, whose resource tracker (before Python 3.13) unlinks segments
that child processes attach to.
"""

from __future__ import annotations

import mmap
import os
import time
from enum import IntEnum
from pathlib import Path

FIELDS = 3  # state, busy_since (monotonic seconds; 0 = idle), open connections


class SlotState(IntEnum):
    EMPTY = 0  # no process
    LOADING = 1  # process started, model not loaded yet
    READY = 2
    FAILED = 3  # the model failed to load; the process is exiting


class Board:
    def __init__(self, path: Path, slots: int, create: bool = False) -> None:
        self.path = path
        self.slots = slots
        size = slots * FIELDS * 8
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            if create:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self._cells = memoryview(self._map).cast("d")

    def close(self) -> None:
        self._cells.release()
        self._map.close()

    def state(self, slot: int) -> SlotState:
        return SlotState(int(self._cells[slot * FIELDS]))

    def set_state(self, slot: int, state: SlotState) -> None:
        self._cells[slot * FIELDS] = state

    def reset(self, slot: int) -> None:
        base = slot * FIELDS
        self._cells[base] = SlotState.EMPTY
        self._cells[base + 1] = 0
        self._cells[base + 2] = 0

    def ready_count(self) -> int:
        cells = self._cells
        ready = float(SlotState.READY)
        return sum(1 for slot in range(self.slots) if cells[slot * FIELDS] == ready)

    def all_ready(self) -> bool:
        return self.ready_count() == self.slots

    def mark_busy(self, slot: int) -> None:
        self._cells[slot * FIELDS + 1] = time.monotonic()

    def mark_idle(self, slot: int) -> None:
        self._cells[slot * FIELDS + 1] = 0.0

    def busy_for(self, slot: int, now: float) -> float:
        """Seconds the slot's worker has been inside the model (0 when idle)."""
        since = self._cells[slot * FIELDS + 1]
        return now - since if since else 0.0

    def set_connections(self, slot: int, count: int) -> None:
        self._cells[slot * FIELDS + 2] = count

    def fewest_connections(self, besides: int) -> float | None:
        """The fewest open connections of a ready worker other than ``besides`` (None: no other is ready)."""
        cells = self._cells
        ready = float(SlotState.READY)
        counts = [
            cells[slot * FIELDS + 2]
            for slot in range(self.slots)
            if slot != besides and cells[slot * FIELDS] == ready
        ]
        return min(counts) if counts else None
