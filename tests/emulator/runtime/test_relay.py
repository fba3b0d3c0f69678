"""The runtime's HTTP/1.1 relay against real asyncio servers on 127.0.0.1 that answer as scripted:
keep-alive reuse, and each way a connection can fail (refused, closed before answering, closed mid-answer,
not HTTP), for whole answers and for streams."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from dockyard.emulator.runtime.relay import Broken, ConnectFailed, Disconnected, Pool

# What a scripted server does with one request on a connection: given the request head and the
# connection's writer, answer (or not); return False to close the connection afterwards.
Script = Callable[[bytes, asyncio.StreamWriter, int], Awaitable[bool]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    await reader.readexactly(length)
    return head


class Server:
    """Counts connections; each request on a connection goes to ``script`` with its index on it."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> tuple[str, int]:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return ("127.0.0.1", port)

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        index = 0
        try:
            while True:
                head = await read_request(reader)
                self.requests += 1
                keep = await self.script(head, writer, index)
                await writer.drain()
                index += 1
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def answer(body: bytes, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), headers, body)


async def echo_path(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
    writer.write(answer(b"answer %d" % index))
    return True


def run(work: Callable[[Pool], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        pool = Pool()
        try:
            return await work(pool)
        finally:
            pool.close()

    return asyncio.run(main())


def test_keep_alive_reuses_one_connection_and_sends_the_request_as_given() -> None:
    seen: list[bytes] = []

    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        seen.append(head)
        return await echo_path(head, writer, index)

    server = Server(script)

    async def work(pool: Pool) -> list[tuple[int, bytes, str]]:
        async with server as origin:
            results = []
            for _ in range(3):
                response = await pool.post(origin, "/invocations", {"Content-Type": "text/csv"}, b"1,2")
                results.append((response.status, response.body, response.headers["content-length"]))
            return results

    assert run(work) == [(200, b"answer 0", "8"), (200, b"answer 1", "8"), (200, b"answer 2", "8")]
    assert (server.connections, server.requests) == (1, 3)
    assert seen[0].startswith(b"POST /invocations HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 3\r\n" in seen[0]
    assert b"\r\nContent-Type: text/csv\r\n" in seen[0]


def test_a_connection_the_server_closes_is_not_reused() -> None:
    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(answer(b"once", b"Connection: close"))
        return False

    server = Server(script)

    async def work(pool: Pool) -> list[bytes]:
        async with server as origin:
            return [(await pool.post(origin, "/invocations", {}, b"")).body for _ in range(2)]

    assert run(work) == [b"once", b"once"]
    assert server.connections == 2


def test_a_refused_connection_is_connect_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused

        with pytest.raises(ConnectFailed) as caught:
            run(lambda pool: pool.post(("127.0.0.1", port), "/invocations", {}, b""))
    assert str(caught.value).startswith(f"cannot connect to 127.0.0.1:{port}: ")


def test_a_reused_connection_closed_without_an_answer_is_disconnected() -> None:
    # The keep-alive race: the server drops an idle connection just as a request is written on it.
    # Nothing reached the model, so the runtime may send the request elsewhere.
    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        if index == 0:
            writer.write(answer(b"first"))
            return True
        return False  # reads the second request, closes without a byte

    async def work(pool: Pool) -> bytes:
        async with Server(script) as origin:
            first = await pool.post(origin, "/invocations", {}, b"")
            with pytest.raises(Disconnected) as caught:
                await pool.post(origin, "/invocations", {}, b"")
            assert str(caught.value) == "the container closed the connection without answering"
            return first.body

    assert run(work) == b"first"


def test_a_fresh_connection_closed_without_an_answer_is_broken() -> None:
    # On a new connection the server itself failed (it may have run the request): not retried.
    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        return False

    async def work(pool: Pool) -> None:
        async with Server(script) as origin:
            await pool.post(origin, "/invocations", {}, b"")

    with pytest.raises(Broken) as caught:
        run(work)
    assert str(caught.value) == "the container closed the connection without answering"


def test_an_answer_cut_short_is_broken() -> None:
    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        return False

    async def work(pool: Pool) -> None:
        async with Server(script) as origin:
            await pool.post(origin, "/invocations", {}, b"")

    with pytest.raises(Broken) as caught:
        run(work)
    assert str(caught.value) == "the container closed the connection in the middle of its answer"


def test_an_answer_that_is_not_http_is_broken() -> None:
    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        return True

    async def work(pool: Pool) -> None:
        async with Server(script) as origin:
            await pool.post(origin, "/invocations", {}, b"")

    with pytest.raises(Broken) as caught:
        run(work)
    assert str(caught.value).startswith("the container's answer is not valid HTTP: ")


def test_a_body_ended_by_closing_the_connection_is_whole() -> None:
    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        return False

    async def work(pool: Pool) -> bytes:
        async with Server(script) as origin:
            return (await pool.post(origin, "/invocations", {}, b"")).body

    assert run(work) == b"until the end"


async def collect(chunks: AsyncIterator[bytes], into: list[bytes]) -> None:
    async for part in chunks:
        into.append(part)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_a_stream_arrives_in_parts_then_its_connection_is_reused() -> None:
    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n")
        for part in (b"a", b"b", b"c"):
            writer.write(chunk(part))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(b"0\r\n\r\n")
        return True

    server = Server(script)

    async def work(pool: Pool) -> list[list[bytes]]:
        async with server as origin:
            streams = []
            for _ in range(2):
                head, chunks = await pool.stream(origin, "/invocations", {}, b"")
                assert (head.status, head.headers["content-type"]) == (200, "text/plain")
                streams.append([part async for part in chunks])
            return streams

    assert run(work) == [[b"a", b"b", b"c"], [b"a", b"b", b"c"]]
    assert server.connections == 1


def test_a_stream_cut_short_is_broken_and_its_connection_dropped() -> None:
    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(b"part"))
        return False

    server = Server(script)

    async def work(pool: Pool) -> list[bytes]:
        async with server as origin:
            _, chunks = await pool.stream(origin, "/invocations", {}, b"")
            received: list[bytes] = []
            with pytest.raises(Broken) as caught:
                await collect(chunks, received)
            assert str(caught.value) == "the container closed the connection in the middle of its answer"
            # The next request needs (and gets) a new connection.
            _, again = await pool.stream(origin, "/invocations", {}, b"")
            with pytest.raises(Broken):
                await collect(again, [])
            return received

    assert run(work) == [b"part"]
    assert server.connections == 2


def test_a_stream_left_early_closes_its_connection() -> None:
    async def script(head: bytes, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(b"one"))
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(chunk(b"two") + b"0\r\n\r\n")
        return True

    server = Server(script)

    async def work(pool: Pool) -> bytes:
        async with server as origin:
            _, chunks = await pool.stream(origin, "/invocations", {}, b"")
            first = await anext(chunks)
            await chunks.aclose()  # the client went away mid-stream
            answer_again = await pool.post(origin, "/invocations", {}, b"")
            assert answer_again.status == 200
            return first

    assert run(work) == b"one"
    assert server.connections == 2  # the half-read connection was not put back


def test_a_header_with_a_line_break_is_refused_before_sending() -> None:
    server = Server(echo_path)

    async def work(pool: Pool) -> None:
        async with server as origin:
            await pool.post(origin, "/invocations", {"Accept": "a\r\nX-Injected: 1"}, b"")

    with pytest.raises(ValueError, match="the Accept header cannot hold a line break"):
        run(work)
    assert server.connections == 0
