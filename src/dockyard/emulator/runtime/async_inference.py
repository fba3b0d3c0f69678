"""InvokeEndpointAsync: accept a request into the durable queue at once, process it in the background.

As SageMaker does: the request names an input object in S3 (``InputLocation``); the answer (202) says
where the result will be (``<S3OutputPath>/<inference-id>.out``) and where a failure will be
(``<S3FailurePath>/<inference-id>-error.out``). A dispatcher on the event loop hands queued requests, in
the order they came, to the endpoint's healthy instances, at most MaxConcurrentInvocationsPerInstance at
a time on each; a worker reads the input from the emulator's S3, posts it to the instance's
``/invocations`` within InvocationTimeoutSeconds, and writes the answer (2xx) or the container's error
to S3. A request still queued after RequestTTLSeconds fails without being sent. The emulator's own S3 is
read and written in-process (never a configured external S3 endpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dockyard.emulator.context import Caller, ResourceKey
from dockyard.emulator.errors import ValidationError
from dockyard.emulator.route_table import Instance
from dockyard.emulator.runtime.async_queue import AsyncQueue, QueuedRequest
from dockyard.emulator.runtime.invoke import INVOCATIONS, SERVING, Runtime
from dockyard.emulator.runtime.relay import ConnectFailed, Disconnected, RelayError
from dockyard.emulator.s3.errors import S3Error
from dockyard.emulator.s3.local_objects import LocalObjects, split_s3_uri

log = logging.getLogger("dockyard.emulator.async")

DEFAULT_TIMEOUT = 900  # InvocationTimeoutSeconds when not given (SageMaker's default: 15 minutes)
DEFAULT_TTL = 21600  # RequestTTLSeconds when not given (SageMaker's default: 6 hours)
# MaxConcurrentInvocationsPerInstance when the config gives none (SageMaker picks a value of its own).
DEFAULT_PER_INSTANCE = 4
POLL = 0.5  # the dispatcher looks at the queue at least this often (new routes, expiries)

# The endpoint's AsyncInferenceConfig (None: the endpoint is not asynchronous, or does not exist).
AsyncConfigOf = Callable[[ResourceKey], dict[str, Any] | None]


class AsyncInference:
    def __init__(self, state_dir: Path, runtime: Runtime, async_config: AsyncConfigOf) -> None:
        self.runtime = runtime
        self.async_config = async_config
        self.queue = AsyncQueue(state_dir / "async-inference.db")
        self.objects = LocalObjects(state_dir)
        self._running: set[int] = set()  # queued requests a worker has now
        self._busy: dict[str, int] = {}  # instance id -> async requests it is processing
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._workers: set[asyncio.Task[None]] = set()

    # ---- InvokeEndpointAsync ---------------------------------------------------------------------

    async def submit(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["EndpointName"])
        endpoint = ctx.key(name)
        for member in ("S3OutputPathExtension", "Filename"):
            if params.get(member) is not None:
                raise ValidationError(
                    f"{member} is not supported by the local SageMaker (dockyard emulator) yet: results are "
                    "written to <S3OutputPath>/<InferenceId>.out. Leave it out locally."
                )
        input_location = str(params["InputLocation"])
        try:
            split_s3_uri(input_location)
        except ValueError:
            raise ValidationError(
                f"InputLocation {input_location!r} is not an S3 URI: give the input object as s3://bucket/key."
            ) from None
        status, config = await asyncio.to_thread(self._endpoint, endpoint)
        if status not in SERVING:
            raise ValidationError(f"Endpoint {name} of account {ctx.account} not found.")
        if config is None:
            raise ValidationError(
                f"Endpoint {name} is not an asynchronous endpoint: its endpoint configuration has no "
                "AsyncInferenceConfig. Use InvokeEndpoint, or deploy a config with AsyncInferenceConfig."
            )
        output = config.get("OutputConfig") or {}
        inference_id = str(params.get("InferenceId") or uuid.uuid4())
        output_path = str(output["S3OutputPath"]).rstrip("/")
        failure_path = str(output.get("S3FailurePath") or output_path).rstrip("/")
        now = time.time()
        request = QueuedRequest(
            seq=0,
            endpoint=endpoint,
            inference_id=inference_id,
            input_location=input_location,
            output_location=f"{output_path}/{inference_id}.out",
            failure_location=f"{failure_path}/{inference_id}-error.out",
            content_type=params.get("ContentType"),
            accept=params.get("Accept"),
            custom_attributes=params.get("CustomAttributes"),
            timeout=float(params.get("InvocationTimeoutSeconds") or DEFAULT_TIMEOUT),
            expires=now + float(params.get("RequestTTLSeconds") or DEFAULT_TTL),
            per_instance=int(
                (config.get("ClientConfig") or {}).get("MaxConcurrentInvocationsPerInstance")
                or DEFAULT_PER_INSTANCE
            ),
            accepted=now,
        )
        await asyncio.to_thread(self.queue.add, request)
        self._wake.set()
        answer = {"InferenceId": inference_id, "OutputLocation": request.output_location}
        if output.get("S3FailurePath"):
            answer["FailureLocation"] = request.failure_location
        return answer

    def _endpoint(self, endpoint: ResourceKey) -> tuple[str | None, dict[str, Any] | None]:
        return self.runtime.endpoint_status(endpoint), self.async_config(endpoint)

    # ---- the dispatcher ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start dispatching (from within the event loop that serves requests)."""
        if self._dispatcher is None:
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch_forever())

    async def aclose(self) -> None:
        tasks = [*self._workers, *([self._dispatcher] if self._dispatcher else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._dispatcher = None
        self.queue.close()
        self.objects.close()

    async def _dispatch_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._dispatch()
            except Exception:
                log.exception("dispatching asynchronous requests failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL):
                    await self._wake.wait()

    async def _dispatch(self) -> None:
        pending = await asyncio.to_thread(self.queue.pending)
        now = time.time()
        for request in pending:
            if request.seq in self._running:
                continue
            if now >= request.expires:
                ttl = round(request.expires - request.accepted)
                self._spawn(
                    request, None, f"The request was not processed within its RequestTTLSeconds ({ttl})."
                )
                continue
            status = self.runtime.endpoint_status(request.endpoint)
            if status is None:
                self._spawn(
                    request, None, f"Endpoint {request.endpoint.name} was deleted before the request ran."
                )
                continue
            if status not in SERVING:
                continue
            instance = self._free_instance(request)
            if instance is not None:
                self._spawn(request, instance, None)

    def _free_instance(self, request: QueuedRequest) -> Instance | None:
        """The healthy instance of the endpoint with the fewest async requests, below the limit."""
        route = self.runtime.router.get(request.endpoint)
        if route is None:
            return None
        best: Instance | None = None
        for variant in route.variants:
            for instance in variant.healthy():
                busy = self._busy.get(instance.instance_id, 0)
                if busy < request.per_instance and (
                    best is None or busy < self._busy.get(best.instance_id, 0)
                ):
                    best = instance
        return best

    def _spawn(self, request: QueuedRequest, instance: Instance | None, failure: str | None) -> None:
        self._running.add(request.seq)
        if instance is not None:
            self._busy[instance.instance_id] = self._busy.get(instance.instance_id, 0) + 1
            instance.outstanding += 1  # the fleet drains an old instance only once this is 0
        task = asyncio.get_running_loop().create_task(self._work(request, instance, failure))
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    # ---- one request -----------------------------------------------------------------------------

    async def _work(self, request: QueuedRequest, instance: Instance | None, failure: str | None) -> None:
        # Finished (removed from the queue) only when it ran to an end: a worker cancelled by the
        # emulator stopping leaves its request queued, to run again at the next start.
        done = False
        try:
            if instance is None:
                await self._write(request.failure_location, (failure or "").encode(), "text/plain")
                done = True
            else:
                done = await self._invoke(request, instance)
        except Exception:
            log.exception("asynchronous request %s failed", request.inference_id)
            done = True  # not retried: it would fail the same way again
        finally:
            if instance is not None:
                self._busy[instance.instance_id] -= 1
                instance.outstanding -= 1
            if done:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.queue.finish, request.seq)
            self._running.discard(request.seq)
            self._wake.set()

    async def _invoke(self, request: QueuedRequest, instance: Instance) -> bool:
        """Process ``request`` on ``instance``; False when it never reached the container (to retry)."""
        try:
            body, stored_type = await asyncio.to_thread(self._read, request.input_location)
        except (S3Error, ValueError, OSError) as exc:
            await self._fail(request, f"The input {request.input_location} could not be read: {exc}")
            return True
        headers = {
            header: value
            for header, value in (
                # Without a ContentType, the input object's own (what the SDK's AsyncPredictor relies on).
                ("Content-Type", request.content_type or stored_type),
                ("Accept", request.accept),
                ("X-Amzn-SageMaker-Custom-Attributes", request.custom_attributes),
                ("X-Amzn-SageMaker-Inference-Id", request.inference_id),
            )
            if value is not None
        }
        try:
            async with asyncio.timeout(request.timeout):
                response = await self.runtime.pool.post(instance.origin, INVOCATIONS, headers, body)
        except (ConnectFailed, Disconnected):
            instance.healthy = False
            self.runtime.report_unreachable(request.endpoint, instance.instance_id)
            return False  # nothing reached the model: it goes to another instance
        except TimeoutError:
            await self._fail(
                request,
                f"The model did not answer within InvocationTimeoutSeconds ({request.timeout:g} seconds).",
            )
            return True
        except RelayError as exc:
            await self._fail(request, f"The connection to the container broke before it answered: {exc}.")
            return True
        if 200 <= response.status < 300:
            await self._write(request.output_location, response.body, response.headers.get("content-type"))
        else:
            await self._write(request.failure_location, response.body, response.headers.get("content-type"))
        return True

    def _read(self, uri: str) -> tuple[bytes, str | None]:
        bucket, key = split_s3_uri(uri)
        return b"".join(self.objects.read(bucket, key)), self.objects.content_type(bucket, key)

    async def _fail(self, request: QueuedRequest, message: str) -> None:
        await self._write(request.failure_location, message.encode(), "text/plain")

    async def _write(self, uri: str, data: bytes, content_type: str | None) -> None:
        bucket, key = split_s3_uri(uri)
        try:
            await asyncio.to_thread(self.objects.write, bucket, key, data, content_type)
        except S3Error as exc:
            log.error("the asynchronous result for %s could not be written: %s", uri, exc)
