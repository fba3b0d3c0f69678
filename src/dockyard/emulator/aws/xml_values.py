"""Values between Python and S3's rest-xml wire form, driven by a shape: XML elements both ways, header
and query text, timestamps (ISO 8601 in XML, RFC 1123 in headers). What the rest-xml protocol shares,
as ``json_values`` is for the JSON protocols.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from botocore.model import ListShape, Shape, StructureShape

from dockyard.emulator.errors import ServiceError


class MalformedInput(ServiceError):
    """A request whose query, headers or XML body do not have the model's types (S3's InvalidArgument)."""

    code = "InvalidArgument"
    status = 400


class MalformedXML(ServiceError):
    code = "MalformedXML"
    status = 400


# ---- scalar values ------------------------------------------------------------------------------


def scalar(text: str, shape: Shape, where: str) -> Any:
    type_name = shape.type_name
    try:
        if type_name in ("integer", "long"):
            return int(text)
        if type_name in ("float", "double"):
            return float(text)
        if type_name == "boolean":
            return {"true": True, "false": False}[text.lower()]
        if type_name == "timestamp":
            return _parse_time(text)
        if type_name == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise MalformedInput(f"The value {text!r} of {where} is not a valid {type_name}") from None
    return text


def _parse_time(text: str) -> dt.datetime:
    if text[:1].isdigit() and "T" in text:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return email.utils.parsedate_to_datetime(text)


def iso_time(value: dt.datetime) -> str:
    """S3's XML timestamps: ``2026-12-02T14:24:25.000Z``."""
    stamp = value.astimezone(dt.UTC) if value.tzinfo else value
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def http_time(value: dt.datetime) -> str:
    stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return email.utils.format_datetime(stamp.astimezone(dt.UTC), usegmt=True)


def header_text(value: Any, shape: Shape) -> bytes:
    if shape.type_name == "boolean":
        return b"true" if value else b"false"
    if shape.type_name == "timestamp" and isinstance(value, dt.datetime):
        return http_time(value).encode("ascii")
    return str(value).encode("latin-1", errors="replace")


# ---- XML ----------------------------------------------------------------------------------------


def xml_name(shape: Shape, default: str) -> str:
    return str(shape.serialization.get("name", default))


def to_xml(shape: Shape, name: str, value: Any, out: list[str]) -> None:
    if isinstance(shape, StructureShape):
        out.append(f"<{name}>")
        for member, member_shape in shape.members.items():
            item = value.get(member)
            if item is None or member_shape.serialization.get("location"):
                continue
            _member_xml(member_shape, member, item, out)
        out.append(f"</{name}>")
    elif isinstance(shape, ListShape):
        out.append(f"<{name}>")
        element = xml_name(shape.member, "member")
        for item in value:
            to_xml(shape.member, element, item, out)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{escape(_text(shape, value))}</{name}>")


def _member_xml(shape: Shape, member: str, value: Any, out: list[str]) -> None:
    name = xml_name(shape, member)
    if isinstance(shape, ListShape) and shape.serialization.get("flattened"):
        element = xml_name(shape.member, name) if "name" in shape.member.serialization else name
        for item in value:
            to_xml(shape.member, element, item, out)
    else:
        to_xml(shape, name, value, out)


def _text(shape: Shape, value: Any) -> str:
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "timestamp" and isinstance(value, dt.datetime):
        return iso_time(value)
    if shape.type_name == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def from_xml(shape: Shape, element: ElementTree.Element, where: str) -> Any:
    if isinstance(shape, StructureShape):
        result: dict[str, Any] = {}
        children: dict[str, list[ElementTree.Element]] = {}
        for child in element:
            children.setdefault(_local(child.tag), []).append(child)
        for member, member_shape in shape.members.items():
            name = xml_name(member_shape, member)
            if isinstance(member_shape, ListShape) and member_shape.serialization.get("flattened"):
                element_name = xml_name(member_shape.member, name)
                found = children.get(element_name, []) or children.get(name, [])
                if found:
                    result[member] = [from_xml(member_shape.member, c, f"{where}.{member}") for c in found]
            elif name in children:
                result[member] = from_xml(member_shape, children[name][0], f"{where}.{member}")
        return result
    if isinstance(shape, ListShape):
        return [from_xml(shape.member, child, where) for child in element]
    return scalar((element.text or "").strip(), shape, where)
