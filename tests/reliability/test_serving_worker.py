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
    outcomes: list[tuple[int, float, float, str]] = []  # client, sent, answered, "ok" or what failed
    stop = threading.Event()
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    response = http.post("/invocations", content=SLEEP)
                    result = (
                        "ok" if response.status_code == 200 else f"{response.status_code} {response.text}"
                    )
                except httpx.TransportError as exc:
                    result = f"transport: {type(exc).__name__}"
                with lock:
                    outcomes.append((number, began, time.monotonic(), result))

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CONCURRENCY)]
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
    failed = [o for o in outcomes if o[3] != "ok"]
    broken = [o for o in failed if o[3].startswith("transport:")]
    refused = [o for o in failed if o not in broken]
    after = [o for o in outcomes if o[1] > killed_at + replaced and o[3] == "ok"]
    print(
        {
            "requests": len(outcomes),
            "failed": len(failed),
            "connections_broken": len(broken),
            "not_ready_503": len(refused),
            "in_flight_bound": CONCURRENCY,
            "replaced_s": round(replaced, 2),
        }
    )
    assert replaced < 60
    # Only what the dead worker held can fail: a request it was serving, or the next request on a
    # keep-alive connection it had accepted (sent before the client learns the connection is gone).
    # So at most one failure per client connection, all of them right after the kill.
    per_client = [sum(1 for o in broken if o[0] == number) for number in range(CONCURRENCY)]
    assert max(per_client) <= 1, failed
    assert all(answered < killed_at + 1.0 for _, _, answered, _ in broken), (killed_at, failed)
    # The replacement worker takes connections from the shared socket while its model still loads and
    # answers them 503 ModelNotReady (a known gap of the supervisor: it should not accept before it is
    # ready); nothing else may fail.
    assert all('"error":"ModelNotReady"' in o[3] for o in refused), refused
    assert after, "no request succeeded after the replacement"
