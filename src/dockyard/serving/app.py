"""The HTTP surface of a worker: SageMaker's routes mapped onto the runner, and nothing more.

A plain ASGI callable rather than a framework app: four fixed routes do not need a router, and the
per-request cost of a framework's request/response objects is measurable at the request rates this
server is benchmarked at (see bench/).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from dockyard.serving import codecs, media
from dockyard.serving.board import Board
from dockyard.serving.context import RequestContext
from dockyard.serving.errors import (
    MethodNotAllowed,
    ModelNotReady,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    ServingError,
)
from dockyard.serving.handler import Pipeline
from dockyard.serving.logs import LineWriter
from dockyard.serving.metrics import WorkerMetrics
from dockyard.serving.multi_model import ModelShelf
from dockyard.serving.runner import Runner
from dockyard.serving.settings import ServerSettings

log = logging.getLogger("dockyard.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
OFFERED_TYPES = codecs.ENCODABLE_TYPES + codecs.JSONLINES_ALIASES
CUSTOM_ATTRIBUTES = b"x-amzn-sagemaker-custom-attributes"


class ClientGone(Exception):
    """The client disconnected before its body arrived; there is nobody to answer."""


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": code, "message": message})


def _status_of(exc: BaseException) -> int:
    # Honour the toolkit's BaseInferenceToolkitError (and anything shaped like it): a status_code
    # attribute in the error range chooses the status; everything else is a 500.
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) and 400 <= status <= 599 else 500


def _decoded_headers(scope: Scope) -> dict[str, str]:
    # The server gives names lower-cased; one pass serves the body's size check and the handler's context.
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _declared_length(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            length: str = value.decode("latin-1")
            return length
    return None


class ServingApp:
    def __init__(
        self,
        settings: ServerSettings,
        board: Board,
        slot: int,
        metrics: WorkerMetrics | None,
        on_startup: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_startup = on_startup
        self.board = board
        self.slot = slot
        self.metrics = metrics
        self.runner: Runner | None = None  # set once the model is loaded
        self.models: ModelShelf | None = None  # set when serving SageMaker's multi-model API
        self.loop: asyncio.AbstractEventLoop | None = None
        # Requests whose body is being read, with when they started; the worker's tick times out
        # the stalled ones (a timer per request would cost more than the dict).
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self.access_log = LineWriter()
        self._ids = itertools.count(1)
        self._id_prefix = f"{os.urandom(3).hex()}-"
        self._execution_parameters = orjson.dumps(
            {
                "MaxConcurrentTransforms": settings.max_concurrent_transforms or settings.workers,
                "BatchStrategy": settings.batch_strategy,
                "MaxPayloadInMB": settings.max_payload_mb,
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        request_id = f"{self._id_prefix}{next(self._ids):x}"
        headers = [(b"x-request-id", request_id.encode())]
        bytes_in = 0
        error: str | None = None
        try:
            if path == "/invocations":
                if method != "POST":
                    raise MethodNotAllowed("/invocations accepts POST only")
                request_headers = _decoded_headers(scope)
                body = await self._read_body(receive, request_headers.get("content-length"))
                bytes_in = len(body)
                status, payload, content_type = await self._invoke(request_headers, body, request_id, headers)
            elif path == "/ping":
                if method not in ("GET", "HEAD"):
                    raise MethodNotAllowed("/ping accepts GET only")
                status, payload, content_type = self._ping()
            elif path == "/execution-parameters":
                status, payload, content_type = 200, self._execution_parameters, JSON
            elif path == "/models" or path.startswith("/models/"):
                status, payload, content_type = await self._models(scope, receive, request_id, headers)
            else:
                raise NotFound(f"no route {path}; this server answers /ping and /invocations")
        except ClientGone:
            return
        except ServingError as exc:
            status, payload, content_type, error = (
                exc.status,
                error_body(exc.code, exc.message),
                JSON,
                exc.code,
            )
            if status in (408, 413):
                # The rest of the body is still on the wire (or never comes): close rather than parse
                # it as a request.
                headers.append((b"connection", b"close"))
        except Exception as exc:
            # Never an HTML page: the type and message reach the caller, the traceback the log.
            log.exception("request %s failed in the handler", request_id)
            error = type(exc).__name__
            status, payload, content_type = _status_of(exc), error_body(error, str(exc)), JSON
        headers.append((b"content-type", content_type))
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload if method != "HEAD" else b""})
        elapsed = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.observe_request(path, status, elapsed)
        if self.settings.access_log:
            record = {
                "ts": time.time(),
                "event": "request",
                "request_id": request_id,
                "method": method,
                "path": path,
                "status": status,
                # Microseconds, in ms: round() with digits formats the float, several times the cost.
                "latency_ms": int(elapsed * 1_000_000) / 1000,
                "bytes_in": bytes_in,
                "bytes_out": len(payload),
                "worker": self.slot,
            }
            if error is not None:
                record["error"] = error
            self.access_log.write(record)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.loop = asyncio.get_running_loop()
                if self.on_startup is not None:
                    self.on_startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.access_log.flush()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def expire_reads(self, now: float) -> None:
        """Cancel the body reads that have taken longer than the body timeout (they answer 408)."""
        timeout = self.settings.body_timeout
        for task, started in list(self._reading.items()):
            if now - started > timeout and task not in self._expired:
                self._expired.add(task)
                task.cancel()

    async def _read_body(self, receive: Receive, declared_length: str | None) -> bytes:
        limit = self.settings.max_body_bytes
        if declared_length is not None and int(declared_length) > limit:
            raise PayloadTooLarge(self._too_large(int(declared_length)))
        task = asyncio.current_task()
        assert task is not None
        self._reading[task] = time.monotonic()
        try:
            return await self._receive_body(receive, limit)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise  # the server is shutting down
            task.uncancel()
            raise RequestTimeout(
                f"the request body did not arrive within {self.settings.body_timeout:g} s"
            ) from None
        finally:
            del self._reading[task]
            self._expired.discard(task)

    async def _receive_body(self, receive: Receive, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(self._too_large(size, at_least=True))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large(self, size: int, at_least: bool = False) -> str:
        limit = self.settings.max_body_bytes
        amount = f"more than {limit:,}" if at_least else f"{size:,}"
        return f"request body is {amount} bytes; the limit is {limit:,} bytes ({limit / 1048576:g} MiB)"

    async def _models(
        self, scope: Scope, receive: Receive, request_id: str, headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, bytes, bytes]:
        """The multi-model API: ``/models`` (POST load, GET list) and ``/models/{name}`` (GET describe,
        DELETE unload, and ``/invoke`` with POST)."""
        shelf = self.models
        path: str = scope["path"]
        method: str = scope["method"]
        if shelf is None:
            raise NotFound(f"no route {path}: multi-model serving is off (SAGEMAKER_MULTI_MODEL=true)")
        if path in ("/models", "/models/"):
            if method == "POST":
                body = await self._read_body(receive, _declared_length(scope))
                status, payload = await shelf.load(body)
            elif method == "GET":
                query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
                status, payload = shelf.list(query)
            else:
                raise MethodNotAllowed("/models accepts GET (list) and POST (load) only")
            return status, payload, JSON
        name = path[len("/models/") :]
        if name.endswith("/invoke"):
            if method != "POST":
                raise MethodNotAllowed("/models/{name}/invoke accepts POST only")
            pipeline = await shelf.pipeline_for(name[: -len("/invoke")])
            request_headers = _decoded_headers(scope)
            body = await self._read_body(receive, request_headers.get("content-length"))
            return await self._invoke(request_headers, body, request_id, headers, pipeline)
        if method == "GET":
            return (*shelf.describe(name), JSON)
        if method == "DELETE":
            return (*shelf.unload(name), JSON)
        raise MethodNotAllowed("/models/{name} accepts GET (describe) and DELETE (unload) only")

    def _ping(self) -> tuple[int, bytes, bytes]:
        if self.board.all_ready():
            return 200, b"", JSON
        ready = self.board.ready_count()
        raise ModelNotReady(f"{ready} of {self.board.slots} workers have the model loaded")

    async def _invoke(
        self,
        request_headers: dict[str, str],
        body: bytes,
        request_id: str,
        headers: list[tuple[bytes, bytes]],
        pipeline: Pipeline | None = None,
    ) -> tuple[int, bytes, bytes]:
        runner = self.runner
        if runner is None:
            raise ModelNotReady("the model is still loading in this worker")
        pipeline = pipeline or runner.pipeline
        if pipeline is None:
            raise NotFound("this server serves several models: POST /models/{name}/invoke")
        content_type = request_headers.get("content-type") or "application/json"
        accept = request_headers.get("accept")
        if pipeline.negotiates:
            accept = media.negotiate(accept, OFFERED_TYPES, self.settings.default_accept)
        elif not accept or accept == "*/*":
            accept = self.settings.default_accept
        context = RequestContext.from_headers(request_id, request_headers, content_type, accept)
        assert self.loop is not None
        payload, produced = await runner.submit(body, context, self.loop, pipeline)
        if context.response_custom_attributes is not None:
            headers.append((CUSTOM_ATTRIBUTES, context.response_custom_attributes.encode("latin-1")))
        for name, value in context.response_headers.items():
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        return 200, payload, produced.encode("latin-1")
