"""Sharing connections out evenly among the workers that accept from one listening socket.

Left to the kernel, whichever worker wakes first takes a new connection, and clients that keep their
connections open (SageMaker's front end, a load generator) stay where they landed: one run split 32
connections 22 to 10, so the busier worker's requests waited twice as long as the other's, and they
set the p99. Here each worker counts its open connections on the shared :class:`Board` and accepts
only while it has no more than the least loaded other ready worker. When it has more, it stops
watching the socket, and looks again when one of its connections closes or :data:`RECHECK` later
(without the first, clients that open a connection per request lost half their throughput). A
worker that has held back for :data:`MAX_HOLD` accepts anyway, so a peer that cannot accept (its
event loop starved of the GIL by C code) never leaves clients waiting in the backlog.

:class:`FairServer` is uvicorn's server with this acceptor in place of the event loop's own. It
replaces only ``startup`` (uvicorn's shutdown closes the acceptors as it would its servers); the
names it uses from uvicorn (the protocol class, server state, lifespan) are the ones uvicorn's own
startup passes to each connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from typing import Any, cast

import uvicorn

from dockyard.serving.board import Board

RECHECK = 0.002  # seconds between looks at the socket while this worker holds back
MAX_HOLD = 0.05  # seconds a worker holds back before it accepts whatever the others hold
STARTUP_FAILURE = 3  # the exit status uvicorn's own startup gives when the app's startup fails

log = logging.getLogger("dockyard.serving")


class FairAcceptor:
    """Accepts from ``sock`` for one worker, handing each connection to ``protocol_factory``.

    It stands in uvicorn's list of servers, which shutdown asks to ``close`` and ``wait_closed``."""

    def __init__(self, sock: socket.socket, board: Board, slot: int) -> None:
        self._sock = sock
        self._board = board
        self._slot = slot
        self._loop: asyncio.AbstractEventLoop | None = None
        self._protocol_factory: Any = None
        self._watching = False
        self._recheck: asyncio.TimerHandle | None = None
        self._held_since = 0.0
        self._closed = False
        self.connections = 0

    def start(self, loop: asyncio.AbstractEventLoop, protocol_factory: Any) -> None:
        self._loop = loop
        self._protocol_factory = protocol_factory
        self._sock.setblocking(False)
        self._watch()

    def close(self) -> None:
        self._closed = True
        self._unwatch()
        if self._recheck is not None:
            self._recheck.cancel()

    async def wait_closed(self) -> None:
        return None

    # --- counting -----------------------------------------------------------------------------------

    def _count(self, change: int) -> None:
        self.connections += change
        self._board.set_connections(self._slot, self.connections)

    def closed_one(self) -> None:
        """A connection this acceptor handed out has closed."""
        self._count(-1)
        self._watch()  # if it was holding back, it may be back to its share

    # --- accepting ----------------------------------------------------------------------------------

    def _watch(self) -> None:
        if not self._closed and not self._watching and self._loop is not None:
            self._loop.add_reader(self._sock.fileno(), self._on_readable)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._watching = False

    def _recheck_later(self) -> None:
        self._recheck = None
        self._watch()

    def _holds_back(self) -> bool:
        fewest = self._board.fewest_connections(self._slot)
        if fewest is None or self.connections <= fewest:
            self._held_since = 0.0
            return False
        now = time.monotonic()
        if not self._held_since:
            self._held_since = now
        return now - self._held_since < MAX_HOLD

    def _on_readable(self) -> None:
        assert self._loop is not None
        if self._holds_back():
            self._unwatch()
            self._recheck = self._loop.call_later(RECHECK, self._recheck_later)
            return
        try:
            connection, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError as exc:  # out of file descriptors, or the like: stop looking for a moment
            log.warning("worker %d could not accept a connection: %s", self._slot, exc)
            self._unwatch()
            self._recheck = self._loop.call_later(RECHECK * 50, self._recheck_later)
            return
        connection.setblocking(False)
        self._count(+1)  # now, not once connected: another worker's next look must see it
        self._loop.create_task(self._connect(connection))

    async def _connect(self, connection: socket.socket) -> None:
        assert self._loop is not None
        try:
            await self._loop.connect_accepted_socket(self._protocol_factory, connection)
        except OSError:  # the client went away before the transport was made
            connection.close()
            self._count(-1)


class FairServer(uvicorn.Server):
    """uvicorn's server, accepting from the given sockets through a :class:`FairAcceptor` each."""

    def __init__(self, config: uvicorn.Config, board: Board, slot: int) -> None:
        super().__init__(config)
        self._board = board
        self._slot = slot

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if not sockets:
            await super().startup(sockets)
            return
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        loop = asyncio.get_running_loop()
        config = self.config
        acceptors = [FairAcceptor(sock, self._board, self._slot) for sock in sockets]
        for acceptor in acceptors:
            protocol_class = counting(config.http_protocol_class, acceptor)

            def create_protocol(protocol_class: Any = protocol_class) -> asyncio.Protocol:
                return cast(
                    asyncio.Protocol,
                    protocol_class(
                        config=config, server_state=self.server_state, app_state=self.lifespan.state
                    ),
                )

            acceptor.start(loop, create_protocol)
        # uvicorn's shutdown closes and waits for these; they are not asyncio servers, but have
        # the two methods it calls.
        self.servers = cast(Any, acceptors)
        self.started = True


def counting(protocol_class: type[asyncio.Protocol], acceptor: FairAcceptor) -> type[asyncio.Protocol]:
    """``protocol_class``, telling ``acceptor`` when each connection closes."""

    class Counted(protocol_class):  # type: ignore[valid-type,misc]
        def connection_lost(self, exc: Exception | None) -> None:
            try:
                super().connection_lost(exc)
            finally:
                acceptor.closed_one()

    return Counted
