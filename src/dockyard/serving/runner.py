"""Runs requests through the pipeline on the worker's event-loop thread, under a deadline.

Why on the loop thread, not a thread pool: a CPU-bound predict gains nothing from threads under
the GIL, and a thread hop costs tens of microseconds and GIL hand-offs on every request. One
worker process per core gives the parallelism instead. The deadline is a ``SIGALRM`` interval
timer: when it fires past a request's deadline, :class:`ModelTimeout` is raised inside the handler
(interrupting sleeps and Python loops), the client gets a 504 at once and the worker goes on
serving. The timer is set lazily: a request that starts while one is pending only records its start
time, and a timer that fires early is moved to the running request's deadline. Two ``setitimer``
calls per request cost about a fifth of a no-op request's time. Code stuck in C that never returns
to Python cannot be interrupted that way; the supervisor's watchdog sees the worker busy past the
deadline and replaces the process.
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

from dockyard.serving.batching import AdaptiveBatcher
from dockyard.serving.board import Board
from dockyard.serving.context import RequestContext
from dockyard.serving.errors import ModelTimeout
from dockyard.serving.handler import Pipeline

log = logging.getLogger("dockyard.serving")


class Runner:
    def __init__(
        self,
        pipeline: Pipeline,
        timeout: float,
        board: Board,
        slot: int,
        max_batch_size: int = 1,
        max_batch_delay: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.timeout = timeout
        self.board = board
        self.slot = slot
        self._armed = False  # a request is running its user code
        self._started = 0.0  # when it started (monotonic)
        self._pending = False  # the interval timer is set
        self.batcher: AdaptiveBatcher | None = None
        if max_batch_size > 1 and pipeline.batchable:
            self.batcher = AdaptiveBatcher(self._timed_predict, max_batch_size, max_batch_delay, on_batch)
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

    def _arm(self) -> None:
        self.board.mark_busy(self.slot)
        self._started = time.monotonic()
        self._armed = True
        if not self._pending:
            self._pending = True
            signal.setitimer(signal.ITIMER_REAL, self.timeout)

    def _disarm(self) -> None:
        self._armed = False  # the timer stays set; firing while idle is a no-op
        self.board.mark_idle(self.slot)

    def _timed_predict(self, inputs: Any, context: Any) -> Any:
        self._arm()
        try:
            return self.pipeline.predict(inputs, context)
        finally:
            self._disarm()

    def run(self, body: bytes, context: RequestContext) -> tuple[bytes, str]:
        """The whole request at once (no batching): decode, predict and encode under one deadline."""
        pipeline = self.pipeline
        self._arm()
        try:
            return pipeline.encode(pipeline.predict(pipeline.decode(body, context), context), context)
        finally:
            self._disarm()

    async def run_batched(self, body: bytes, context: RequestContext) -> tuple[bytes, str]:
        assert self.batcher is not None
        pipeline = self.pipeline
        self._arm()
        try:
            inputs = pipeline.decode(body, context)
        finally:
            self._disarm()
        outputs = await self.batcher.submit(inputs, context)
        self._arm()
        try:
            return pipeline.encode(outputs, context)
        finally:
            self._disarm()
