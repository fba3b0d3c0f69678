"""A small pooled HTTP/1.1 client for the one request the runtime makes: POST to a container on 127.0.0.1.

Why not httpx: measured against a bare uvicorn app on this machine, httpx.AsyncClient managed about
1,150 requests/s at concurrency 1 and fell to about 520 at concurrency 32 (its connection pool's
per-request work grows with the connections in use), several times slower than the containers behind
it, and the runtime is meant to keep at least 80 % of a container's own throughput. aiohttp is not a
dependency of the project. So the runtime speaks HTTP/1.1 itself over asyncio, with ``httptools``
(llhttp, the parser uvicorn uses; already a dependency) doing all parsing: what is left here is writing
one request, keeping idle connections, and telling apart the ways a connection can fail:

- :class:`ConnectFailed`: nothing was sent (refused, unreachable): safe to send elsewhere;
- :class:`Disconnected`: a reused keep-alive connection that the server had closed just before the
  request (no byte of an answer came): also safe to send elsewhere (on a fresh connection the same
  silence is :class:`Broken`: the server may have taken the request);
- :class:`Broken`: the connection failed mid-answer.

Timeouts are the caller's (``asyncio.timeout``); a connection whose request timed out is closed.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import cast

import httptools

MAX_IDLE = 256  # idle keep-alive connections kept per container
_PAUSE_AT = 64  # streamed chunks queued before reading from the container pauses


class RelayError(Exception):
    pass


class ConnectFailed(RelayError):
    """The connection could not be opened: the request was not sent."""


class Disconnected(RelayError):
    """The server closed the connection without a byte of an answer."""


class Broken(RelayError):
    """The connection failed after part of the answer came."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes = b""


@dataclass
class _Exchange:
    """One request's answer as the parser delivers it."""

    streaming: bool
    response: Response | None = None
    head: asyncio.Future[Response] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    chunks: collections.deque[bytes] = field(default_factory=collections.deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    got_bytes: bool = False


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.keep_alive = True
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._paused = False

    # ---- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:  # bytes nobody asked for: this connection cannot be trusted again
            self.close()
            return
        exchange.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(Broken(f"the container's answer is not valid HTTP: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        exchange = self.exchange
        if exchange is None or exchange.done.done():
            return
        response = exchange.response
        if response is not None and "content-length" not in response.headers and not _chunked(response):
            self.on_message_complete()  # a body delimited by the end of the connection
        elif not exchange.got_bytes:
            self._fail(Disconnected("the container closed the connection without answering"))
        else:
            self._fail(Broken("the container closed the connection in the middle of its answer"))

    # ---- httptools callbacks --------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        exchange = self.exchange
        assert exchange is not None
        exchange.response = Response(self.parser.get_status_code(), self._headers)
        self.keep_alive = self.parser.should_keep_alive()
        if not exchange.head.done():
            exchange.head.set_result(exchange.response)

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        assert exchange is not None
        if not exchange.streaming:
            self._body.append(body)
            return
        exchange.chunks.append(body)
        exchange.wake.set()
        if len(exchange.chunks) >= _PAUSE_AT and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        exchange = self.exchange
        if exchange is None or exchange.done.done():
            return
        if exchange.response is not None:
            exchange.response.body = b"".join(self._body)
        exchange.done.set_result(None)
        exchange.wake.set()

    # ---- use -----------------------------------------------------------------------------------

    def send(self, request: bytes, body: bytes, streaming: bool) -> _Exchange:
        assert self.transport is not None
        self.exchange = _Exchange(streaming)
        self._headers = {}
        self._body = []
        self.transport.write(request + body if len(body) < 65536 else request)
        if len(body) >= 65536:
            self.transport.write(body)  # no copy of a large body
        return self.exchange

    def next_chunk(self) -> bytes | None:
        exchange = self.exchange
        assert exchange is not None
        if exchange.chunks:
            chunk = exchange.chunks.popleft()
            if self._paused and len(exchange.chunks) < _PAUSE_AT // 2 and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()
            return chunk
        exchange.wake.clear()
        return None

    def reusable(self) -> bool:
        exchange = self.exchange
        return (
            not self.closed
            and self.keep_alive
            and exchange is not None
            and exchange.done.done()
            and exchange.done.exception() is None
        )

    def _fail(self, error: RelayError) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        for future in (exchange.head, exchange.done):
            if not future.done():
                future.set_exception(error)
            if not future.cancelled():
                future.exception()  # retrieved: no "never retrieved" warning when nobody waits on it
        exchange.wake.set()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Keep-alive connections to containers, by ``host:port``. Use from one event loop."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def post(
        self, origin: tuple[str, int], path: str, headers: dict[str, str], body: bytes
    ) -> Response:
        """The whole answer; the caller bounds the time (a timeout closes the connection)."""
        request = _request(origin, path, headers, body)  # a bad header fails before a connection is taken
        connection, reused = await self._acquire(origin)
        exchange = connection.send(request, body, streaming=False)
        try:
            await exchange.done
        except BaseException as exc:
            connection.close()
            if isinstance(exc, Disconnected) and not reused:
                raise Broken(str(exc)) from None  # a fresh connection dropped: the server failed
            raise
        assert exchange.response is not None
        self._release(origin, connection)
        return exchange.response

    async def stream(
        self, origin: tuple[str, int], path: str, headers: dict[str, str], body: bytes
    ) -> tuple[Response, AsyncGenerator[bytes, None]]:
        """The status and headers, then the body's chunks as they come."""
        request = _request(origin, path, headers, body)
        connection, reused = await self._acquire(origin)
        exchange = connection.send(request, body, streaming=True)
        try:
            head = await exchange.head
        except BaseException as exc:
            connection.close()
            if isinstance(exc, Disconnected) and not reused:
                raise Broken(str(exc)) from None
            raise
        return head, self._chunks(origin, connection, exchange)

    async def _chunks(
        self, origin: tuple[str, int], connection: _Connection, exchange: _Exchange
    ) -> AsyncGenerator[bytes, None]:
        finished = False
        try:
            while True:
                chunk = connection.next_chunk()
                if chunk is not None:
                    yield chunk
                    continue
                if exchange.done.done():
                    exchange.done.result()  # raises what broke the stream
                    finished = True
                    return
                await exchange.wake.wait()
        finally:
            if finished:
                self._release(origin, connection)
            else:
                connection.close()

    async def _acquire(self, origin: tuple[str, int]) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection, True
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await loop.create_connection(_Connection, origin[0], origin[1])
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {origin[0]}:{origin[1]}: {exc.strerror or exc}") from None
        return protocol, False

    def _release(self, origin: tuple[str, int], connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if connection.reusable() and len(idle) < MAX_IDLE:
            connection.exchange = None
            idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _chunked(response: Response) -> bool:
    return "chunked" in response.headers.get("transfer-encoding", "").lower()


def _request(origin: tuple[str, int], path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {origin[0]}:{origin[1]}", f"Content-Length: {len(body)}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"the {name} header cannot hold a line break")
        lines.append(f"{name}: {value}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("a header holds characters HTTP/1.1 headers cannot carry") from None
