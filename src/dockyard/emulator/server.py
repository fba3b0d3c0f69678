"""The emulator's HTTP surface: one port for the SageMaker API and the SageMaker runtime API.

Requests are told apart as the services themselves are: the control plane is JSON 1.1 (``POST /`` with
``X-Amz-Target: SageMaker.<Op>``), the runtime is rest-json (``POST /endpoints/<name>/invocations``).
This module only maps HTTP onto the protocol layer (``aws/``), the provider and the runtime, and back.
A plain ASGI callable, like the inference server's: the runtime path is benchmarked against the
container's own ``/invocations``, and a framework's per-request objects would be measurable there.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

from dockyard.emulator.aws.eventstream import encode_event, encode_exception
from dockyard.emulator.aws.json_protocol import JsonProtocol
from dockyard.emulator.aws.rest_json import RestJsonProtocol
from dockyard.emulator.context import DEFAULT_REGION, RequestContext
from dockyard.emulator.errors import (
    InternalFailure,
    InternalStreamFailure,
    ServiceError,
    ValidationError,
    ValidationException,
)
from dockyard.emulator.runtime.invoke import Runtime
from dockyard.emulator.sagemaker.provider import SageMakerProvider
from dockyard.emulator.sagemaker.reconciler import Reconciler
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.security import signed_region
from dockyard.emulator.settings import STATUS_PATH, EmulatorSettings

log = logging.getLogger("dockyard.emulator")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

MAX_INVOKE_BODY = 6_291_456  # InvokeEndpoint's payload limit
MAX_CONTROL_BODY = 16 * 1024 * 1024  # far above any SageMaker API request; stops a runaway client
# "Credential=AKID/20261125/eu-west-1/sagemaker/aws4_request" in the SigV4 Authorization header.
_SCOPE = re.compile(rb"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/")
# Request ids shaped like SageMaker's (a UUID): a random prefix per process and a counter, since a
# uuid4() per request is measurable on the runtime path.
_ID_PREFIX = str(uuid.uuid4())[:24]
_ids = itertools.count(1)
_STREAMING_OPERATIONS = frozenset({"InvokeEndpointWithResponseStream"})


class PayloadTooLarge(ValidationError):
    # What SageMaker's front end answers for an oversized InvokeEndpoint body: a 413.
    status = 413


@dataclass(frozen=True)
class Components:
    """What one emulator process runs; built and torn down together."""

    store: Store
    reconciler: Reconciler
    provider: SageMakerProvider
    runtime: Runtime

    @classmethod
    def build(cls, settings: EmulatorSettings) -> Components:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.database)
        reconciler = Reconciler(
            settings.state_dir,
            s3_endpoint_url=settings.s3_endpoint_url,
            model_data_roots=settings.model_data_roots,
        )
        provider = SageMakerProvider(store, reconciler)
        reconciler.bind(provider)
        runtime = Runtime(reconciler, provider.endpoint_status)
        return cls(store, reconciler, provider, runtime)

    def start(self) -> None:
        self.reconciler.start()
        self.provider.resume()

    async def close(self) -> None:
        await self.runtime.aclose()
        self.reconciler.close()
        self.store.close()


class EmulatorApp:
    def __init__(self, settings: EmulatorSettings, components: Components | None = None) -> None:
        self.settings = settings
        self.components = components
        self.control = JsonProtocol("sagemaker")
        self.runtime_protocol = RestJsonProtocol("sagemaker-runtime")
        self._started = False
        self._console: Any = None  # the web console's ASGI app, made on its first request

    # ---- ASGI entry --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/console" or path.startswith("/console/"):
            await self._console_app()(scope, receive, send)
            return
        method: str = scope["method"]
        headers = _headers(scope)
        request_id = f"{_ID_PREFIX}{next(_ids):012x}"
        ctx = RequestContext(self.settings.account, signed_region(scope) or _region(headers), request_id)
        if path.startswith("/endpoints/"):
            # The protocol decodes the endpoint-name label itself: give it the path as sent.
            raw: bytes = scope.get("raw_path") or path.encode()
            await self._runtime(ctx, method, raw.decode("latin-1"), headers, receive, send)
        elif method == "POST" and "x-amz-target" in headers:
            await self._control(ctx, headers, receive, send)
        elif path == STATUS_PATH and method == "GET":
            await _send(send, 200, [(b"content-type", b"application/json")], orjson.dumps(self._status()))
        else:
            await self._send_control_error(
                send, ValidationException(f"{method} {path} is not an operation of the SageMaker API"), ctx
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(self._start)
                except Exception as exc:
                    log.exception("the emulator could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.components is not None:
                    await self.components.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _start(self) -> None:
        if self.components is None:
            self.components = Components.build(self.settings)
        self.components.start()
        self._started = True

    def _status(self) -> dict[str, Any]:
        return {
            "service": "dockyard-emulator",
            "pid": os.getpid(),
            "url": self.settings.url,
            "state_dir": str(self.settings.state_dir),
            "account": self.settings.account,
            "ready": self._started,
        }

    def _console_app(self) -> Any:
        if self._console is None:
            from dockyard.emulator.console.app import ConsoleApp

            self._console = ConsoleApp(self.settings, lambda: self._parts)
        return self._console

    @property
    def _parts(self) -> Components:
        if self.components is None:
            raise InternalFailure("the emulator is still starting")
        return self.components

    # ---- control plane -----------------------------------------------------------------------

    async def _control(
        self, ctx: RequestContext, headers: dict[str, str], receive: Receive, send: Send
    ) -> None:
        try:
            body = await _read_body(receive, MAX_CONTROL_BODY)
            operation, params = self.control.parse(headers.get("x-amz-target"), body)
            # The store is SQLite: keep its (short) waits off the event loop the runtime shares.
            result = await asyncio.to_thread(self._parts.provider.handle, ctx, operation, params)
            payload = self.control.serialize(operation, result)
        except ServiceError as error:
            await self._send_control_error(send, error, ctx)
            return
        except Exception as exc:
            log.exception("control-plane request %s failed", ctx.request_id)
            await self._send_control_error(send, InternalFailure(f"internal error: {exc}"), ctx)
            return
        await _send(
            send,
            200,
            [
                (b"content-type", b"application/x-amz-json-1.1"),
                (b"x-amzn-requestid", ctx.request_id.encode()),
            ],
            payload,
        )

    async def _send_control_error(self, send: Send, error: ServiceError, ctx: RequestContext) -> None:
        status, headers, body = self.control.error_response(error)
        await _send(send, status, [*headers, (b"x-amzn-requestid", ctx.request_id.encode())], body)

    # ---- runtime -----------------------------------------------------------------------------

    async def _runtime(
        self,
        ctx: RequestContext,
        method: str,
        path: str,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
    ) -> None:
        protocol = self.runtime_protocol
        try:
            matched = protocol.match(method, path)
            if matched is None:
                raise ValidationError(f"{method} {path} is not an operation of the SageMaker runtime API")
            operation, uri_params = matched
            body = await _read_body(receive, MAX_INVOKE_BODY)
            params = protocol.parse(operation, uri_params, headers, body)
            if operation in _STREAMING_OPERATIONS:
                head, chunks = await self._parts.runtime.invoke_stream(ctx, params)
                await self._relay_stream(send, operation, head, chunks, ctx)
                return
            result = await self._parts.runtime.invoke(ctx, params)
            status, response_headers, payload = protocol.response(operation, result)
        except ServiceError as error:
            await self._send_runtime_error(send, error, ctx)
            return
        except Exception as exc:
            log.exception("runtime request %s failed", ctx.request_id)
            await self._send_runtime_error(send, InternalFailure(f"internal error: {exc}"), ctx)
            return
        response_headers.append((b"x-amzn-requestid", ctx.request_id.encode()))
        await _send(send, status, response_headers, payload)

    async def _relay_stream(
        self,
        send: Send,
        operation: str,
        head: dict[str, Any],
        chunks: AsyncIterator[bytes],
        ctx: RequestContext,
    ) -> None:
        status, headers = self.runtime_protocol.stream_head(operation, head)
        headers.append((b"x-amzn-requestid", ctx.request_id.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        try:
            async for chunk in chunks:
                if chunk:
                    await send(
                        {
                            "type": "http.response.body",
                            "body": encode_event("PayloadPart", chunk),
                            "more_body": True,
                        }
                    )
        except ServiceError as error:
            # Once the 200 is sent, a failure can only travel as an exception event in the stream.
            await send({"type": "http.response.body", "body": encode_exception(error), "more_body": True})
        except Exception as exc:
            log.exception("stream %s failed", ctx.request_id)
            failure = InternalStreamFailure(f"internal error: {exc}")
            await send({"type": "http.response.body", "body": encode_exception(failure), "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _send_runtime_error(self, send: Send, error: ServiceError, ctx: RequestContext) -> None:
        status, headers, body = self.runtime_protocol.error_response(error)
        headers = [*headers, (b"x-amzn-requestid", ctx.request_id.encode())]
        if status == PayloadTooLarge.status:
            headers.append((b"connection", b"close"))  # the rest of the body was never read
        await _send(send, status, headers, body)


# ---- HTTP helpers ------------------------------------------------------------------------------


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _region(headers: dict[str, str]) -> str:
    found = _SCOPE.search(headers.get("authorization", "").encode("latin-1"))
    return found.group(1).decode() if found else DEFAULT_REGION


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ValidationError("the client disconnected before sending its whole request")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"HTTP content length exceeded {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, headers: Headers, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
