"""The AWS query protocol (STS, IAM): form-encoded ``Action=<Op>&Version=...&Member.Sub=...`` in, XML out.

Parsing turns the flat form keys into the input shape's params (lists as ``Name.member.N``, or ``Name.N``
when flattened; maps as ``Name.entry.N.key/value``), converting text to each member's type; serializing
writes ``<OpResponse><OpResult>...</OpResult><ResponseMetadata>...`` as botocore's query parser reads it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import ListShape, MapShape, Shape, StructureShape

from dockyard.emulator.aws.json_values import parse_timestamp
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.aws.validate import validate
from dockyard.emulator.errors import ServiceError, ValidationError, ValidationException

CONTENT_TYPE = b"text/xml"
# A tree of form keys split on '.': {"Tags": {"member": {"1": {"Key": "k"}}}}; leaves are the text.
Tree = dict[str, Any]


class InvalidAction(ServiceError):
    """What query services answer for an Action they do not have."""

    code = "InvalidAction"
    status = 400


class QueryProtocol:
    def __init__(self, service: str) -> None:
        self.service = service
        self.model = service_model(service)
        self.namespace: str = self.model.metadata.get("xmlNamespace", "")
        self._operations = frozenset(self.model.operation_names)

    def parse(self, body: bytes, query_string: str = "") -> tuple[str, dict[str, Any]]:
        """(operation, params) of a form-encoded request (a POST body, or a GET query string)."""
        text = body.decode("utf-8", errors="replace") if body.strip() else query_string
        fields = parse_qsl(text, keep_blank_values=True)
        form = dict(fields)
        operation = form.pop("Action", "")
        form.pop("Version", None)
        if operation not in self._operations:
            shown = operation or "(none)"
            raise InvalidAction(f"Could not find operation {shown} for version {self.model.api_version}")
        shape = self.model.operation_model(operation).input_shape
        if shape is None:
            return operation, {}
        tree: Tree = {}
        for key, value in form.items():
            node = tree
            *parents, leaf = key.split(".")
            for part in parents:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise ValidationError(f"The parameter {key} conflicts with another parameter")
                node = child
            node[leaf] = value
        params: dict[str, Any] = _decode_structure(shape, tree)
        try:
            validate(shape, params)
        except ValidationException as exc:
            raise ValidationError(exc.message) from None  # query services spell it ValidationError
        return operation, params

    def serialize(self, operation: str, result: Mapping[str, Any], request_id: str) -> bytes:
        shape = self.model.operation_model(operation).output_shape
        inner = ""
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{operation}Result")
            inner = f"<{wrapper}>{_members(shape, result)}</{wrapper}>"
        namespace = f' xmlns="{self.namespace}"' if self.namespace else ""
        return (
            f"<{operation}Response{namespace}>{inner}"
            f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"
            f"</{operation}Response>"
        ).encode()

    def error_response(
        self, error: ServiceError, request_id: str = ""
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers, body): ``<ErrorResponse><Error><Code>`` as botocore's query parser reads it."""
        kind = "Sender" if error.status < 500 else "Receiver"
        body = (
            f'<ErrorResponse xmlns="{self.namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
        )
        return error.status, [(b"content-type", CONTENT_TYPE)], body.encode()


# ---- form -> params ------------------------------------------------------------------------------


def _wire_name(name: str, shape: Shape) -> str:
    return str(shape.serialization.get("name", name))


def _decode_structure(shape: StructureShape, tree: Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    known = set()
    for name, member in shape.members.items():
        wire = _wire_name(name, member)
        known.add(wire)
        if wire in tree:
            out[name] = _decode(member, tree[wire])
    for wire, value in tree.items():
        if wire not in known:
            out[wire] = value  # left for validation to report as not part of the input
    return out


def _numbered(node: Any) -> list[Any]:
    if not isinstance(node, dict):
        return []
    numbered = [(int(k), v) for k, v in node.items() if k.isdigit()]
    return [v for _, v in sorted(numbered)]


def _decode(shape: Shape, node: Any) -> Any:
    if isinstance(shape, StructureShape):
        return _decode_structure(shape, node) if isinstance(node, dict) else node
    if isinstance(shape, ListShape):
        if node == "":
            return []
        items = (
            node
            if shape.serialization.get("flattened")
            else node.get(_wire_name("member", shape.member), {})
            if isinstance(node, dict)
            else node
        )
        return [_decode(shape.member, item) for item in _numbered(items)]
    if isinstance(shape, MapShape):
        entries = (
            node
            if shape.serialization.get("flattened")
            else (node.get("entry", {}) if isinstance(node, dict) else {})
        )
        key_name = _wire_name("key", shape.key)
        value_name = _wire_name("value", shape.value)
        return {
            entry.get(key_name): _decode(shape.value, entry.get(value_name))
            for entry in _numbered(entries)
            if isinstance(entry, dict)
        }
    return _scalar(shape, node)


def _scalar(shape: Shape, text: Any) -> Any:
    if not isinstance(text, str):
        return text
    type_name = shape.type_name
    if type_name in ("integer", "long"):
        return int(text) if text.lstrip("-").isdigit() else text
    if type_name in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if type_name == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    if type_name == "timestamp":
        return parse_timestamp(text)
    if type_name == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError(f"Base64 encoded value expected for {shape.name}") from exc
    return text


# ---- result -> XML -------------------------------------------------------------------------------


def _members(shape: StructureShape, value: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for name, member in shape.members.items():
        item = value.get(name)
        if item is not None:
            parts.append(_element(_wire_name(name, member), member, item))
    return "".join(parts)


def _element(tag: str, shape: Shape, value: Any) -> str:
    if isinstance(shape, ListShape):
        item_tag = _wire_name("member", shape.member)
        if shape.serialization.get("flattened"):
            return "".join(_element(tag, shape.member, item) for item in value)
        inner = "".join(_element(item_tag, shape.member, item) for item in value)
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(shape, MapShape):
        key_tag, value_tag = _wire_name("key", shape.key), _wire_name("value", shape.value)
        entries = "".join(
            f"<entry>{_element(key_tag, shape.key, k)}{_element(value_tag, shape.value, v)}</entry>"
            for k, v in value.items()
        )
        return f"<{tag}>{entries}</{tag}>"
    if isinstance(shape, StructureShape):
        return f"<{tag}>{_members(shape, value)}</{tag}>"
    return f"<{tag}>{escape(_text(shape, value))}</{tag}>"


def _text(shape: Shape, value: Any) -> str:
    type_name = shape.type_name
    if type_name == "boolean":
        return "true" if value else "false"
    if type_name == "timestamp":
        stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromtimestamp(value, dt.UTC)
        stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
        return stamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if type_name == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return str(value)
