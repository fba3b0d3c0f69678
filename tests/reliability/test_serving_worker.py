"""A serving worker SIGKILLed under load: only requests it had taken fail, and the supervisor replaces it."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import HANDLERS

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

CONCURRENCY = 6
SLEEP = b"0.2"  # seconds each request takes in the handler


def _workers(supervisor: int) -> list[int]:
    """The supervisor's children that run a worker (not multiprocessing's helpers)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    found = []
    for child in map(int, children):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            found.append(child)
    return sorted(found)


def test_a_sigkilled_worker_fails_at_most_its_requests_in_flight(start_server: Any) -> None:
    server = start_server("--handler", str(HANDLERS / "sleeps.py"), "--workers", "2")
    supervisor = server.process.pid
    before = _workers(supervisor)
    assert len(before) == 2, before
    outcomes: list[tuple[float, float, bool]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    ok = http.post("/invocations", content=SLEEP).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    outcomes.append((began, time.monotonic(), ok))

    threads = [threading.Thread(target=client) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        killed_at = time.monotonic()
        os.kill(before[0], signal.SIGKILL)
        deadline = killed_at + 60
        while time.monotonic() < deadline:
            now = _workers(supervisor)
            if len(now) == 2 and before[0] not in now and server.ping() == 200:
                break
            time.sleep(0.1)
        replaced = time.monotonic() - killed_at
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    failed = [o for o in outcomes if not o[2]]
    after = [o for o in outcomes if o[0] > killed_at + replaced and o[2]]
    print(
        {
            "requests": len(outcomes),
            "failed": len(failed),
            "in_flight_bound": CONCURRENCY,
            "replaced_s": round(replaced, 2),
        }
    )
    assert replaced < 60
    # Only requests the dead worker had taken can fail: at most every request in flight then.
    assert len(failed) <= CONCURRENCY, failed
    assert all(began <= killed_at for began, _, _ in failed), (killed_at, failed)
    assert after, "no request succeeded after the replacement"
