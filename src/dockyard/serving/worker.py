"""A worker process: one uvicorn server on the supervisor's listening socket, holding one model.

The HTTP server starts at once, so /ping can answer 503 while the model loads in a background
thread; the runner (which needs the main thread, for its SIGALRM deadline) is installed on the
event loop when loading finishes. Started by the supervisor as ``python -m dockyard.serving.worker``
with its instructions in the ``DOCKYARD_WORKER`` environment variable.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from dockyard.serving import logs
from dockyard.serving.app import ServingApp
from dockyard.serving.board import Board, SlotState
from dockyard.serving.handler import Pipeline, build_pipeline
from dockyard.serving.metrics import MULTIPROC_ENV, WorkerMetrics
from dockyard.serving.runner import Runner
from dockyard.serving.settings import ServerSettings, from_json

SPEC_ENV = "DOCKYARD_WORKER"
LOAD_FAILED = 3  # exit status telling the supervisor that the model could not be loaded

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
        self.app = ServingApp(settings, self.board, slot, metrics, on_startup=self._start_loading)
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                loop="uvloop",
                http="httptools",
                lifespan="on",
                access_log=False,
                log_config=None,
                server_header=False,
                timeout_graceful_shutdown=int(settings.graceful_timeout),
            )
        )
        self.exit_code = 0

    def _start_loading(self) -> None:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._load)
        future.add_done_callback(self._loaded)
        loop.call_later(1.0, self._tick, os.getppid())

    def _tick(self, parent: int) -> None:
        """Every second: write the metrics tallied since the last tick; stop when orphaned (a
        supervisor killed with SIGKILL cannot stop its workers: they notice and stop themselves)."""
        if self.metrics is not None:
            self.metrics.flush()
        if os.getppid() != parent:
            log.error("worker %d: the supervisor is gone; stopping", self.slot)
            self.server.should_exit = True
            return
        asyncio.get_running_loop().call_later(1.0, self._tick, parent)

    def _load(self) -> tuple[Pipeline, float]:
        started = time.perf_counter()
        pipeline = build_pipeline(self.settings)
        pipeline.load()
        return pipeline, time.perf_counter() - started

    def _loaded(self, future: asyncio.Future[tuple[Pipeline, float]] | Future[Any]) -> None:
        try:
            pipeline, seconds = future.result()
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
            return
        metrics = self.metrics
        self.app.runner = Runner(
            pipeline,
            self.settings.timeout,
            self.board,
            self.slot,
            self.settings.max_batch_size,
            self.settings.max_batch_delay_ms / 1000,
            on_batch=metrics.observe_batch if metrics is not None else None,
        )
        if self.settings.batching and self.app.runner.batcher is None:
            log.warning(
                "batching is off: this handler's transform_fn takes raw bodies, which cannot be stacked"
            )
        if metrics is not None:
            metrics.set_load_time(seconds)
        # The model and the libraries are loaded for good: move them out of the collector's view, so
        # that the full collections that request garbage triggers do not walk them every time.
        gc.collect()
        gc.freeze()
        self.board.set_state(self.slot, SlotState.READY)
        log.info("worker %d loaded the model in %.3f s", self.slot, seconds)

    def run(self) -> int:
        self.server.run(sockets=[self.socket])
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
