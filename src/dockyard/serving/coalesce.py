"""Writing a response's head and body to the socket in one send.

uvicorn writes the status line and headers when the app sends ``http.response.start`` and the body
when it sends ``http.response.body``: two ``send`` system calls and two TCP segments per response,
which the client then reads apart. On loopback each send also runs the receiving side of TCP; one
send instead of two gave the no-op handler 6 to 12 % more requests per second (bench/README.md).

:func:`coalescing` gives uvicorn's protocol a transport that holds a write back until the next one
joins it or the response is complete. A write that nothing follows in the same turn of the event
loop (``100 Continue``, the head of a response whose body comes later) goes out on the next turn,
so holding never delays a byte past the work already queued on the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

JOIN_LIMIT = 64 * 1024  # below this, one joined bytes object; above, writelines (no copy of a big body)


class HeldWriteTransport:
    """A stream transport whose ``write`` waits for the next write, the response's end, or the loop."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            if data:
                self._held = bytes(data)  # the caller may reuse a mutable buffer
                self._loop.call_soon(self.flush)
            return
        self._held = None
        if len(held) + len(data) <= JOIN_LIMIT:
            self._transport.write(held + data)
        else:
            self._transport.writelines((held, data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Send what is held, if anything."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def __getattr__(self, name: str) -> Any:
        # Everything else (reading, flow control, extra info, closing state) is the socket's own.
        return getattr(self._transport, name)


def coalescing(protocol_class: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """uvicorn's ``protocol_class``, writing each response's head and body with one send."""

    class Coalescing(protocol_class):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            held = HeldWriteTransport(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
            super().connection_made(held)

        def on_response_complete(self) -> None:
            # The whole response is written: send it before the next pipelined request is handled.
            self.transport.flush()
            super().on_response_complete()

    Coalescing.__name__ = Coalescing.__qualname__ = f"Coalescing{protocol_class.__name__}"
    return Coalescing
