"""Closing connections whose request head stops arriving.

uvicorn times out idle keep-alive connections but not a connection that opens and sends nothing, nor
one whose request line and headers stop half-way: each would hold its socket forever. (A body that
stops arriving is the app's to time out, with a 408: see ``ServingApp.expire_reads``.) The worker
calls :meth:`HeadWatch.sweep` every second with uvicorn's live connections; one that has waited for
a request head longer than the timeout is closed. Sweeping once a second costs nothing per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class HeadWatch:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        # connection → (the request cycle it was waiting after, since when); a new cycle restarts it
        self._waiting: dict[Any, tuple[Any, float]] = {}

    def sweep(self, connections: Iterable[Any], now: float) -> int:
        """Close the connections stalled in a request head; return how many were closed."""
        waiting: dict[Any, tuple[Any, float]] = {}
        closed = 0
        for connection in connections:
            cycle = getattr(connection, "cycle", None)
            between_requests = cycle is None or getattr(cycle, "response_complete", False)
            # A keep-alive timer means uvicorn itself will close an idle connection.
            if not between_requests or getattr(connection, "timeout_keep_alive_task", None) is not None:
                continue
            seen_cycle, since = self._waiting.get(connection, (cycle, now))
            if seen_cycle is not cycle:
                since = now
            if now - since > self.timeout:
                transport = getattr(connection, "transport", None)
                if transport is not None and not transport.is_closing():
                    transport.close()
                    closed += 1
                continue
            waiting[connection] = (cycle, since)
        self._waiting = waiting
        return closed
