"""botocore as the oracle: its client serializer writes requests, its parsers read our responses."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import HeadersDict
from botocore.model import OperationModel
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer


def botocore_request(op: OperationModel, params: dict[str, Any]) -> dict[str, Any]:
    """The request dict botocore's client would send (url_path, headers, body...)."""
    serializer = create_serializer(op.service_model.protocol, include_validation=True)
    request: dict[str, Any] = serializer.serialize_to_request(params, op)
    return request


class _RawStream:
    """The part of a urllib3 response that botocore's EventStream reads."""

    def __init__(self, body: bytes, chunk: int = 7) -> None:
        self._body = body
        self._chunk = chunk

    def stream(self) -> Iterator[bytes]:
        for start in range(0, len(self._body), self._chunk):
            yield self._body[start : start + self._chunk]

    def close(self) -> None:
        pass


def botocore_parse(
    op: OperationModel, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> dict[str, Any]:
    """What botocore's client returns for this response (for errors: Error plus modeled members)."""
    protocol = op.service_model.protocol
    parser = create_parser(protocol)
    header_map = HeadersDict({k.decode("latin-1"): v.decode("latin-1") for k, v in headers})
    output = op.output_shape
    raw: Any = body
    if status < 300 and op.has_event_stream_output:
        raw = _RawStream(body)
    elif status < 300 and op.has_streaming_output:
        raw = StreamingBody(io.BytesIO(body), len(body))
    response = {
        "status_code": status,
        "headers": header_map,
        "body": raw,
        "context": {"operation_name": op.name},
    }
    # botocore accepts no shape (operations without output); its stubs do not say so.
    parsed: dict[str, Any] = parser.parse(response, output)  # type: ignore[arg-type]
    payload = str(output.serialization.get("payload", "")) if output is not None else ""
    if isinstance(parsed.get(payload), StreamingBody):
        parsed[payload] = parsed[payload].read()
    code = parsed.get("Error", {}).get("Code")
    error_shape = op.service_model.shape_for_error_code(code) if code else None
    if error_shape is not None:
        parsed.update(parser.parse({**response, "body": body}, error_shape))
    parsed.pop("ResponseMetadata", None)
    return parsed


def normalized(value: Any) -> Any:
    """Values compared across the wire: timestamps as UTC datetimes, buffers as bytes."""
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalized(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return value
