"""Workers share connections out evenly: the acceptor on a real socket and loop, then a real server."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvloop

from dockyard.serving import accept
from dockyard.serving.accept import FairAcceptor, counting
from dockyard.serving.board import Board, SlotState
from tests.conftest import HANDLERS, ServerProcess

WHOAMI = str(HANDLERS / "whoami.py")


class Held(asyncio.Protocol):
    """Keeps the connection open and does nothing; ``made`` counts connections handed to protocols."""

    made = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Held.made += 1


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Board]:
    table = Board(tmp_path / "board", 2, create=True)
    table.set_state(0, SlotState.READY)
    yield table
    table.close()


class Harness:
    """A :class:`FairAcceptor` for slot 0 on a real listening socket, run on a uvloop loop."""

    def __init__(self, board: Board) -> None:
        self.loop = uvloop.new_event_loop()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.acceptor = FairAcceptor(self.listener, board, 0)
        self.acceptor.start(self.loop, counting(Held, self.acceptor))
        self.clients: list[socket.socket] = []
        Held.made = 0

    def connect(self, count: int = 1) -> None:
        self.clients += [socket.create_connection(self.listener.getsockname()) for _ in range(count)]

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> float:
        """Run the loop until ``predicate()`` holds; the seconds it took (AssertionError after timeout)."""

        async def wait() -> float:
            started = time.monotonic()
            while not predicate():
                if time.monotonic() - started > timeout:
                    raise AssertionError(f"not reached within {timeout} s")
                await asyncio.sleep(0.005)
            return time.monotonic() - started

        return self.loop.run_until_complete(wait())

    def one_ahead(self, board: Board) -> None:
        """This worker holds one connection; a second worker, ready, holds none."""
        self.connect()
        self.run_until(lambda: Held.made == 1, 5)
        board.set_state(1, SlotState.READY)

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()
        self.run_until(lambda: self.acceptor.connections == 0, 5)

    def close(self) -> None:
        self.close_clients()
        self.acceptor.close()
        self.listener.close()
        self.loop.close()


@pytest.fixture
def harness(board: Board) -> Iterator[Harness]:
    made = Harness(board)
    yield made
    made.close()


def test_open_connections_are_counted_on_the_board_until_they_close(harness: Harness, board: Board) -> None:
    harness.connect(3)
    harness.run_until(lambda: Held.made == 3, 5)
    assert harness.acceptor.connections == 3
    board.set_state(1, SlotState.READY)
    assert board.fewest_connections(besides=1) == 3  # what the other worker reads
    harness.close_clients()
    assert board.fewest_connections(besides=1) == 0


def test_a_worker_ahead_of_the_others_holds_back_until_they_catch_up(
    harness: Harness, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accept, "MAX_HOLD", 60.0)
    harness.one_ahead(board)
    harness.connect()
    with pytest.raises(AssertionError, match="not reached"):
        harness.run_until(lambda: Held.made == 2, 0.5)
    board.set_connections(1, 1)  # the other worker took one: now this one may take the next
    harness.run_until(lambda: Held.made == 2, 5)
    assert harness.acceptor.connections == 2


def test_a_worker_holding_back_looks_again_as_soon_as_one_of_its_connections_closes(
    harness: Harness, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accept, "MAX_HOLD", 60.0)
    monkeypatch.setattr(accept, "RECHECK", 60.0)  # so that only the close can make it look again
    harness.one_ahead(board)
    harness.connect()
    with pytest.raises(AssertionError, match="not reached"):
        harness.run_until(lambda: Held.made == 2, 0.3)
    harness.clients.pop(0).close()  # back to its share: the waiting connection is taken
    harness.run_until(lambda: Held.made == 2, 5)
    assert harness.acceptor.connections == 1


def test_a_worker_accepts_anyway_when_the_others_do_not_take_connections(
    harness: Harness, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accept, "MAX_HOLD", 0.3)
    harness.one_ahead(board)  # the other worker is ready but never accepts
    harness.connect(3)
    took = harness.run_until(lambda: Held.made == 4, 10)
    assert took >= 0.3, "it held back first"


@pytest.mark.parametrize("state", [SlotState.LOADING, SlotState.FAILED, SlotState.EMPTY])
def test_workers_that_are_not_ready_hold_no_one_back(
    harness: Harness, board: Board, state: SlotState
) -> None:
    board.set_state(1, state)
    harness.connect(4)
    harness.run_until(lambda: Held.made == 4, 5)


def test_reset_slot_forgets_its_connections(board: Board) -> None:
    board.set_state(1, SlotState.READY)
    board.set_connections(1, 7)
    assert board.fewest_connections(besides=0) == 7
    board.reset(1)
    board.set_state(1, SlotState.READY)
    assert board.fewest_connections(besides=0) == 0


# --- a real server ------------------------------------------------------------------------------------

REQUEST = b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx"


def _served_by(sock: socket.socket) -> int:
    """Send a request on ``sock`` (kept open) and return the pid of the worker that answered."""
    sock.sendall(REQUEST)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {answer!r}"
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {answer!r}"
        body += chunk
    return int(body)


@pytest.mark.slow
def test_a_burst_of_keep_alive_connections_is_split_evenly_between_workers(
    start_server: Callable[..., ServerProcess],
) -> None:
    server: ServerProcess = start_server("--handler", WHOAMI, "--workers", "2")
    for _ in range(3):
        # wrk's way: open every connection at once, then send on each; each stays with its worker.
        clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(32)]
        try:
            for client in clients:
                client.settimeout(10)
            split = collections.Counter(_served_by(client) for client in clients)
        finally:
            for client in clients:
                client.close()
        assert len(split) == 2, f"pid: connections {dict(split)}"
        assert abs(split.most_common()[0][1] - 16) <= 1, f"pid: connections {dict(split)}"
        time.sleep(0.5)  # the workers see the closes before the next burst


@pytest.mark.slow
def test_a_stopped_worker_does_not_keep_new_connections_waiting(
    start_server: Callable[..., ServerProcess],
) -> None:
    server: ServerProcess = start_server("--handler", WHOAMI, "--workers", "2")
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
    pids = {_served_by(client) for client in clients}
    for client in clients:
        client.close()
    assert len(pids) == 2
    stopped, running = sorted(pids)
    time.sleep(0.5)  # both back to no connections: the stopped one looks like the least loaded
    os.kill(stopped, signal.SIGSTOP)
    try:
        for _ in range(6):
            with socket.create_connection(("127.0.0.1", server.port)) as client:
                client.settimeout(5)
                assert _served_by(client) == running
    finally:
        os.kill(stopped, signal.SIGCONT)
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        client.settimeout(10)
        assert _served_by(client) in pids
