"""A worker process: one uvicorn server on the supervisor's listening socket, holding one model.

Two threads. The HTTP server's event loop runs in a thread of its own, so /ping answers (503 while
the model loads, 200 after) even while the model predicts for seconds. The main thread loads the
model, then runs every request's user code (see :mod:`dockyard.serving.runner`): Python delivers
signals to the main thread only, and the ``SIGALRM`` deadline must interrupt user code. SIGTERM and
SIGINT reach the event loop through the signal wakeup fd, even while the main thread is deep in C
code; the server then stops accepting, finishes every request it has read, closes keep-alive
connections after their response, and exits. Started by the supervisor as
``python -m dockyard.serving.worker`` with its instructions in the ``DOCKYARD_WORKER`` environment
variable.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dockyard.serving import logs
from dockyard.serving.accept import FairServer
from dockyard.serving.app import ServingApp
from dockyard.serving.board import Board, SlotState
from dockyard.serving.coalesce import coalescing
from dockyard.serving.deadline import Deadline
from dockyard.serving.handler import build_pipeline
from dockyard.serving.metrics import MULTIPROC_ENV, WorkerMetrics
from dockyard.serving.multi_model import ModelShelf
from dockyard.serving.runner import Jobs, Runner
from dockyard.serving.settings import ServerSettings, from_json
from dockyard.serving.stalls import HeadWatch

SPEC_ENV = "DOCKYARD_WORKER"
LOAD_FAILED = 3  # exit status telling the supervisor that the model could not be loaded
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
SWITCH_INTERVAL = 0.001  # seconds; see Worker.run

log = logging.getLogger("dockyard.serving")


class Worker:
    def __init__(self, settings: ServerSettings, slot: int, listen_fd: int, board_path: str) -> None:
        self.settings = settings
        self.slot = slot
        self.board = Board(Path(board_path), settings.workers)
        self.board.set_state(slot, SlotState.LOADING)
        self.socket = socket.socket(fileno=listen_fd)
        metrics = WorkerMetrics() if os.environ.get(MULTIPROC_ENV) else None
        self.metrics = metrics
        self.jobs: Jobs = Jobs()
        self.app = ServingApp(settings, self.board, slot, metrics, on_startup=self._on_startup)
        self.server = FairServer(
            uvicorn.Config(
                self.app,
                loop="uvloop",
                http=coalescing(HttpToolsProtocol),
                lifespan="on",
                access_log=False,
                log_config=None,
                server_header=False,
                # Nothing here reads the client's address: X-Forwarded-* parsing would be work per
                # request for no one.
                proxy_headers=False,
                timeout_graceful_shutdown=int(settings.graceful_timeout),
            ),
            self.board,
            slot,
        )
        self.heads = HeadWatch(settings.body_timeout)
        self.exit_code = 0
        # Signals wake the event loop through this pair: the C-level handler writes the signal's
        # number at once, whatever the main thread is doing.
        self._wakeup_read, self._wakeup_write = socket.socketpair()
        self._wakeup_read.setblocking(False)
        self._wakeup_write.setblocking(False)

    # --- the HTTP thread -----------------------------------------------------------------------------

    def _serve_http(self) -> None:
        # Only the main thread may take SIGALRM (the deadline) and the stop signals.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, *STOP_SIGNALS})
        try:
            self.server.run(sockets=[self.socket])
        except BaseException:
            log.exception("worker %d: the HTTP server failed", self.slot)
            self.exit_code = self.exit_code or 1
        finally:
            self.jobs.put(None)  # the model thread stops once every queued request is answered

    def _on_startup(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self._wakeup_read.fileno(), self._on_wakeup)
        loop.call_later(1.0, self._tick, os.getppid())

    def _on_wakeup(self) -> None:
        try:
            received = self._wakeup_read.recv(512)
        except BlockingIOError:
            return
        if any(number in received for number in STOP_SIGNALS):
            self.server.should_exit = True

    def _tick(self, parent: int) -> None:
        """Every second: write the metrics tallied since the last tick, time out stalled request heads
        and bodies, and stop when orphaned (a supervisor killed with SIGKILL cannot stop its workers)."""
        if self.metrics is not None:
            self.metrics.flush()
        now = time.monotonic()
        self.app.expire_reads(now)
        if self.heads.sweep(self.server.server_state.connections, now):
            log.info("worker %d closed connections whose request head stopped arriving", self.slot)
        if os.getppid() != parent:
            log.error("worker %d: the supervisor is gone; stopping", self.slot)
            self.server.should_exit = True
            return
        asyncio.get_running_loop().call_later(1.0, self._tick, parent)

    # --- the main thread -----------------------------------------------------------------------------

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self.server.should_exit = True  # also told through the wakeup fd; this covers the load phase

    def _serve_models(self) -> Runner:
        """Multi-model serving: no model of the worker's own; ``/models`` loads them on request."""
        self.app.models = ModelShelf(self.settings, self.board.path.parent / "models")
        runner = Runner(None, Deadline(self.settings.timeout, self.board, self.slot), self.jobs)
        self.app.runner = runner
        self.board.set_state(self.slot, SlotState.READY)
        log.info("worker %d serves the multi-model API", self.slot)
        return runner

    def _load(self) -> Runner | None:
        if self.settings.multi_model:
            return self._serve_models()
        started = time.perf_counter()
        try:
            pipeline = build_pipeline(self.settings)
            deadline = Deadline(self.settings.timeout, self.board, self.slot)
            pipeline.load()
        except BaseException as exc:
            # The cause on the message line itself: a log tail (FailureReason, `dockyard run`) shows it
            # even when the traceback is cut off.
            log.exception(
                "worker %d could not load the model from %s: %s: %s",
                self.slot,
                self.settings.model_dir,
                type(exc).__name__,
                exc,
            )
            self.board.set_state(self.slot, SlotState.FAILED)
            self.exit_code = LOAD_FAILED
            self.server.should_exit = True
            return None
        seconds = time.perf_counter() - started
        metrics = self.metrics
        runner = Runner(
            pipeline,
            deadline,
            self.jobs,
            self.settings.max_batch_size,
            self.settings.max_batch_delay_ms / 1000,
            on_batch=metrics.observe_batch if metrics is not None else None,
        )
        if self.settings.batching and runner.batcher is None:
            log.warning(
                "batching is off: this handler's transform_fn takes raw bodies, which cannot be stacked"
            )
        if metrics is not None:
            metrics.set_load_time(seconds)
        # The model and the libraries are loaded for good: move them out of the collector's view, so
        # that the full collections that request garbage triggers do not walk them every time.
        gc.collect()
        gc.freeze()
        self.app.runner = runner
        self.board.set_state(self.slot, SlotState.READY)
        log.info("worker %d loaded the model in %.3f s", self.slot, seconds)
        return runner

    def run(self) -> int:
        # Two threads hand every request to each other: with the default 5 ms switch interval, a thread
        # woken for a request may wait that long for the GIL while the other runs on (p99 at c=32).
        # 0.5 ms forced so many switches that a no-op request cost 97 us of CPU against 67 at 1 ms
        # (same run), for no better p99 with a real model.
        sys.setswitchinterval(SWITCH_INTERVAL)
        for number in STOP_SIGNALS:
            signal.signal(number, self._on_stop_signal)
        signal.set_wakeup_fd(self._wakeup_write.fileno(), warn_on_full_buffer=False)
        http = threading.Thread(target=self._serve_http, name="http")
        http.start()
        runner = self._load()
        if runner is not None:
            runner.serve()  # returns when the HTTP server has stopped
        http.join()
        if self.metrics is not None:
            self.metrics.flush()  # the last second's requests
        return self.exit_code


def main() -> None:
    spec = orjson.loads(os.environ[SPEC_ENV])
    settings = from_json(spec["settings"])
    logs.configure(settings.log_level, worker=spec["slot"])
    worker = Worker(settings, spec["slot"], spec["fd"], spec["board"])
    sys.exit(worker.run())


if __name__ == "__main__":
    main()
