"""A read timeout for uvicorn's httptools protocol: a client that stops sending cannot hold a connection.
(And a request that is not valid HTTP gets an AWS-shaped error instead of uvicorn's plain text.)

uvicorn closes a keep-alive connection that stays idle after a response (``timeout_keep_alive``), but
nothing bounds a connection that never sends a request, one whose headers trickle in a byte at a time
(slowloris) or a body that stops arriving: each would hold its socket, and its ASGI task, for ever. As
nginx's ``client_header_timeout`` and ``client_body_timeout``: a request's headers must be complete within
``read_timeout`` of the connection (or of their first byte, after a keep-alive pause), and its body may
pause at most ``read_timeout`` between two reads. Past either, the client gets ``408 Request Timeout`` and
the connection is closed. While the application works on a complete request no timer runs, however long
it takes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_READ_TIMEOUT = 30.0  # seconds without a byte from a client the server is waiting on
_TIMEOUT_BODY = b"the request did not arrive within the read timeout"
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)

_BAD_REQUEST_BODY = b'{"__type":"SerializationException","message":"The request is not valid HTTP/1.1."}'
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\n"
    b"x-amzn-errortype: SerializationException\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_BAD_REQUEST_BODY), _BAD_REQUEST_BODY)
)


def with_read_timeout(seconds: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a read timeout of ``seconds`` (pass it as ``http=``)."""

    class ReadTimeoutProtocol(_ReadTimeoutProtocol):
        read_timeout = seconds

    return ReadTimeoutProtocol


class _ReadTimeoutProtocol(HttpToolsProtocol):
    read_timeout = DEFAULT_READ_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        # "headers": from the connection (or a request's first byte) until its headers are complete;
        # "body": until its last byte; "served": the application has the whole request.
        self._phase = "headers"

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        body_before = self._phase == "body"
        super().data_received(data)
        if self.transport.is_closing() or self._phase == "served":
            self._disarm()
        elif self._phase == "body" and body_before:
            self._disarm()  # the body's timeout is between two reads: a byte arrived, start again
            self._arm()
        elif self._read_timer is None:
            self._arm()  # a new request began (after a keep-alive pause), or its body did

    def on_message_begin(self) -> None:
        self._phase = "headers"
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._phase = "body"
        self._disarm()  # the headers' deadline is met; the body's timer starts from here
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = "served"
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # A request whose HTTP framing cannot be parsed (a control character in a header, a broken
        # chunk): answered as the services answer what they cannot parse, so that boto3 reads a code.
        self._disarm()
        self.transport.write(_BAD_REQUEST)
        self.transport.close()

    def _arm(self) -> None:
        self._read_timer = self.loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing() or self._phase == "served":
            return
        cycle = self.cycle if self._phase == "body" else None
        if cycle is None or not cycle.response_started:
            self.transport.write(_REQUEST_TIMEOUT)
        if cycle is not None and not cycle.response_complete:
            # The application sees a disconnect and its answer is dropped: the 408 was the answer.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()
