"""The asynchronous-inference worker's failure paths that need time control: a model slower than
InvocationTimeoutSeconds, and a request whose RequestTTLSeconds ran out while it waited (here: while
the emulator was stopped). A real HTTP server stands for the container; the emulator's real S3 state,
queue and runtime are used in-process."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.emulator.context import Caller, ResourceKey
from dockyard.emulator.route_table import EndpointRoute, Instance, Router, VariantRoute
from dockyard.emulator.runtime.async_inference import AsyncInference
from dockyard.emulator.runtime.async_queue import AsyncQueue, QueuedRequest
from dockyard.emulator.runtime.invoke import Runtime
from dockyard.emulator.s3.local_objects import LocalObjects
from dockyard.emulator.s3.service import S3Service

CTX = Caller()
ENDPOINT = CTX.key("slow")
CONFIG = {"OutputConfig": {"S3OutputPath": "s3://bkt/out", "S3FailurePath": "s3://bkt/err"}}


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(3)
        with contextlib.suppress(OSError):  # the emulator gave up on it: the connection is gone
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


class _Counting(http.server.BaseHTTPRequestHandler):
    """Answers after 0.3 s, counting the requests it holds at once."""

    lock = threading.Lock()
    now = 0
    most = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.lock:
            _Counting.now += 1
            _Counting.most = max(_Counting.most, _Counting.now)
        time.sleep(0.3)
        with self.lock:
            _Counting.now -= 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def counting_model() -> Iterator[str]:
    yield from _serve(_Counting)


@pytest.fixture
def slow_model() -> Iterator[str]:
    yield from _serve(_Slow)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    s3 = S3Service(tmp_path)
    s3.handle(CTX, "CreateBucket", {"Bucket": "bkt"})
    s3.close()
    objects = LocalObjects(tmp_path)
    objects.write("bkt", "in.csv", b"1,2,3,4\n")
    objects.close()
    return tmp_path


def _inference(state: Path, url: str, config: dict[str, Any] = CONFIG) -> AsyncInference:
    router = Router()
    router.set(EndpointRoute(ENDPOINT, (VariantRoute("v", 1.0, (Instance("i-1", url),)),)))
    runtime = Runtime(router, lambda key: "InService", lambda key, instance: None)
    return AsyncInference(state, runtime, lambda key: config)


async def _object(state: Path, key: str, timeout: float = 20) -> str:
    objects = LocalObjects(state)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return b"".join(objects.read("bkt", key)).decode()
            except Exception:
                await asyncio.sleep(0.1)
        raise AssertionError(f"no object {key} within {timeout} s")
    finally:
        objects.close()


def test_a_model_slower_than_the_timeout_fails_the_request(state: Path, slow_model: str) -> None:
    async def run() -> None:
        inference = _inference(state, slow_model)
        inference.start()
        try:
            answer = await inference.submit(
                CTX,
                {
                    "EndpointName": "slow",
                    "InputLocation": "s3://bkt/in.csv",
                    "InferenceId": "late",
                    "InvocationTimeoutSeconds": 1,
                },
            )
            assert answer == {
                "InferenceId": "late",
                "OutputLocation": "s3://bkt/out/late.out",
                "FailureLocation": "s3://bkt/err/late-error.out",
            }
            message = await _object(state, "err/late-error.out")
            assert message == "The model did not answer within InvocationTimeoutSeconds (1 seconds)."
            # The request leaves the queue once its failure is written.
            deadline = time.monotonic() + 10
            while inference.queue.count() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert inference.queue.count() == 0
        finally:
            await inference.runtime.aclose()
            await inference.aclose()

    asyncio.run(run())


def test_a_request_past_its_ttl_fails_without_being_sent(state: Path, slow_model: str) -> None:
    # Accepted 100 s ago with a 60 s TTL, while the emulator was stopped.
    queue = AsyncQueue(state / "async-inference.db")
    accepted = time.time() - 100
    queue.add(
        QueuedRequest(
            0,
            ResourceKey(CTX.account, CTX.region, "slow"),
            "expired",
            "s3://bkt/in.csv",
            "s3://bkt/out/expired.out",
            "s3://bkt/err/expired-error.out",
            "text/csv",
            None,
            None,
            900.0,
            accepted + 60,
            1,
            accepted,
        )
    )
    queue.close()

    async def run() -> None:
        inference = _inference(state, slow_model)
        inference.start()
        try:
            message = await _object(state, "err/expired-error.out")
            assert message == "The request was not processed within its RequestTTLSeconds (60)."
        finally:
            await inference.runtime.aclose()
            await inference.aclose()

    asyncio.run(run())


@pytest.mark.parametrize("limit", [1, 3])
def test_an_instance_gets_at_most_its_concurrency_limit(state: Path, counting_model: str, limit: int) -> None:
    _Counting.now = _Counting.most = 0
    config = {**CONFIG, "ClientConfig": {"MaxConcurrentInvocationsPerInstance": limit}}

    async def run() -> None:
        inference = _inference(state, counting_model, config)
        inference.start()
        try:
            for n in range(6):
                await inference.submit(
                    CTX, {"EndpointName": "slow", "InputLocation": "s3://bkt/in.csv", "InferenceId": f"r{n}"}
                )
            for n in range(6):
                await _object(state, f"out/r{n}.out")
        finally:
            await inference.runtime.aclose()
            await inference.aclose()

    asyncio.run(run())
    assert _Counting.most == limit
