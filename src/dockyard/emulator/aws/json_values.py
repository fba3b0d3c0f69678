"""Values between Python and AWS JSON bodies, driven by a shape: what both JSON protocols share.

On the wire timestamps are epoch seconds and blobs base64 text; in Python they are aware ``datetime``
(UTC) and ``bytes``. Decoding leaves values of the wrong JSON type alone, so that validation reports them
with the member's path; only text that cannot be decoded (bad base64, a garbled date) is refused here.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from dockyard.emulator.errors import SerializationException


def decode(shape: Shape, value: Any) -> Any:
    """A JSON-decoded value as the shape defines it (PascalCase keys kept)."""
    if value is None:
        return None
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return value
        members = shape.members
        return {k: decode(members[k], v) if k in members else v for k, v in value.items()}
    if isinstance(shape, ListShape):
        return [decode(shape.member, v) for v in value] if isinstance(value, list) else value
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return value
        return {k: decode(shape.value, v) for k, v in value.items()}
    type_name = shape.type_name
    if type_name == "timestamp":
        return parse_timestamp(value)
    if type_name == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SerializationException(f"Base64 encoded value expected for {shape.name}") from exc
    if type_name in ("float", "double") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def encode(shape: Shape, value: Any) -> Any:
    """A Python value as the JSON botocore's parsers read for ``shape``: members of the shape only,
    ``None`` dropped, timestamps as epoch seconds, blobs as base64 text."""
    if isinstance(shape, StructureShape):
        members = shape.members
        return {
            name: encode(members[name], item)
            for name, item in value.items()
            if item is not None and name in members
        }
    if isinstance(shape, ListShape):
        return [encode(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {key: encode(shape.value, item) for key, item in value.items()}
    type_name = shape.type_name
    if type_name == "timestamp":
        return epoch_seconds(value)
    if type_name == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return value


def epoch_seconds(value: dt.datetime | float) -> float:
    """Epoch seconds; a naive datetime is taken as UTC (never as local time)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return float(value)


def parse_timestamp(value: Any) -> Any:
    """Epoch seconds or ISO 8601 text -> aware UTC datetime; other JSON types are left to validation."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise SerializationException(f"Timestamp expected, got '{value}'") from exc
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    return value


def fields_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Extra members of an error, made JSON-safe (timestamps as epoch seconds, anything else as text)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, dt.datetime):
            out[name] = epoch_seconds(value)
        elif isinstance(value, str | int | float | bool):
            out[name] = value
        else:
            out[name] = str(value)
    return out
