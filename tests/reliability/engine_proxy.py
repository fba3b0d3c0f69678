"""A stand-in Docker engine socket that a test can take away and bring back, without touching the real
engine (other tests use it at the same time): an asyncio unix-socket server relaying every connection to
the real engine's socket. :meth:`EngineProxy.stop` closes the listener and every relayed connection (the
engine is gone: "connection refused"); :meth:`EngineProxy.start` listens again.

No pytest here: the benchmark imports it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from pathlib import Path

REAL_ENGINE = "/var/run/docker.sock"
CHUNK = 65536


class EngineProxy:
    """Point DOCKER_HOST at :attr:`url`; the proxy runs its own event loop on a thread."""

    def __init__(self, target: str = REAL_ENGINE) -> None:
        # Unix socket paths are limited to 107 bytes: not under pytest's deep tmp_path.
        self.path = Path(f"/tmp/dy-engine-{os.getpid()}-{secrets.token_hex(4)}.sock")
        self.target = target
        self.connections = 0  # relayed since the start
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="engine-proxy", daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    @property
    def serving(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def stop(self) -> None:
        """The engine goes away: no new connection is accepted and every open one is closed."""
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self.path.unlink(missing_ok=True)

    async def _listen(self) -> None:
        if self._server is None:
            self.path.unlink(missing_ok=True)
            self._server = await asyncio.start_unix_server(self._relay, path=str(self.path))

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        if server is not None:
            await server.wait_closed()
        # The socket file stays, with nobody listening: clients are refused, as by a stopped engine.

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            engine_reader, engine_writer = await asyncio.open_unix_connection(self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, engine_writer))
        try:
            await asyncio.gather(_pump(reader, engine_writer), _pump(engine_reader, writer))
        finally:
            for side in (writer, engine_writer):
                self._open.discard(side)
                side.transport.abort()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
    # One side ended: let the other know, as a plain socket would (half-close).
    with contextlib.suppress(OSError):
        if sink.can_write_eof() and not sink.transport.is_closing():
            sink.write_eof()
