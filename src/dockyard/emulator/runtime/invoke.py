"""InvokeEndpoint and InvokeEndpointWithResponseStream: pick an instance, relay the request, shape errors.

The request goes to the chosen container's ``/invocations`` over a pooled keep-alive connection, with
the headers SageMaker passes on; the container's answer comes back as the operation's output members,
or as the error SageMaker gives for it (ModelError 424 with the container's status and message, the
60-second timeout, an unknown or not-serving endpoint). An instance that refuses the connection is
taken out of routing at once and the request goes to another one: nothing was sent, so nothing runs
twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from dockyard.emulator.context import Caller, ResourceKey
from dockyard.emulator.errors import (
    ModelError,
    ModelStreamError,
    ServiceUnavailable,
    ThrottlingException,
    ValidationError,
)
from dockyard.emulator.route_table import EndpointRoute, Instance, ReportUnreachable, Router, VariantRoute
from dockyard.emulator.runtime.capture import Captured, CaptureWriter
from dockyard.emulator.runtime.metrics import EndpointMetrics
from dockyard.emulator.runtime.out_of_service import OUT_OF_SERVICE, cannot_serve, out_of_service
from dockyard.emulator.runtime.pipelines import run_pipeline
from dockyard.emulator.runtime.relay import Broken, ConnectFailed, Disconnected, Pool, RelayError, Response
from dockyard.emulator.runtime.shadow import Mirror
from dockyard.emulator.runtime.target_models import LoadFailed, TargetModels
from dockyard.emulator.serverless import ServerlessPool

INVOCATION_TIMEOUT = 60.0  # SageMaker's limit on a container's answer to /invocations
READY_WAIT = 5.0  # how long a request waits for a healthy instance (one being replaced) before a 503
ATTEMPTS = 3  # instances tried when connections are refused
# Statuses in which an endpoint has a fleet serving traffic; in the others SageMaker's runtime answers
# as for an endpoint that does not exist.
SERVING = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})
# Input member -> the header the container receives (botocore's locationName for each).
FORWARDED = (
    ("ContentType", "Content-Type"),
    ("Accept", "Accept"),
    ("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
    ("TargetModel", "X-Amzn-SageMaker-Target-Model"),
    ("InferenceId", "X-Amzn-SageMaker-Inference-Id"),
    ("SessionId", "X-Amzn-SageMaker-Session-Id"),
)
# Container response header -> output member.
RETURNED = (
    ("x-amzn-sagemaker-custom-attributes", "CustomAttributes"),
    ("x-amzn-sagemaker-new-session-id", "NewSessionId"),
    ("x-amzn-sagemaker-closed-session-id", "ClosedSessionId"),
)
TIMEOUT_MESSAGE = (
    "Your invocation timed out while waiting for a response from container primary. Review the latency "
    "metrics for each container in Amazon CloudWatch, resolve the issue, and try again."
)
_RETRYABLE = (ConnectFailed, Disconnected)  # nothing reached the model: another instance may take it
INVOCATIONS = "/invocations"

# The endpoint's status, None when there is no such endpoint (the control plane answers).
EndpointStatus = Callable[[ResourceKey], str | None]
T = TypeVar("T")


class Runtime:
    """The runtime API over the routing table the fleet keeps; it never calls the fleet but through
    ``report_unreachable``, and learns endpoint statuses through ``endpoint_status``."""

    def __init__(
        self,
        router: Router,
        endpoint_status: EndpointStatus,
        report_unreachable: ReportUnreachable,
        *,
        invocation_timeout: float = INVOCATION_TIMEOUT,
        ready_wait: float = READY_WAIT,
        capture: CaptureWriter | None = None,
    ) -> None:
        self.router = router
        self.capture = capture  # None: data capture configs are not acted on (unit tests)
        self.mirror = Mirror(report_unreachable, invocation_timeout)
        self.endpoint_status = endpoint_status
        self.report_unreachable = report_unreachable
        self.invocation_timeout = invocation_timeout
        self.ready_wait = ready_wait
        self.metrics = EndpointMetrics()  # per endpoint and minute, for the console's charts
        self._pool: Pool | None = None
        self.target_models = TargetModels()
        self._cold_starts: dict[int, asyncio.Lock] = {}  # serverless pool -> its one cold start at a time

    @property
    def pool(self) -> Pool:
        # Made on first use, inside the event loop that serves requests.
        if self._pool is None:
            self._pool = Pool()
        return self._pool

    async def aclose(self) -> None:
        await self.mirror.aclose()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        await self.target_models.aclose()

    # ---- InvokeEndpoint --------------------------------------------------------------------------

    async def invoke(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        headers, body = _headers(params), params.get("Body") or b""

        async def post(variant: VariantRoute, instance: Instance) -> Response:
            if variant.pipeline:
                route = self.router.get(ctx.key(str(params["EndpointName"])))
                return await self._pipeline(route, variant, instance, headers, body, params)
            path = await self._path(ctx, variant, instance, params)
            return await self.pool.post(instance.origin, path, headers, body)

        started = time.perf_counter()
        variant, instance, response = await self._send(ctx, params, post)
        instance.outstanding -= 1  # the whole answer is in
        self.metrics.record(params["EndpointName"], response.status, time.perf_counter() - started)
        if not 200 <= response.status < 300:
            text = response.body.decode("utf-8", "replace")
            raise _model_error(ctx, params["EndpointName"], response.status, text)
        self._answered(ctx.key(params["EndpointName"]), params, variant.name, headers, body, response)
        return _output(response.headers, variant.name, {"Body": response.body})

    def _answered(
        self,
        endpoint: ResourceKey,
        params: dict[str, Any],
        variant: str,
        headers: dict[str, str],
        body: bytes,
        response: Response,
    ) -> None:
        """What follows a production answer off the caller's path: its capture, the shadows' copies."""
        route = self.router.get(endpoint)
        if route is None:
            return
        settings = route.capture
        if settings is not None and self.capture is not None and CaptureWriter.sampled(settings):
            self.capture.offer(
                Captured(
                    endpoint.name,
                    variant,
                    settings,
                    time.time(),
                    params.get("ContentType"),
                    body,
                    response.headers.get("content-type"),
                    response.body,
                    params.get("InferenceId"),
                    params.get("CustomAttributes"),
                )
            )
        if route.shadows:
            self.mirror.mirror(self.pool, route, INVOCATIONS, headers, body)

    async def invoke_stream(
        self, ctx: Caller, params: dict[str, Any]
    ) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        headers, body = _headers(params), params.get("Body") or b""

        async def stream(
            variant: VariantRoute, instance: Instance
        ) -> tuple[Response, AsyncGenerator[bytes, None]]:
            path = await self._path(ctx, variant, instance, params)
            return await self.pool.stream(instance.origin, path, headers, body)

        started = time.perf_counter()
        variant, instance, (response, chunks) = await self._send(ctx, params, stream)
        # A stream's latency is its time to the first byte of the answer.
        self.metrics.record(params["EndpointName"], response.status, time.perf_counter() - started)
        if not 200 <= response.status < 300:
            try:
                text = b"".join([chunk async for chunk in chunks]).decode("utf-8", "replace")
            except RelayError:
                text = ""
            finally:
                instance.outstanding -= 1
            raise _model_error(ctx, params["EndpointName"], response.status, text)
        return _output(response.headers, variant.name, {}), self._relay(chunks, instance)

    async def _send(
        self, ctx: Caller, params: dict[str, Any], send: Callable[[VariantRoute, Instance], Awaitable[T]]
    ) -> tuple[VariantRoute, Instance, T]:
        """``send`` to a chosen instance, and to another one while nothing reached a model. On success
        the instance's request stays counted in ``outstanding``: the caller ends it."""
        name = str(params["EndpointName"])
        endpoint = ctx.key(name)
        route = self._route(endpoint)
        for attempt in range(ATTEMPTS):
            variant, instance = await self._choose(route, endpoint, params.get("TargetVariant"))
            instance.outstanding += 1
            try:
                async with asyncio.timeout(self.invocation_timeout):
                    return variant, instance, await send(variant, instance)
            except _RETRYABLE as exc:
                instance.outstanding -= 1
                self._unreachable(endpoint, instance)
                if attempt == ATTEMPTS - 1:
                    raise _unreachable_error(name, exc) from None
                route = self.router.get(endpoint) or route
            except TimeoutError:
                instance.outstanding -= 1
                self.metrics.record(name, 0, None)
                raise _model_error(ctx, name, None, TIMEOUT_MESSAGE) from None
            except Broken as exc:
                # Not resent (it may have reached the model); out of routing until the fleet sees it answer.
                instance.outstanding -= 1
                self._unreachable(endpoint, instance)
                self.metrics.record(name, 0, None)
                raise _model_error(ctx, name, None, _broken(exc)) from None
            except BaseException:
                instance.outstanding -= 1
                raise
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _pipeline(
        self,
        route: EndpointRoute | None,
        variant: VariantRoute,
        instance: Instance,
        headers: dict[str, str],
        body: bytes,
        params: dict[str, Any],
    ) -> Response:
        async def post(to: Instance, sent: dict[str, str], payload: bytes) -> Response:
            return await self.pool.post(to.origin, INVOCATIONS, sent, payload)

        target = params.get("TargetContainerHostname")
        _, answer = await run_pipeline(route, variant, instance, headers, body, target, post)
        return answer

    async def _path(
        self, ctx: Caller, variant: VariantRoute, instance: Instance, params: dict[str, Any]
    ) -> str:
        """``/invocations``, or for a multi-model variant the TargetModel's, loaded first when need be."""
        if variant.models is None:
            return INVOCATIONS
        try:
            return await self.target_models.invoke_path(variant.models, instance, params.get("TargetModel"))
        except LoadFailed as exc:
            raise _model_error(ctx, str(params["EndpointName"]), exc.status, exc.message) from None

    async def _relay(self, chunks: AsyncGenerator[bytes, None], instance: Instance) -> AsyncIterator[bytes]:
        try:
            while True:
                try:
                    async with asyncio.timeout(self.invocation_timeout):
                        chunk = await anext(chunks, None)
                except TimeoutError:
                    raise ModelStreamError(
                        "The model did not send the next part of its response in time.",
                        ErrorCode="ModelInvocationTimeExceeded",
                    ) from None
                except RelayError as exc:
                    raise ModelStreamError(
                        f"The model's response stream broke: {exc}", ErrorCode="StreamBroken"
                    ) from None
                if chunk is None:
                    return
                yield chunk
        finally:
            await chunks.aclose()
            instance.outstanding -= 1

    # ---- choosing ----------------------------------------------------------------------------------

    def _route(self, endpoint: ResourceKey) -> EndpointRoute | None:
        status, route = self.endpoint_status(endpoint), self.router.get(endpoint)
        if cannot_serve(status, route):
            raise out_of_service(endpoint.name)
        if status not in SERVING and status != OUT_OF_SERVICE:
            raise ValidationError(f"Endpoint {endpoint.name} of account {endpoint.account} not found.")
        return route

    async def _choose(
        self, route: EndpointRoute | None, endpoint: ResourceKey, target: str | None
    ) -> tuple[VariantRoute, Instance]:
        chosen = _pick(route, endpoint.name, target)
        if chosen is not None and chosen[0].serverless is not None:
            return chosen[0], await self._serverless(chosen[0].serverless, endpoint.name)
        if chosen is not None:
            assert chosen[1] is not None
            return chosen[0], chosen[1]
        # No healthy instance right now (one being replaced, the emulator re-adopting its fleet).
        deadline = time.monotonic() + self.ready_wait
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            chosen = _pick(self.router.get(endpoint) or route, endpoint.name, target)
            if chosen is not None and chosen[1] is not None:
                return chosen[0], chosen[1]
            if self.endpoint_status(endpoint) == OUT_OF_SERVICE:  # the fleet gave up waiting too
                raise out_of_service(endpoint.name)
        which = f"variant {target} of endpoint {endpoint.name}" if target else f"endpoint {endpoint.name}"
        raise ServiceUnavailable(f"No healthy instance of {which} is available. Please try again.")

    async def _serverless(self, pool: ServerlessPool, name: str) -> Instance:
        """The serverless variant's container, started first when there is none (a cold start)."""
        instance = pool.current()
        if instance is not None and instance.outstanding >= pool.max_concurrency:
            raise ThrottlingException(
                f"The endpoint {name} is already serving its MaxConcurrency of {pool.max_concurrency} "
                "concurrent requests. Please try again."
            )
        if instance is None:
            lock = self._cold_starts.setdefault(id(pool), asyncio.Lock())
            async with lock:
                instance = pool.current()
                if instance is None:
                    try:
                        instance = await asyncio.to_thread(pool.cold_start)
                    except Exception as exc:
                        raise ServiceUnavailable(
                            f"The serverless endpoint {name} could not start a container: {exc}"
                        ) from None
        pool.touch()
        return instance

    def _unreachable(self, endpoint: ResourceKey, instance: Instance) -> None:
        instance.healthy = False  # out of routing now; the fleet replaces it
        self.report_unreachable(endpoint, instance.instance_id)


def _pick(
    route: EndpointRoute | None, name: str, target: str | None
) -> tuple[VariantRoute, Instance | None] | None:
    """The variant and its instance; the instance is None for a serverless variant (it may have none)."""
    if route is None:
        return None
    if target:
        variant = route.variant(target)
        if variant is None:
            raise ValidationError(f"Variant {target} was not found for endpoint {name}.")
    else:
        variant = route.choose_variant()
        if variant is None:
            return None
    if variant.serverless is not None:
        return variant, None
    instance = variant.pick()
    return None if instance is None else (variant, instance)


def _headers(params: dict[str, Any]) -> dict[str, str]:
    headers = {header: str(params[member]) for member, header in FORWARDED if params.get(member) is not None}
    for header, value in headers.items():
        if not value.isascii() or "\r" in value or "\n" in value:
            raise ValidationError(f"The value of {header} must be printable ASCII without line breaks.")
    return headers


def _output(headers: dict[str, str], variant: str, output: dict[str, Any]) -> dict[str, Any]:
    content_type = headers.get("content-type")
    if content_type is not None:
        output["ContentType"] = content_type
    output["InvokedProductionVariant"] = variant
    for header, member in RETURNED:
        value = headers.get(header)
        if value is not None:
            output[member] = value
    return output


def _broken(exc: Exception) -> str:
    return f"The connection to the container broke before it answered: {exc}."


def _unreachable_error(name: str, exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(f"No instance of endpoint {name} could be reached ({exc}). Please try again.")


def log_group(name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{name}"


def _model_error(ctx: Caller, name: str, status: int | None, message: str) -> ModelError:
    """SageMaker's ModelError for a container's answer (``status`` None: no answer in time)."""
    code = 0 if status is None else status
    kind = "client" if 400 <= code < 500 else "server"
    console = (
        f"https://{ctx.region}.console.aws.amazon.com/cloudwatch/home?region={ctx.region}"
        f"#logEventViewer:group={log_group(name)}"
    )
    fields: dict[str, Any] = {
        "OriginalMessage": message,
        "LogStreamArn": f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{log_group(name)}",
    }
    if status is not None:
        fields["OriginalStatusCode"] = status
    return ModelError(
        f'Received {kind} error ({code}) from primary with message "{message}". See {console} '
        f"in account {ctx.account} for more information.",
        **fields,
    )
