"""A response's head and body leave in one send: real uvicorn on a real socket, then a real server.

The in-process server runs uvicorn with the coalescing protocol on uvloop in a thread; each test
talks to it over a raw socket, so what is checked is what a client receives, byte for byte and in
time. The write counts come from the kernel (``/proc/.../io``), not from a stand-in transport.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dockyard.serving.coalesce import JOIN_LIMIT, coalescing
from tests.conftest import HANDLERS, ServerProcess

BIG = bytes(range(256)) * (4 * JOIN_LIMIT // 256)  # larger than one joined write
STREAM_PAUSE = 0.4  # seconds the streaming route waits between its head and its body


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(STREAM_PAUSE)
        await send({"type": "http.response.body", "body": b"late", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    payload = {"/big": BIG, "/echo": body, "/empty": b""}.get(path, b"hello")
    headers = [(b"content-length", str(len(payload)).encode())]
    if path == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class ThreadServer:
    """uvicorn with the coalescing protocol, on uvloop, in a thread of this process."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        config = uvicorn.Config(
            app, loop="uvloop", http=coalescing(HttpToolsProtocol), lifespan="off", log_config=None
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.listener]}, daemon=True
        )
        self.native_id = 0

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.01)
        assert self.thread.native_id is not None
        self.native_id = self.thread.native_id
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.listener.close()

    def connect(self) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

    def writes(self) -> int:
        """Write system calls the server's thread has made so far, as the kernel counts them."""
        for line in Path(f"/proc/self/task/{self.native_id}/io").read_text().splitlines():
            if line.startswith("syscw:"):
                return int(line.split()[1])
        raise AssertionError("no syscw in /proc")


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadServer]:
    with ThreadServer() as running:
        yield running


def request(path: str, body: bytes = b"", method: str = "POST", extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body
    )


def read_head(reader: BinaryIO) -> bytes:
    lines = []
    while (line := reader.readline()) not in (b"\r\n", b""):
        lines.append(line)
    assert lines, "the connection closed before a response"
    return b"".join(lines)


def read_response(reader: BinaryIO) -> tuple[bytes, bytes]:
    """One response with a Content-Length, from a buffered reader of the connection: (head, body)."""
    head = read_head(reader)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    body = reader.read(length)
    assert len(body) == length, "the connection closed inside a body"
    return head, body


def test_each_response_is_one_write(server: ThreadServer) -> None:
    with server.connect() as client, client.makefile("rb") as reader:
        client.sendall(request("/hello"))
        read_response(reader)  # the connection is made and warm
        before = server.writes()
        for _ in range(200):
            client.sendall(request("/hello"))
            head, body = read_response(reader)
            assert head.startswith(b"HTTP/1.1 200")
            assert body == b"hello"
        written = server.writes() - before
    # uvicorn's own protocol makes 400 here, a head and a body per response.
    assert written == 200


def test_a_big_body_arrives_whole(server: ThreadServer) -> None:
    with server.connect() as client, client.makefile("rb") as reader:
        client.sendall(request("/big"))
        _, body = read_response(reader)
        assert body == BIG
        client.sendall(request("/echo", BIG))
        _, echoed = read_response(reader)
        assert echoed == BIG


def test_head_and_empty_bodies(server: ThreadServer) -> None:
    with server.connect() as client, client.makefile("rb") as reader:
        client.sendall(request("/empty"))
        head, body = read_response(reader)
        assert head.startswith(b"HTTP/1.1 200")
        assert body == b""
        # HEAD: uvicorn writes the head only; it must go out without a body to join it.
        client.sendall(request("/hello", method="HEAD"))
        head = read_head(reader)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"content-length: 5" in head.lower()
        client.sendall(request("/hello"))
        assert read_response(reader)[1] == b"hello"  # the connection still frames correctly


def test_pipelined_requests_are_answered_in_order(server: ThreadServer) -> None:
    with server.connect() as client, client.makefile("rb") as reader:
        client.sendall(request("/echo", b"one") + request("/echo", b"two") + request("/echo", b"three"))
        assert [read_response(reader)[1] for _ in range(3)] == [b"one", b"two", b"three"]


def test_a_closing_response_is_sent_before_the_close(server: ThreadServer) -> None:
    with server.connect() as client, client.makefile("rb") as reader:
        client.sendall(request("/close"))
        head, body = read_response(reader)
        assert b"connection: close" in head.lower()
        assert body == b"hello"
        assert reader.read(1) == b""  # then the server closed it


def test_100_continue_is_not_held_back(server: ThreadServer) -> None:
    """A client that sends ``Expect: 100-continue`` waits for it before sending its body."""
    with server.connect() as client:
        client.settimeout(2)
        client.sendall(request("/echo", extra="Expect: 100-continue\r\n").replace(b"Length: 0", b"Length: 4"))
        interim = client.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n", interim
        client.sendall(b"body")
        with client.makefile("rb") as reader:
            head, body = read_response(reader)
        assert head.startswith(b"HTTP/1.1 200")
        assert body == b"body"


def test_a_streaming_head_goes_out_before_its_body(server: ThreadServer) -> None:
    with server.connect() as client:
        client.sendall(request("/stream"))
        started = time.monotonic()
        first = client.recv(65536)
        waited = time.monotonic() - started
        assert first.startswith(b"HTTP/1.1 200")
        assert b"late" not in first
        assert waited < STREAM_PAUSE / 2, f"the head waited {waited:.2f} s for the body"
        rest = b""
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = client.recv(65536)
            assert chunk
            rest += chunk
        assert b"late" in rest


def test_the_server_writes_once_per_response(tmp_path: Path) -> None:
    """The real server, two workers, keep-alive clients: about one write per request, not two."""
    server = ServerProcess(
        ["--handler", str(HANDLERS / "echo.py"), "--workers", "2", "--access-log", "false"], tmp_path
    )
    try:
        server.wait_ready()
        children = _children(server.process.pid)
        assert len(children) == 2, children
        requests = 400
        with httpx.Client(base_url=server.url) as client:
            client.post("/invocations", content=b"[1]", headers={"content-type": "application/json"})
            before = sum(_writes(pid) for pid in children)
            for index in range(requests):
                answer = client.post(
                    "/invocations",
                    content=f"[{index}]".encode(),
                    headers={"content-type": "application/json"},
                )
                assert answer.status_code == 200
            written = sum(_writes(pid) for pid in children) - before
        # Per request: the response, and the model thread waking the event loop with the answer
        # (uvicorn's own protocol makes it three). Under load, answers share wake-ups (bench/).
        assert 2 * requests <= written < 2.2 * requests, written
    finally:
        server.stop()


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def _writes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc")
