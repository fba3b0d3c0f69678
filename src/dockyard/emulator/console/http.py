"""The console's requests and responses over plain ASGI: just what its pages need, nothing of a framework.

A request's body is read whole (forms are small) except for uploads, which the upload handler streams
from ``receive`` itself. Every response carries the headers that keep the pages to themselves: a strict
Content-Security-Policy (scripts only from the console's own static files), no framing, no sniffing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_FORM_BODY = 8 * 1024 * 1024  # an inference playground body is at most 6 MB (InvokeEndpoint's limit)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        b"object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class BodyTooLarge(Exception):
    pass


@dataclass
class Request:
    scope: Scope
    receive: Receive
    method: str
    path: str  # below /console, e.g. "/models/my-model"
    query: dict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]
    form: list[tuple[str, str]] = field(default_factory=list)
    csrf_token: str = ""  # the session's, checked by the security middleware on every change

    @classmethod
    def of(cls, scope: Scope, receive: Receive, prefix: str) -> Request:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookies: dict[str, str] = {}
        if "cookie" in headers:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(headers["cookie"])
            except Exception:  # a malformed Cookie header: treat as none
                jar = SimpleCookie()
            cookies = {name: morsel.value for name, morsel in jar.items()}
        raw_query = scope.get("query_string", b"").decode("latin-1")
        path: str = scope["path"]
        return cls(
            scope=scope,
            receive=receive,
            method=scope["method"],
            path=path[len(prefix) :] or "/",
            query=dict(parse_qsl(raw_query, keep_blank_values=True)),
            headers=headers,
            cookies=cookies,
        )

    @property
    def htmx(self) -> bool:
        return self.headers.get("hx-request") == "true"

    async def body(self, limit: int = MAX_FORM_BODY) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return b""
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"the request body is larger than {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def discard_body(self, limit: int = MAX_FORM_BODY) -> None:
        """Read and drop the body (up to ``limit`` bytes), so that a client still sending reads the
        refusal; past that, the server closes the connection after answering."""
        read = 0
        while read <= limit:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def read_form(self) -> None:
        body = await self.body()
        self.form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)

    def field(self, name: str, default: str = "") -> str:
        for key, value in self.form:
            if key == name:
                return value
        return default

    def fields(self, name: str) -> list[str]:
        return [value for key, value in self.form if key == name]


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: str, value: str) -> Response:
        self.headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        return self

    async def send(self, send: Send) -> None:
        headers = [
            (b"content-type", self.content_type.encode("latin-1")),
            (b"content-length", str(len(self.body)).encode()),
            *SECURITY_HEADERS,
            *self.headers,
        ]
        if not any(name == b"cache-control" for name, _ in self.headers):
            headers.append((b"cache-control", b"no-store"))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def html(text: str, status: int = 200) -> Response:
    return Response(status, text.encode("utf-8"))


def json_response(document: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(document).encode("utf-8"), "application/json")


def text(message: str, status: int) -> Response:
    return Response(status, message.encode("utf-8"), "text/plain; charset=utf-8")


def refused_status(request: Request) -> int:
    """The status of a form shown again with SageMaker's refusal: 400, but 200 for htmx, which swaps only
    successful answers into the page."""
    return 200 if request.htmx else 400


def redirect(request: Request, location: str) -> Response:
    """After a change: htmx follows HX-Redirect, a plain form post follows the 303."""
    if request.htmx:
        return Response(204).header("HX-Redirect", location)
    return Response(303).header("location", location)


def url_part(value: str) -> str:
    """A name as one path segment of a console URL."""
    return quote(value, safe="")
