"""The floor: a bare ASGI app that drains the request body and answers a constant JSON body.

Served by uvicorn with uvloop and httptools; no framework, no model. Whatever a real server does
beyond this costs throughput, so this row bounds what any Python ASGI server can reach here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

BODY = b"[0]"
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]

Message = dict[str, Any]


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answer every HTTP request with 200 and BODY (lifespan is turned off on the command line)."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
