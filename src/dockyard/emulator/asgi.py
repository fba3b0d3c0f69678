"""The plain ASGI the emulator's port speaks: reading a bounded request body, sending a whole response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from dockyard.emulator.errors import ValidationError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

MAX_INVOKE_BODY = 6_291_456  # InvokeEndpoint's payload limit
MAX_CONTROL_BODY = 16 * 1024 * 1024  # far above any AWS API request the port serves; stops a runaway client


class PayloadTooLarge(ValidationError):
    # What SageMaker's front end answers for an oversized InvokeEndpoint body: a 413.
    status = 413


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (ASGI servers lower-case them)."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


async def collect_body(receive: Receive, limit: int, too_large: Callable[[], Exception]) -> bytes | None:
    """The whole request body, or None when the client disconnects before sending it; ``too_large()`` is
    raised as soon as more than ``limit`` bytes have arrived. Each service gives its own errors."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def read_body(receive: Receive, limit: int) -> bytes:
    body = await collect_body(
        receive, limit, lambda: PayloadTooLarge(f"HTTP content length exceeded {limit} bytes.")
    )
    if body is None:
        raise ValidationError("the client disconnected before sending its whole request")
    return body


async def send_response(send: Send, status: int, headers: Headers, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
