"""The SageMaker runtime's wire protocol: rest-json, e.g. ``POST /endpoints/{EndpointName}/invocations``.

Everything that depends only on the model (URI regexes, header-bound members, the payload member, the
response code) is worked out once per operation in ``_Binding``; a call then costs a regex match, a few
dict look-ups and the cached validator, which keeps the router's overhead well under a millisecond.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
from botocore.model import OperationModel, Shape, StructureShape

from dockyard.emulator.aws import json_values
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.aws.validate import validate
from dockyard.emulator.errors import ServiceError, ValidationError, ValidationException

EVENT_STREAM = b"application/vnd.amazon.eventstream"
JSON = b"application/json"
_LABEL = re.compile(r"\{(\w+)(\+?)\}")


@dataclass(frozen=True)
class _Binding:
    """Where each member of one operation travels."""

    method: str
    path: re.Pattern[str]
    labels: dict[str, str]  # regex group -> member
    input_shape: StructureShape
    in_headers: tuple[tuple[str, str, str], ...]  # (lower-case header, member, type)
    in_payload: tuple[str, Shape] | None
    in_body: StructureShape | None  # members without a location, sent as a JSON object
    status: int
    out_headers: tuple[tuple[str, bytes, str], ...]  # (member, lower-case header, type)
    out_payload: tuple[str, Shape] | None
    out_body: StructureShape | None


def _uri_regex(request_uri: str) -> tuple[re.Pattern[str], dict[str, str]]:
    path = request_uri.split("?", 1)[0]
    labels: dict[str, str] = {}
    parts: list[str] = []
    position = 0
    for index, label in enumerate(_LABEL.finditer(path)):
        parts.append(re.escape(path[position : label.start()]))
        group = f"g{index}"
        labels[group] = label.group(1)
        parts.append(f"(?P<{group}>{'.+' if label.group(2) else '[^/]+'})")
        position = label.end()
    parts.append(re.escape(path[position:]))
    return re.compile("".join(parts)), labels


def _payload(shape: StructureShape | None) -> tuple[str, Shape] | None:
    name = shape.serialization.get("payload") if shape is not None else None
    return (name, shape.members[name]) if shape is not None and name else None


def _has_body_members(shape: StructureShape | None) -> bool:
    return shape is not None and any("location" not in m.serialization for m in shape.members.values())


def _bind(op: OperationModel) -> _Binding:
    regex, labels = _uri_regex(op.http["requestUri"])
    shape, out = op.input_shape, op.output_shape
    assert isinstance(shape, StructureShape)
    in_headers = tuple(
        (m.serialization["name"].lower(), name, m.type_name)
        for name, m in shape.members.items()
        if m.serialization.get("location") == "header"
    )
    out_headers = tuple(
        (name, m.serialization["name"].lower().encode("ascii"), m.type_name)
        for name, m in (out.members.items() if out is not None else ())
        if m.serialization.get("location") == "header"
    )
    in_payload, out_payload = _payload(shape), _payload(out)
    return _Binding(
        method=op.http["method"],
        path=regex,
        labels=labels,
        input_shape=shape,
        in_headers=in_headers,
        in_payload=in_payload,
        in_body=shape if in_payload is None and _has_body_members(shape) else None,
        status=int(op.http.get("responseCode", 200)),
        out_headers=out_headers,
        out_payload=out_payload,
        out_body=out if out_payload is None and _has_body_members(out) else None,
    )


def _from_header(value: str, type_name: str) -> Any:
    """A header's text as the member's type; text that does not convert is kept for validation to
    report with the member's path."""
    if type_name in ("integer", "long"):
        return int(value) if value.lstrip("-").isdigit() else value
    if type_name in ("float", "double"):
        try:
            return float(value)
        except ValueError:
            return value
    if type_name == "boolean":
        return {"true": True, "false": False}.get(value, value)
    if type_name == "timestamp":
        try:
            return email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return value
    return value


def _to_header(value: Any, type_name: str) -> bytes:
    if type_name == "boolean":
        return b"true" if value else b"false"
    if type_name == "timestamp" and isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return email.utils.format_datetime(stamp.astimezone(dt.UTC), usegmt=True).encode("ascii")
    return str(value).encode("latin-1", errors="replace")


class RestJsonProtocol:
    def __init__(self, service: str = "sagemaker-runtime") -> None:
        model = service_model(service)
        self._bindings = {name: _bind(model.operation_model(name)) for name in model.operation_names}

    def match(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        """(operation, URI labels decoded) for a raw request path (still percent-encoded), else None."""
        path = path.split("?", 1)[0]
        for operation, binding in self._bindings.items():
            if binding.method != method:
                continue
            found = binding.path.fullmatch(path)
            if found is not None:
                return operation, {binding.labels[g]: unquote(v) for g, v in found.groupdict().items()}
        return None

    def parse(
        self, operation: str, uri_params: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        """Params of a request from its URI labels, headers (lower-case names) and body; validated.
        Invalid input raises the runtime's ``ValidationError``."""
        binding = self._bindings[operation]
        params: dict[str, Any] = dict(uri_params)
        for header, member, type_name in binding.in_headers:
            value = headers.get(header)
            if value is not None:
                params[member] = _from_header(value, type_name)
        if binding.in_payload is not None:
            name, shape = binding.in_payload
            params[name] = self._read_payload(shape, body)
        elif binding.in_body is not None and body.strip():
            params.update(json_values.decode(binding.in_body, self._json(body)))
        try:
            validate(binding.input_shape, params)
        except ValidationException as exc:
            raise ValidationError(exc.message) from None
        return params

    def response(
        self, operation: str, result: Mapping[str, Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers, body): header-bound members as headers, the payload member as the body."""
        binding = self._bindings[operation]
        headers = self._headers(binding, result)
        if binding.out_payload is not None:
            name, shape = binding.out_payload
            value = result.get(name)
            if shape.type_name == "structure":
                return binding.status, headers, orjson.dumps(json_values.encode(shape, value or {}))
            if isinstance(value, str):
                return binding.status, headers, value.encode("utf-8")
            return binding.status, headers, bytes(value or b"")
        if binding.out_body is not None:
            headers.append((b"content-type", JSON))
            body = {
                k: v
                for k, v in json_values.encode(binding.out_body, result).items()
                if "location" not in binding.out_body.members[k].serialization
            }
            return binding.status, headers, orjson.dumps(body)
        return binding.status, headers, b""

    def stream_head(self, operation: str, result: Mapping[str, Any]) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Status and headers of a response whose body is an event stream (encode it with eventstream)."""
        binding = self._bindings[operation]
        headers = [(b"content-type", EVENT_STREAM), *self._headers(binding, result)]
        return binding.status, headers

    def error_response(
        self, error: ServiceError, request_id: str = ""
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers, body) that botocore raises as the modeled error (``x-amzn-errortype``), with
        extra members (OriginalStatusCode, OriginalMessage, LogStreamArn) at the top of its response."""
        headers = [(b"x-amzn-errortype", error.code.encode("ascii")), (b"content-type", JSON)]
        if request_id:
            headers.append((b"x-amzn-requestid", request_id.encode("ascii")))
        body = {"message": error.message, **json_values.fields_json(error.fields)}
        return error.status, headers, orjson.dumps(body)

    @staticmethod
    def _headers(binding: _Binding, result: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
        return [
            (header, _to_header(value, type_name))
            for member, header, type_name in binding.out_headers
            if (value := result.get(member)) is not None
        ]

    @staticmethod
    def _read_payload(shape: Shape, body: bytes) -> Any:
        if shape.type_name == "blob":
            return body
        if shape.type_name == "string":
            return body.decode("utf-8")
        return json_values.decode(shape, RestJsonProtocol._json(body)) if body.strip() else {}

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ValidationError(f"The request body is not valid JSON: {exc}") from exc
