"""The supervisor: binds the port, starts N worker processes, restarts the dead, stops on SIGTERM.

Workers are separate interpreters (``python -m dockyard.serving.worker``) that inherit the one
listening socket, so a segfault, ``os._exit`` or an out-of-memory kill in user code loses only
that worker's in-flight requests. The supervisor itself never imports user code or the model.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import orjson

from dockyard.serving.board import Board, SlotState
from dockyard.serving.metrics import MULTIPROC_ENV
from dockyard.serving.settings import ServerSettings, to_json
from dockyard.serving.worker import LOAD_FAILED, SPEC_ENV

log = logging.getLogger("dockyard.serving")

WATCHDOG_GRACE = 5.0  # seconds past the request timeout before a stuck worker is killed
MAX_BACKOFF = 30.0
TICK = 0.05


class StartupError(Exception):
    """The server cannot start (port taken, bad address); the message says which and why."""


@dataclass
class Slot:
    index: int
    process: subprocess.Popen[bytes] | None = None
    failures: int = 0  # consecutive deaths without ever becoming ready
    restart_at: float = 0.0
    was_ready: bool = False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def describe_exit(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (killed: out of memory, or by the watchdog)" if name == "SIGKILL" else ""
        return f"was killed by {name}{hint}"
    if code == LOAD_FAILED:
        return "could not load the model"
    return f"exited with status {code}"


class Supervisor:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.slots = [Slot(index) for index in range(settings.workers)]
        self.stopping = False
        self.workdir = Path(tempfile.mkdtemp(prefix="dockyard-serve-"))
        self.board = Board(self.workdir / "board", settings.workers, create=True)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            log.info("received %s: finishing in-flight requests, then stopping", signal.Signals(signum).name)
        self.stopping = True

    def _spawn(self, slot: Slot, listen_fd: int) -> None:
        spec = {
            "settings": to_json(self.settings),
            "slot": slot.index,
            "fd": listen_fd,
            "board": str(self.board.path),
        }
        env = {**os.environ, SPEC_ENV: orjson.dumps(spec).decode()}
        slot.process = subprocess.Popen(
            [sys.executable, "-m", "dockyard.serving.worker"], env=env, pass_fds=(listen_fd,)
        )
        self.board.set_state(slot.index, SlotState.LOADING)

    def run(self) -> int:
        metrics_dir = self.workdir / "metrics"
        metrics_dir.mkdir()
        os.environ[MULTIPROC_ENV] = str(metrics_dir)
        try:
            return self._run()
        finally:
            self.board.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _run(self) -> int:
        settings = self.settings
        sock = bind(settings.host, settings.port)
        if settings.metrics_port:
            from dockyard.serving.metrics import serve_metrics

            try:
                serve_metrics(settings.host, settings.metrics_port)
            except OSError as exc:
                sock.close()
                raise StartupError(
                    f"cannot serve metrics on {settings.host}:{settings.metrics_port}: {exc}"
                ) from None
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        log.info(
            "serving %s on %s:%d with %d worker(s)%s",
            settings.model_dir,
            settings.host,
            settings.port,
            settings.workers,
            f", metrics on :{settings.metrics_port}" if settings.metrics_port else "",
        )
        started = time.monotonic()
        for slot in self.slots:
            self._spawn(slot, sock.fileno())
        ever_ready = False
        code = 0
        while not self.stopping:
            time.sleep(TICK)
            now = time.monotonic()
            for slot in self.slots:
                self._tend(slot, now, sock.fileno())
            if not ever_ready and self.board.all_ready():
                ever_ready = True
                log.info("all %d workers are ready (%.2f s)", settings.workers, now - started)
            if not ever_ready and now - started > settings.startup_timeout:
                log.error(
                    "the model did not load in every worker within the %g s start-up window; giving up "
                    "(the workers' errors are above)",
                    settings.startup_timeout,
                )
                code = 1
                break
        self._stop_all()
        sock.close()
        return code

    def _tend(self, slot: Slot, now: float, listen_fd: int) -> None:
        """Notice a dead or stuck worker and start its replacement when its back-off has passed."""
        process = slot.process
        if process is None:
            if now >= slot.restart_at:
                self._spawn(slot, listen_fd)
            return
        if self.board.state(slot.index) is SlotState.READY:
            slot.was_ready = True
            slot.failures = 0
        returncode = process.poll()
        if returncode is None:
            busy = self.board.busy_for(slot.index, now)
            if busy > self.settings.timeout + WATCHDOG_GRACE:
                log.error(
                    "worker %d (pid %d) has been inside the handler for %.0f s, past the %g s timeout, "
                    "in code "
                    "that cannot be interrupted; killing it",
                    slot.index,
                    process.pid,
                    busy,
                    self.settings.timeout,
                )
                self.board.mark_idle(slot.index)
                process.kill()
            return
        if self.settings.metrics_port:
            from dockyard.serving.metrics import forget_worker

            forget_worker(process.pid)
        self.board.reset(slot.index)
        slot.process = None
        if not slot.was_ready:
            slot.failures += 1
        delay = 0.0 if slot.failures == 0 else min(MAX_BACKOFF, 0.5 * 2 ** (slot.failures - 1))
        slot.was_ready = False
        slot.restart_at = now + delay
        log.error(
            "worker %d (pid %d) %s; restarting it%s",
            slot.index,
            process.pid,
            describe_exit(returncode),
            f" in {delay:g} s" if delay else "",
        )

    def _stop_all(self) -> None:
        running = [
            slot.process for slot in self.slots if slot.process is not None and slot.process.poll() is None
        ]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.graceful_timeout + 2
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time; killing it", process.pid)
                process.kill()
                process.wait()
