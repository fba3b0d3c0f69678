"""S3's wire protocol: rest-xml, derived from botocore's ``s3`` model.

An S3 request is told apart by method, path (``/{Bucket}``, ``/{Bucket}/{Key+}``), the query keys its
``requestUri`` names (``?uploads``, ``?list-type=2``) and the members it requires in the query string or
headers (UploadPart needs ``partNumber`` and ``uploadId``; CopyObject needs ``x-amz-copy-source``): of the
operations whose requirements a request meets, the one that requires most wins. Parsing yields params keyed
by the input shape's member names; a response takes a result keyed by the output shape's member names.
Payload bodies (object data) are not handled here: the caller streams them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from botocore.model import OperationModel, Shape, StructureShape

from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.aws.xml_values import (
    MalformedXML,
    from_xml,
    header_text,
    scalar,
    to_xml,
    xml_name,
)
from dockyard.emulator.errors import ServiceError

XML = b"application/xml"
_LABEL = re.compile(r"\{(\w+)(\+?)\}")
# The root element S3 gives each response body: the model names the members, not the root (botocore's
# parser ignores it, other SDKs read it).
ROOTS: dict[str, str] = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "ListParts": "ListPartsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "DeleteObjects": "DeleteResult",
    "GetBucketTagging": "Tagging",
}


@dataclass(frozen=True)
class _Binding:
    name: str
    method: str
    path: re.Pattern[str]
    labels: dict[str, str]  # regex group -> member
    query_literals: dict[str, str | None]  # keys of the requestUri's query (value, when it names one)
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]
    input_shape: StructureShape | None
    in_headers: tuple[tuple[str, str, Shape], ...]  # (lower-case header, member, shape)
    in_prefixed: tuple[str, str] | None  # (lower-case header prefix, member) of a headers map
    in_query: tuple[tuple[str, str, Shape], ...]  # (query key, member, shape)
    in_payload: tuple[str, Shape] | None
    status: int
    output_shape: StructureShape | None
    out_headers: tuple[tuple[str, bytes, Shape], ...]
    out_prefixed: tuple[str, str] | None
    out_payload: tuple[str, Shape] | None

    @property
    def specificity(self) -> int:
        return len(self.query_literals) + len(self.required_query) + len(self.required_headers)


def _uri(request_uri: str) -> tuple[re.Pattern[str], dict[str, str], dict[str, str | None]]:
    path, _, query = request_uri.partition("?")
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
    literals: dict[str, str | None] = {}
    for item in filter(None, query.split("&")):
        key, sep, value = item.partition("=")
        literals[key] = value if sep else None
    return re.compile("".join(parts)), labels, literals


def _located(shape: StructureShape | None, location: str) -> list[tuple[str, str, Shape]]:
    if shape is None:
        return []
    return [
        (m.serialization.get("name", name), name, m)
        for name, m in shape.members.items()
        if m.serialization.get("location") == location
    ]


def _payload(shape: StructureShape | None) -> tuple[str, Shape] | None:
    name = shape.serialization.get("payload") if shape is not None else None
    return (name, shape.members[name]) if shape is not None and name else None


def _bind(op: OperationModel) -> _Binding:
    path, labels, literals = _uri(op.http["requestUri"])
    shape, out = op.input_shape, op.output_shape
    assert shape is None or isinstance(shape, StructureShape)
    assert out is None or isinstance(out, StructureShape)
    required = set(shape.required_members) if shape is not None else set()
    headers = _located(shape, "header")
    query = _located(shape, "querystring")
    in_prefixed = next(((wire.lower(), member) for wire, member, _ in _located(shape, "headers")), None)
    out_prefixed = next(((wire.lower(), member) for wire, member, _ in _located(out, "headers")), None)
    return _Binding(
        name=op.name,
        method=op.http["method"],
        path=path,
        labels=labels,
        query_literals=literals,
        required_query=tuple(wire for wire, member, _ in query if member in required),
        required_headers=tuple(wire.lower() for wire, member, _ in headers if member in required),
        input_shape=shape,
        in_headers=tuple((wire.lower(), member, m) for wire, member, m in headers),
        in_prefixed=in_prefixed,
        in_query=tuple(query),
        in_payload=_payload(shape),
        status=int(op.http.get("responseCode", 200)),
        output_shape=out,
        out_headers=tuple(
            (member, wire.lower().encode("ascii"), m) for wire, member, m in _located(out, "header")
        ),
        out_prefixed=out_prefixed,
        out_payload=_payload(out),
    )


class RestXmlProtocol:
    def __init__(self, service: str = "s3") -> None:
        self.model = service_model(service)
        self.namespace: str | None = self.model.metadata.get("xmlNamespace", {}).get("uri") or (
            "http://s3.amazonaws.com/doc/2006-03-01/" if service == "s3" else None
        )
        names = self.model.operation_names
        self._bindings = {name: _bind(self.model.operation_model(name)) for name in names}
        # Most specific first, so that the first whose requirements a request meets is the answer.
        self._ordered = sorted(self._bindings.values(), key=lambda b: -b.specificity)

    # ---- requests --------------------------------------------------------------------------------

    def match(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[str, dict[str, str]] | None:
        """(operation, URI labels) for a request path already percent-decoded; None if none fits."""
        for binding in self._ordered:
            if binding.method != method:
                continue
            found = binding.path.fullmatch(path)
            if found is None:
                continue
            if any(
                key not in query or (value is not None and query[key] != value)
                for key, value in binding.query_literals.items()
            ):
                continue
            if any(key not in query for key in binding.required_query):
                continue
            if any(header not in headers for header in binding.required_headers):
                continue
            return binding.name, {binding.labels[g]: v for g, v in found.groupdict().items()}
        return None

    def parse(
        self,
        operation: str,
        labels: Mapping[str, str],
        query: Mapping[str, str],
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        """Params from URI labels, query string and headers (lower-case names); the body is apart."""
        binding = self._bindings[operation]
        params: dict[str, Any] = dict(labels)
        for key, member, shape in binding.in_query:
            if key in query:
                params[member] = scalar(query[key], shape, key)
        for header, member, shape in binding.in_headers:
            if header in headers:
                params[member] = scalar(headers[header], shape, header)
        if binding.in_prefixed is not None:
            prefix, member = binding.in_prefixed
            found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[member] = found
        return params

    def parse_payload(self, operation: str, body: bytes) -> dict[str, Any]:
        """The XML payload member of an operation's input (``Delete``, ``MultipartUpload``, ``Tagging``)."""
        binding = self._bindings[operation]
        if binding.in_payload is None or not body.strip():
            return {}
        member, shape = binding.in_payload
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            ) from None
        return {member: from_xml(shape, root, member)}

    def payload_shape(self, operation: str) -> Shape | None:
        payload = self._bindings[operation].in_payload
        return payload[1] if payload is not None else None

    # ---- responses -------------------------------------------------------------------------------

    def head(self, operation: str, result: Mapping[str, Any]) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Status and the header-bound members of a result (for a response whose body is streamed)."""
        binding = self._bindings[operation]
        headers = [
            (header, header_text(value, shape))
            for member, header, shape in binding.out_headers
            if (value := result.get(member)) is not None
        ]
        if binding.out_prefixed is not None:
            prefix, member = binding.out_prefixed
            for key, value in (result.get(member) or {}).items():
                headers.append(((prefix + key).encode("latin-1"), str(value).encode("latin-1", "replace")))
        return binding.status, headers

    def response(
        self, operation: str, result: Mapping[str, Any]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers, body): header members as headers, the rest as S3's XML document."""
        binding = self._bindings[operation]
        status, headers = self.head(operation, result)
        body = self._document(binding, result)
        if body:
            headers.append((b"content-type", XML))
        return status, headers, body

    def error_response(
        self, error: ServiceError, request_id: str, head_only: bool = False
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """S3's ``<Error><Code/><Message/>...<RequestId/></Error>``; a HEAD's error has no body, as S3's."""
        headers = [(b"x-amz-request-id", request_id.encode("ascii"))]
        if head_only:
            return error.status, headers, b""
        parts = [f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"]
        parts.extend(f"<{k}>{escape(str(v))}</{k}>" for k, v in error.fields.items() if v is not None)
        parts.append(f"<RequestId>{escape(request_id)}</RequestId>")
        body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>"
        headers.append((b"content-type", XML))
        return error.status, headers, body.encode("utf-8")

    def _document(self, binding: _Binding, result: Mapping[str, Any]) -> bytes:
        out: list[str] = []
        if binding.out_payload is not None:
            member, shape = binding.out_payload
            value = result.get(member)
            if not isinstance(shape, StructureShape) or value is None:
                return b""
            to_xml(shape, xml_name(shape, member), value, out)
        elif binding.name == "GetBucketLocation":
            # The whole document is the one member, read by botocore's handler as the root's text.
            out.append(
                f"<LocationConstraint>{escape(result.get('LocationConstraint') or '')}</LocationConstraint>"
            )
        elif binding.output_shape is not None and any(
            "location" not in m.serialization for m in binding.output_shape.members.values()
        ):
            to_xml(binding.output_shape, ROOTS.get(binding.name, binding.output_shape.name), result, out)
        else:
            return b""
        if self.namespace and out:
            first = out[0]
            tag_end = first.index(">")
            out[0] = f'{first[:tag_end]} xmlns="{self.namespace}"{first[tag_end:]}'
        return ('<?xml version="1.0" encoding="UTF-8"?>\n' + "".join(out)).encode("utf-8")
