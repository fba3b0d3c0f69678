"""The console's way into the control plane: the very path an API request takes, minus HTTP and SigV4.

Parameters are encoded to the JSON 1.1 body boto3 would send and parsed back by the API's own protocol
(so botocore's input shape decodes and validates them, with SageMaker's wording), handled by the
provider, and the result serialized through the output shape and decoded: the console sees exactly
what a boto3 caller sees. Invocations go through the runtime protocol's parser and the runtime itself.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from dockyard.emulator.aws.json_protocol import JsonProtocol
from dockyard.emulator.aws.rest_json import RestJsonProtocol
from dockyard.emulator.context import Caller, ResourceKey
from dockyard.emulator.errors import ServiceError
from dockyard.emulator.routing import ECR_TARGET

if TYPE_CHECKING:
    from dockyard.emulator.components import Components
    from dockyard.emulator.s3.service import S3Service

_ID_PREFIX = str(uuid.uuid4())[:24]
_ids = itertools.count(1)
# One failure in a ValidationException message: "Value '…' at 'path' failed to satisfy constraint: …".
_FAILURE = re.compile(r"Value .* at '([^']+)' failed to satisfy constraint: .+", re.DOTALL)
_COUNT = re.compile(r"^\d+ validation errors? detected: ")


@dataclass(frozen=True)
class Invocation:
    status: int
    latency_ms: float
    body: bytes
    content_type: str
    variant: str
    custom_attributes: str
    error_code: str = ""
    error_message: str = ""
    error_fields: dict[str, Any] | None = None


class Control:
    def __init__(self, components: Callable[[], Components], account: str) -> None:
        self._components = components
        self.account = account
        self.wire = JsonProtocol("sagemaker")
        self.runtime_wire = RestJsonProtocol("sagemaker-runtime")

    def context(self, region: str) -> Caller:
        return Caller(self.account, region, f"{_ID_PREFIX}{next(_ids):012x}")

    def key(self, region: str, name: str) -> ResourceKey:
        """How the fleet and its logs know an endpoint (of this account, in ``region``)."""
        return ResourceKey(self.account, region, name)

    @property
    def components(self) -> Components:
        return self._components()

    async def call(self, region: str, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """``operation`` as the API runs it; raises the API's ServiceError."""
        return await asyncio.to_thread(self.call_sync, region, operation, params or {})

    def call_sync(self, region: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return _through(self.wire, self.components.provider.handle, self.context(region), operation, params)

    async def ecr(self, region: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """An ECR operation as its JSON API runs it (the local ECR of the emulator's port)."""
        services = self.components.aws
        if services is None:
            raise ServiceUnavailableHere("this emulator runs no ECR")
        service = services.json[ECR_TARGET]
        return await asyncio.to_thread(
            _through, service.protocol, service.handle, self.context(region), operation, params
        )

    def s3_service(self) -> S3Service:
        from dockyard.emulator.s3.app import S3App

        s3 = self.components.s3
        if not isinstance(s3, S3App):
            raise ServiceUnavailableHere("this emulator runs no S3")
        return s3.service

    async def s3(self, region: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """An S3 operation of the emulator's own S3 (its service object; S3's wire is rest-xml over HTTP,
        whose parsing only maps the request line and headers to these same members)."""
        service = self.s3_service()
        result: dict[str, Any] = await asyncio.to_thread(
            service.handle, self.context(region), operation, params
        )
        return result

    async def list_all(
        self, region: str, operation: str, key: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every page of a List operation (the console shows whole lists; 100 per call)."""
        items: list[dict[str, Any]] = []
        request = {**(params or {}), "MaxResults": 100}
        while True:
            page = await self.call(region, operation, request)
            items.extend(page.get(key, []))
            token = page.get("NextToken")
            if not token:
                return items
            request = {**request, "NextToken": token}

    async def invoke(
        self,
        region: str,
        endpoint: str,
        body: bytes,
        headers: dict[str, str],
    ) -> Invocation:
        """InvokeEndpoint through the runtime protocol and the runtime; an error is returned, shaped as
        SageMaker's runtime answers it, not raised."""
        ctx = self.context(region)
        started = time.perf_counter()
        try:
            params = self.runtime_wire.parse(
                "InvokeEndpoint", {"EndpointName": endpoint}, {k.lower(): v for k, v in headers.items()}, body
            )
            result = await self.components.runtime.invoke(ctx, params)
        except ServiceError as error:
            elapsed = (time.perf_counter() - started) * 1000.0
            return Invocation(
                error.status, elapsed, b"", "", "", "", error.code, error.message, dict(error.fields)
            )
        elapsed = (time.perf_counter() - started) * 1000.0
        return Invocation(
            200,
            elapsed,
            bytes(result.get("Body") or b""),
            str(result.get("ContentType") or ""),
            str(result.get("InvokedProductionVariant") or ""),
            str(result.get("CustomAttributes") or ""),
        )


class ServiceUnavailableHere(ServiceError):
    code = "ServiceUnavailable"
    status = 503


def _through(
    wire: JsonProtocol,
    handle: Callable[[Caller, str, dict[str, Any]], Mapping[str, Any]],
    ctx: Caller,
    operation: str,
    params: dict[str, Any],
) -> dict[str, Any]:
    """``operation`` through ``wire`` (the JSON 1.1 body boto3 would send, parsed and validated by the
    API's own protocol), handled, and its result serialized and decoded as boto3 would receive it."""
    body = orjson.dumps(params, default=_json_default)
    name, parsed = wire.parse(f"{wire.target_prefix}.{operation}", body)
    result = handle(ctx, name, parsed)
    decoded: dict[str, Any] = orjson.loads(wire.serialize(name, result))
    return decoded


def field_errors(message: str) -> list[tuple[str, str]]:
    """(path, text) of each failure in a ValidationException message; ("", message) when it is not the
    shape validator's list (a rule of the provider, such as a name already taken)."""
    body = _COUNT.sub("", message, count=1)
    if body == message:
        return [("", message)]
    # Failures are joined with "; ", which a quoted value may contain too: pieces are put back together
    # until they read as one whole failure.
    found: list[tuple[str, str]] = []
    current = ""
    for piece in body.split("; "):
        current = f"{current}; {piece}" if current else piece
        matched = _FAILURE.fullmatch(current)
        if matched is not None:
            found.append((matched.group(1), current))
            current = ""
    if current or not found:
        return [("", message)]
    return found


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot encode {type(value).__name__}")
