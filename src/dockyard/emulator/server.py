"""The emulator's HTTP surface: one port for SageMaker, its runtime and the AWS services around them.

Requests are told apart as AWS tells them apart (``routing``): JSON 1.1 services by ``X-Amz-Target``
prefix (SageMaker, ECR, CloudWatch Logs), query services (STS, IAM) by the SigV4 scope's service, the
runtime by its rest-json ``/endpoints/...`` paths, S3 by the scope. Anything else gets an error in the
caller's protocol naming the service it was for (``aws/unserved``). This module only maps HTTP onto the
protocol layer (``aws/``), the providers and the runtime, and back. A plain ASGI callable, like the
inference server's: the runtime path is benchmarked against the container's own ``/invocations``, and a
framework's per-request objects would be measurable there.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from dockyard.emulator.asgi import (
    MAX_CONTROL_BODY,
    MAX_INVOKE_BODY,
    PayloadTooLarge,
    Receive,
    Scope,
    Send,
    read_body,
    request_headers,
    send_response,
)
from dockyard.emulator.aws.eventstream import encode_event, encode_exception
from dockyard.emulator.aws.json_protocol import JsonProtocol
from dockyard.emulator.aws.rest_json import RestJsonProtocol
from dockyard.emulator.components import Components, RawHandler
from dockyard.emulator.context import DEFAULT_REGION, Caller
from dockyard.emulator.errors import (
    InternalFailure,
    InternalStreamFailure,
    ServiceError,
    ValidationError,
    ValidationException,
)
from dockyard.emulator.routing import SAGEMAKER_TARGET, Protocol, classify, signing_scope
from dockyard.emulator.runtime.async_inference import AsyncInference
from dockyard.emulator.s3.app import for_s3
from dockyard.emulator.security import signed_region
from dockyard.emulator.service_calls import serve_json, serve_not_served, serve_query
from dockyard.emulator.services import JsonService, QueryService
from dockyard.emulator.settings import STATUS_PATH, EmulatorSettings

log = logging.getLogger("dockyard.emulator")

# Request ids shaped like SageMaker's (a UUID): a random prefix per process and a counter, since a
# uuid4() per request is measurable on the runtime path.
_ID_PREFIX = str(uuid.uuid4())[:24]
_ids = itertools.count(1)
_STREAMING_OPERATIONS = frozenset({"InvokeEndpointWithResponseStream"})


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
        if path == STATUS_PATH and method == "GET":
            answer = await asyncio.to_thread(self._status)
            if (
                self._started
                and self.components is not None
                and "services" in scope.get("query_string", b"").decode()
            ):
                try:
                    answer["services"] = await asyncio.to_thread(self.components.holdings)
                except Exception as exc:  # the status must answer even when a count fails
                    answer["services"] = {"error": str(exc)}
            await send_response(send, 200, [(b"content-type", b"application/json")], orjson.dumps(answer))
            return
        headers = request_headers(scope)
        query_string = scope.get("query_string", b"").decode("latin-1")
        signed = signing_scope(headers, query_string)
        request_id = f"{_ID_PREFIX}{next(_ids):012x}"
        ctx = Caller(
            self.settings.account,
            signed_region(scope) or (signed.region if signed else DEFAULT_REGION),
            request_id,
            signed.access_key if signed else "",
        )
        route = classify(method, path, headers, query_string, signed)
        if route.protocol is Protocol.REST and route.service == "sagemaker-runtime":
            # The protocol decodes the endpoint-name label itself: give it the path as sent.
            raw: bytes = scope.get("raw_path") or path.encode()
            await self._runtime(ctx, method, raw.decode("latin-1"), headers, receive, send)
        elif route.protocol is Protocol.JSON and route.service == SAGEMAKER_TARGET:
            await self._control(ctx, headers, receive, send)
        elif route.protocol is Protocol.JSON and route.service in self._json_services:
            await serve_json(self._json_services[route.service], ctx, headers, receive, send)
        elif route.protocol is Protocol.QUERY and route.service in self._query_services:
            service = self._query_services[route.service]
            await serve_query(service, ctx, query_string, receive, send)
        elif (
            route.protocol is Protocol.REST
            and self._s3 is not None
            and for_s3(route.service, headers, query_string)
        ):
            await self._s3(ctx, scope, receive, send)
        elif route.protocol is Protocol.REST and route.service in ("", "sagemaker"):
            await self._send_control_error(
                send, ValidationException(f"{method} {path} is not an operation of the SageMaker API"), ctx
            )
        else:
            await serve_not_served(route, signed.service if signed else "", method, path, ctx, receive, send)

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
                if self.components is not None and self.components.async_inference is not None:
                    self.components.async_inference.start()  # its dispatcher runs on this loop
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
            "model_data": self.components.reconciler.collector.report().as_dict()
            if self.components is not None and self._started
            else None,
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

    @property
    def _async_inference(self) -> AsyncInference:
        queued = self._parts.async_inference
        if queued is None:
            raise InternalFailure("asynchronous inference is not running in this emulator")
        return queued

    @property
    def _json_services(self) -> Mapping[str, JsonService]:
        aws = self.components.aws if self.components is not None else None
        return aws.json if aws is not None else {}

    @property
    def _query_services(self) -> Mapping[str, QueryService]:
        aws = self.components.aws if self.components is not None else None
        return aws.query if aws is not None else {}

    @property
    def _s3(self) -> RawHandler | None:
        return self.components.s3 if self.components is not None else None

    # ---- control plane -----------------------------------------------------------------------

    async def _control(self, ctx: Caller, headers: dict[str, str], receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive, MAX_CONTROL_BODY)
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
        await send_response(
            send,
            200,
            [
                (b"content-type", b"application/x-amz-json-1.1"),
                (b"x-amzn-requestid", ctx.request_id.encode()),
            ],
            payload,
        )

    async def _send_control_error(self, send: Send, error: ServiceError, ctx: Caller) -> None:
        status, headers, body = self.control.error_response(error)
        await send_response(send, status, [*headers, (b"x-amzn-requestid", ctx.request_id.encode())], body)

    # ---- runtime -----------------------------------------------------------------------------

    async def _runtime(
        self,
        ctx: Caller,
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
            body = await read_body(receive, MAX_INVOKE_BODY)
            params = protocol.parse(operation, uri_params, headers, body)
            if operation in _STREAMING_OPERATIONS:
                head, chunks = await self._parts.runtime.invoke_stream(ctx, params)
                await self._relay_stream(send, operation, head, chunks, ctx)
                return
            if operation == "InvokeEndpointAsync":
                result = await self._async_inference.submit(ctx, params)
            else:
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
        await send_response(send, status, response_headers, payload)

    async def _relay_stream(
        self,
        send: Send,
        operation: str,
        head: dict[str, Any],
        chunks: AsyncIterator[bytes],
        ctx: Caller,
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

    async def _send_runtime_error(self, send: Send, error: ServiceError, ctx: Caller) -> None:
        status, headers, body = self.runtime_protocol.error_response(error)
        headers = [*headers, (b"x-amzn-requestid", ctx.request_id.encode())]
        if status == PayloadTooLarge.status:
            headers.append((b"connection", b"close"))  # the rest of the body was never read
        await send_response(send, status, headers, body)
