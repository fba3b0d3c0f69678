"""The model's deadline: a ``SIGALRM`` interval timer that interrupts user code running too long.

Python runs signal handlers in the main thread only, so the model runs there (see
:mod:`dockyard.serving.runner`) and the HTTP server runs in another thread that blocks ``SIGALRM``.
When the timer fires past the running request's deadline, :class:`ModelTimeout` is raised inside the
handler (interrupting sleeps and Python loops); the caller gets a 504 at once and the worker serves
on. The timer is set lazily: a request that starts while one is pending only records its start time,
and a timer that fires early is moved to the running request's deadline (two ``setitimer`` calls per
request cost about a fifth of a no-op request's time). Code stuck in C that never returns to Python
cannot be interrupted that way; the supervisor's watchdog sees the worker busy past the deadline on
the board and replaces the process.
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from types import FrameType

from dockyard.serving.board import Board
from dockyard.serving.errors import ModelTimeout

log = logging.getLogger("dockyard.serving")


class Deadline:
    """``arm()`` before user code, ``disarm()`` after; install from the main thread."""

    def __init__(self, timeout: float, board: Board, slot: int) -> None:
        self.timeout = timeout
        self.board = board
        self.slot = slot
        self._armed = False  # a request is running its user code
        self._started = 0.0  # when it started (monotonic)
        self._pending = False  # the interval timer is set
        signal.signal(signal.SIGALRM, self._on_alarm)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        self._pending = False
        if not self._armed:
            return  # idle: the next request sets the timer again
        remaining = self._started + self.timeout - time.monotonic()
        if remaining > 0:  # set by an earlier request: move it to this one's deadline
            self._pending = True
            signal.setitimer(signal.ITIMER_REAL, remaining)
            return
        self._armed = False
        stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
        log.error(
            "request exceeded the %g s timeout; the handler was interrupted at:\n%s", self.timeout, stack
        )
        raise ModelTimeout(f"the model did not answer within the {self.timeout:g} s timeout")

    def arm(self) -> None:
        self.board.mark_busy(self.slot)
        self._started = time.monotonic()
        self._armed = True
        if not self._pending:
            self._pending = True
            signal.setitimer(signal.ITIMER_REAL, self.timeout)

    def disarm(self) -> None:
        self._armed = False  # the timer stays set; firing while idle is a no-op
        self.board.mark_idle(self.slot)
