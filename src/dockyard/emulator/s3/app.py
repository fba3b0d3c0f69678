"""S3 over HTTP: addressing (path style and virtual-host style), rest-xml, streamed bodies both ways.

The emulator's server hands a request here when it is signed for the ``s3`` service (the credential
scope of its Authorization header or presigned URL). Uploads stream to disk through
``ingest`` before the operation runs; GetObject streams from disk in 1 MiB pieces, the next piece read
on a worker thread while the previous one is sent. No operation holds an object in memory.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from dockyard.emulator.asgi import collect_body
from dockyard.emulator.aws.rest_xml import RestXmlProtocol
from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ServiceError
from dockyard.emulator.s3.errors import (
    IncompleteBody,
    InternalError,
    MaxMessageLengthExceeded,
    NotImplementedOperation,
)
from dockyard.emulator.s3.ingest import receive_body
from dockyard.emulator.s3.service import UPLOADS, S3Service

log = logging.getLogger("dockyard.emulator.s3")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_XML_BODY = 4 * 1024 * 1024  # a CompleteMultipartUpload of 10,000 parts is about 1 MB
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:]+\]")


def for_s3(scope_service: str, headers: Mapping[str, str], query_string: str) -> bool:
    """Whether a REST request is for S3: signed for ``s3`` (SigV4), or in S3's own ways that carry no
    SigV4 scope: a SigV2 signature (``Authorization: AWS key:sig``, or the ``AWSAccessKeyId`` and
    ``Signature`` query parameters of a URL presigned the old way, which boto3 still makes by default),
    or a bucket in the host name."""
    if scope_service:
        return scope_service == "s3"
    if headers.get("authorization", "").startswith("AWS "):
        return True
    if "AWSAccessKeyId=" in query_string and "Signature=" in query_string:
        return True
    return virtual_bucket(headers.get("host", "")) is not None


def virtual_bucket(host: str) -> str | None:
    """The bucket a virtual-host-style request names: ``bucket.localhost[:port]``,
    ``bucket.s3.localhost``, ``bucket.s3.REGION.amazonaws.com``; None for path style."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower()
    if not name or _IP.fullmatch(name) or name in ("localhost", "s3.localhost") or name.startswith("s3."):
        return None
    if ".s3." in name:
        return name.split(".s3.", 1)[0]
    if name.endswith(".localhost"):
        return name.removesuffix(".localhost")
    return None


class S3App:
    def __init__(self, service: S3Service) -> None:
        self.service = service
        self.protocol = RestXmlProtocol("s3")

    def close(self) -> None:
        self.service.close()

    def status(self) -> dict[str, int]:
        """What S3 holds, for the emulator's status."""
        return self.service.store.counts()

    async def __call__(self, ctx: Caller, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        receive = _Tracked(receive, headers)
        try:
            operation, params = self._parse(scope, method, headers)
            if operation in UPLOADS:
                # Before the body is read: a missing bucket or upload costs no disk and no transfer.
                await asyncio.to_thread(self.service.precheck, ctx, operation, params)
                body = await receive_body(receive, headers, self.service.blobs)
                result = await asyncio.to_thread(self.service.upload, ctx, operation, params, body)
            elif operation == "GetObject":
                await self._get_object(ctx, params, send)
                return
            else:
                if self.protocol.payload_shape(operation) is not None:
                    params.update(self.protocol.parse_payload(operation, await _read(receive)))
                result = await asyncio.to_thread(self.service.handle, ctx, operation, params)
            status, response_headers, payload = self.protocol.response(operation, result)
        except ServiceError as error:
            await self._error(send, error, ctx, method, close=receive.unread)
            return
        except _StreamCut:
            return  # uvicorn closes a connection whose response did not complete
        except Exception as exc:
            log.exception("S3 request %s failed", ctx.request_id)
            failure = InternalError(f"We encountered an internal error: {exc}")
            await self._error(send, failure, ctx, method, close=receive.unread)
            return
        if method == "HEAD":
            await _respond(send, status, [*response_headers, _request_id(ctx)], b"", head=True)
        else:
            await _respond(send, status, [*response_headers, _request_id(ctx)], payload)

    def _parse(self, scope: Scope, method: str, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        path = unquote(raw.decode("latin-1"))
        bucket = virtual_bucket(headers.get("host", ""))
        if bucket is not None:
            path = f"/{bucket}{path}" if path != "/" else f"/{bucket}"
        if path.count("/") == 2 and path.endswith("/"):  # "/bucket/" is the bucket
            path = path[:-1]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        matched = self.protocol.match(method, path, query, headers)
        if matched is None:
            raise NotImplementedOperation(f"{method} {path} is not an operation of the S3 API")
        operation, labels = matched
        if operation not in self.service.served:
            raise NotImplementedOperation(
                f"The local target's S3 does not serve {operation}; it serves: "
                + ", ".join(sorted(self.service.served))
            )
        return operation, self.protocol.parse(operation, labels, query, headers)

    async def _get_object(self, ctx: Caller, params: dict[str, Any], send: Send) -> None:
        result, content = await asyncio.to_thread(self.service.get_object, ctx, params)
        status, headers = self.protocol.head("GetObject", result)
        if "ContentRange" in result:
            status = 206
        headers.append(_request_id(ctx))
        pieces = self.service.read(content)
        piece = await asyncio.to_thread(_next, pieces)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        try:
            while piece is not None:
                ahead = asyncio.ensure_future(asyncio.to_thread(_next, pieces))
                try:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                finally:
                    piece = await ahead
        except OSError as exc:
            # The status is sent: the only way left to say "failed" is to cut the body short.
            log.error("S3 request %s: reading the object failed mid-stream: %s", ctx.request_id, exc)
            raise _StreamCut from exc
        await send({"type": "http.response.body", "body": b""})

    async def _error(
        self, send: Send, error: ServiceError, ctx: Caller, method: str, close: bool = False
    ) -> None:
        # A HEAD's error, and a 304, have no body (as S3 answers them).
        bodiless = method == "HEAD" or error.status == 304
        status, headers, body = self.protocol.error_response(error, ctx.request_id, head_only=bodiless)
        if close:  # the rest of the request body was never read: it must not be taken for a request
            headers.append((b"connection", b"close"))
        await _respond(send, status, headers, body, head=bodiless)


class _Tracked:
    """The ASGI receive callable, remembering whether a request body was left (partly) unread."""

    def __init__(self, receive: Receive, headers: Mapping[str, str]) -> None:
        self._receive = receive
        length = headers.get("content-length", "0")
        self._expects_body = "transfer-encoding" in headers or (length.isdigit() and int(length) > 0)
        self._done = False

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self._done = True
        return message

    @property
    def unread(self) -> bool:
        return self._expects_body and not self._done


class _StreamCut(Exception):
    """A GetObject body that failed after its headers were sent."""


def _next(pieces: Iterator[bytes]) -> bytes | None:
    return next(pieces, None)


def _request_id(ctx: Caller) -> tuple[bytes, bytes]:
    return (b"x-amz-request-id", ctx.request_id.encode("ascii"))


async def _read(receive: Receive) -> bytes:
    body = await collect_body(
        receive,
        MAX_XML_BODY,
        lambda: MaxMessageLengthExceeded(f"Your request was too big (the limit is {MAX_XML_BODY} bytes)."),
    )
    if body is None:
        raise IncompleteBody("The client disconnected before sending its whole request body")
    return body


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head: bool = False
) -> None:
    if not any(name == b"content-length" for name, _ in headers):
        headers = [*headers, (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
