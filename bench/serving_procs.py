"""The serving benchmark's processes: ports, starting and stopping servers, readiness, the first
answer's check, and resident memory. Every server runs as the leader of its own session, so that
stopping it (SIGTERM, then SIGKILL to the whole session) leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serving_ports import ServerError
from serving_workloads import same_answer

if TYPE_CHECKING:
    from serving_servers import Server

READY_POLL_S = 0.2
STOP_GRACE_S = 15.0


class NotReady(ServerError):
    """A server exited or never answered its readiness check."""


def session_members(sid: int) -> list[int]:
    """Live processes in session `sid` (every server starts as its own session leader)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def signal_session(sid: int, sig: signal.Signals) -> None:
    for pid in session_members(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def stop_server(proc: subprocess.Popen[bytes]) -> list[int]:
    """SIGTERM the server's process group, then SIGKILL its whole session; return leftover pids."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    end = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < end and (proc.poll() is None or session_members(proc.pid)):
        time.sleep(0.1)
    for _ in range(3):
        if not session_members(proc.pid):
            break
        signal_session(proc.pid, signal.SIGKILL)
        time.sleep(0.5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    return session_members(proc.pid)


def port_closed(port: int, deadline_s: float = 10.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            return True
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def running(server: Server, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server in its own session with output to `log_path`; always stop it."""
    if server.cwd is not None:
        server.cwd.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            server.argv,
            cwd=server.cwd,
            env=server.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        leftover = stop_server(proc)
        if leftover:
            print(f"!! {server.name}: processes left after SIGKILL: {leftover}", file=sys.stderr)


def http_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None,
    timeout: float,
    content_type: str = "application/json",
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": content_type, "Accept": "application/json"} if body else {}
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(server: Server, proc: subprocess.Popen[bytes], port: int) -> float:
    start = time.monotonic()
    end = start + server.ready_timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise NotReady(f"exited with status {proc.returncode} before {server.ready_path} answered 200")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = http_call(port, "GET", server.ready_path, None, timeout=2)
            if status == 200:
                return time.monotonic() - start
        time.sleep(READY_POLL_S)
    raise NotReady(f"{server.ready_path} did not answer 200 within {server.ready_timeout_s:.0f} s")


def predictions(payload: bytes) -> Any:
    value = json.loads(payload)
    for _ in range(2):  # MLflow's ONNX answer: {"predictions": {"label": [...], "probabilities": [...]}}
        if isinstance(value, dict):
            for key in ("predictions", "outputs", "output", "label"):
                if key in value:
                    value = value[key]
                    break
    return value


def verify(server: Server, port: int, tries: int = 20) -> None:
    """One real request must answer exactly what the model answers in-process."""
    last = "no answer"
    for _ in range(tries):
        try:
            status, payload = http_call(
                port, "POST", server.invoke_path, server.body, timeout=10, content_type=server.content_type
            )
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
            continue
        if status >= 500:
            last = f"HTTP {status}: {payload[:200]!r}"
            time.sleep(0.5)
            continue
        if status != 200:
            raise ServerError(f"prediction request answered HTTP {status}: {payload[:300]!r}")
        try:
            got = predictions(payload)
        except ValueError as exc:
            raise ServerError(f"prediction is not JSON: {payload[:300]!r}") from exc
        if not same_answer(got, server.expected):
            raise ServerError(f"WRONG ANSWER: got {got!r}, the model in-process says {server.expected!r}")
        return
    raise ServerError(f"prediction request failed {tries} times; last: {last}")


def memory_kib(sid: int) -> tuple[int, int]:
    """Resident memory of session ``sid``: (sum of RSS, sum of PSS) in KiB. PSS shares the pages that
    the workers share (forked or mapped from the same files) among them, so it does not count them
    twice; RSS does."""
    rss = pss = 0
    for pid in session_members(sid):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return rss, pss
