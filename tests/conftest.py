"""Shared fixtures: real server processes on free 127.0.0.1 ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HANDLERS = Path(__file__).parent / "serving" / "handlers"

pytest_plugins = ["tests.docker_fixtures", "tests.aws_fixtures", "tests.emulator_fixtures"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``serve`` started as a real process; its stdout (access log) and stderr (log) go to files."""

    def __init__(self, args: list[str], tmp: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.stdout_path = tmp / f"serve-{self.port}.out"
        self.stderr_path = tmp / f"serve-{self.port}.err"
        command = [
            sys.executable,
            "-m",
            "dockyard.serving.cli",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--metrics-port",
            str(self.metrics_port),
            *args,
        ]
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, env=full_env, cwd=tmp)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def ping(self) -> int | None:
        try:
            return httpx.get(f"{self.url}/ping", timeout=2).status_code
        except httpx.TransportError:
            return None

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.stderr[-3000:]}")
            if self.ping() == 200:
                return
            time.sleep(0.1)
        raise AssertionError(f"server not ready within {timeout} s:\n{self.stderr[-3000:]}")

    def wait_until(self, predicate: object, timeout: float = 30, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if callable(predicate) and predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"{what} not reached within {timeout} s:\n{self.stderr[-3000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.client.close()
        return self.process.returncode


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[object]:
    servers: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, ready: bool = True) -> ServerProcess:
        server = ServerProcess(list(args), tmp_path, env)
        servers.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
