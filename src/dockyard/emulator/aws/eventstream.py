"""The ``application/vnd.amazon.eventstream`` framing of InvokeEndpointWithResponseStream (encoder only).

A message is: prelude (total length, headers length: big-endian u32 each), the prelude's CRC32, headers
(name length u8, name, value type u8 = 7 for string, value length u16, value), payload, and the CRC32 of
everything before it. Events carry ``:message-type: event``; errors ``exception`` or ``error`` (below),
which botocore raises as ``EventStreamError`` while the caller iterates.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache

import orjson
from botocore.model import StructureShape

from dockyard.emulator.aws.json_values import fields_json
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.errors import ServiceError

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_MAX_HEADER_VALUE = 0xFFFF


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
    if len(raw_value) > _MAX_HEADER_VALUE:
        raise ValueError(f"event stream header {name} is longer than {_MAX_HEADER_VALUE} bytes")
    return (
        struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    )


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One framed message with string-valued headers."""
    head = b"".join(_header(name, value) for name, value in headers.items())
    prelude = _PRELUDE.pack(_PRELUDE.size + _CRC.size + len(head) + len(payload) + _CRC.size, len(head))
    message = prelude + _CRC.pack(zlib.crc32(prelude)) + head + payload
    return message + _CRC.pack(zlib.crc32(message))


def encode_event(event_type: str, payload: bytes) -> bytes:
    """An event whose payload member is a blob, e.g. ``PayloadPart`` carrying ``Bytes``."""
    headers = {
        ":message-type": "event",
        ":event-type": event_type,
        ":content-type": "application/octet-stream",
    }
    return encode_message(headers, payload)


@cache
def _stream_exceptions() -> frozenset[str]:
    """The errors the response stream's shape models (ModelStreamError, InternalStreamFailure)."""
    op = service_model("sagemaker-runtime").operation_model("InvokeEndpointWithResponseStream")
    stream = op.get_event_stream_output()
    assert isinstance(stream, StructureShape)
    return frozenset(m.name for m in stream.members.values() if m.metadata.get("exception"))


def encode_exception(error: ServiceError) -> bytes:
    """An error inside the stream, after the 200 went out. The stream's modeled errors travel as
    ``exception`` messages with their members as JSON; any other error (say a ModelError raised mid-way)
    as an ``error`` message whose headers carry code and message, which botocore reads the same way."""
    if error.code not in _stream_exceptions():
        return encode_message(
            {":message-type": "error", ":error-code": error.code, ":error-message": error.message}, b""
        )
    headers = {
        ":message-type": "exception",
        ":exception-type": error.code,
        ":content-type": "application/json",
    }
    body = {"Message": error.message, **fields_json(error.fields)}
    return encode_message(headers, orjson.dumps(body))
