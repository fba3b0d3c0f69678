"""Refusals, answered in the shape of the service the request was for, so SDKs raise them as AWS's.

The emulator serves several protocols on one port: JSON (``X-Amz-Target``), rest-json (the SageMaker
runtime's ``/endpoints/…``), query (STS, IAM: a form with ``Action=``) and rest-xml (S3, everything
else). A refusal happens before any service sees the request, so its shape is chosen here from the
signature's service when there is one, else from the request's form.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal
from xml.sax.saxutils import escape

import orjson

Family = Literal["json", "rest-json", "query", "s3"]
HINT = (
    "The local target accepts requests signed (SigV4) with the secret it was started with: run "
    "`dockyard emulator env` for the export lines."
)

# kind → (code, status) per family; a kind missing from a family uses the "json" row's status with the
# family's generic code.
_CODES: dict[str, dict[Family, tuple[str, int]]] = {
    "host": {
        "json": ("AccessDeniedException", 403),
        "rest-json": ("AccessDeniedException", 403),
        "query": ("AccessDenied", 403),
        "s3": ("AccessDenied", 403),
    },
    "missing": {
        "json": ("MissingAuthenticationTokenException", 403),
        "rest-json": ("MissingAuthenticationTokenException", 403),
        "query": ("MissingAuthenticationToken", 403),
        "s3": ("AccessDenied", 403),
    },
    "malformed": {
        "json": ("IncompleteSignatureException", 400),
        "rest-json": ("IncompleteSignatureException", 400),
        "query": ("IncompleteSignature", 400),
        "s3": ("AuthorizationHeaderMalformed", 400),
    },
    "malformed-query": {
        "json": ("IncompleteSignatureException", 400),
        "rest-json": ("IncompleteSignatureException", 400),
        "query": ("IncompleteSignature", 400),
        "s3": ("AuthorizationQueryParametersError", 400),
    },
    "mismatch": {
        "json": ("InvalidSignatureException", 403),
        "rest-json": ("InvalidSignatureException", 403),
        "query": ("SignatureDoesNotMatch", 403),
        "s3": ("SignatureDoesNotMatch", 403),
    },
    "expired": {
        "json": ("InvalidSignatureException", 403),
        "rest-json": ("InvalidSignatureException", 403),
        "query": ("SignatureDoesNotMatch", 403),
        "s3": ("RequestTimeTooSkewed", 403),
    },
    "presign-expired": {
        "json": ("InvalidSignatureException", 403),
        "rest-json": ("InvalidSignatureException", 403),
        "query": ("SignatureDoesNotMatch", 403),
        "s3": ("AccessDenied", 403),
    },
    "payload-mismatch": {
        "json": ("InvalidSignatureException", 403),
        "rest-json": ("InvalidSignatureException", 403),
        "query": ("SignatureDoesNotMatch", 403),
        "s3": ("XAmzContentSHA256Mismatch", 400),
    },
    "bad-content-sha256": {
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 400),
        "query": ("InvalidParameterValue", 400),
        "s3": ("InvalidArgument", 400),
    },
    "missing-content-sha256": {"s3": ("InvalidRequest", 400)},
    "sigv2": {
        "json": ("IncompleteSignatureException", 400),
        "rest-json": ("IncompleteSignatureException", 400),
        "query": ("IncompleteSignature", 400),
        "s3": ("InvalidRequest", 400),
    },
    "too-large": {
        "json": ("ValidationException", 413),
        "rest-json": ("ValidationError", 413),
        "query": ("ValidationError", 413),
        "s3": ("EntityTooLarge", 413),
    },
}
_CODES["origin"] = _CODES["host"]
_CODES["not-yet-valid"] = _CODES["presign-expired"]


@dataclass(frozen=True)
class Refusal:
    kind: str
    message: str
    detail: dict[str, str] = field(default_factory=dict)

    def code(self, family: Family) -> tuple[str, int]:
        row = _CODES[self.kind]
        if family in row:
            return row[family]
        return next(iter(row.values()))


def family_of(method: str, path: str, headers: dict[str, str], service: str | None) -> Family:
    """Which protocol's error shape the client expects."""
    if service == "s3":
        return "s3"
    if "x-amz-target" in headers:
        return "json"
    if path.startswith("/endpoints/"):
        return "rest-json"
    if service in ("sts", "iam") or (
        method == "POST" and headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    ):
        return "query"
    if service is not None and service != "s3":
        return "json"
    return "s3"


def render(refusal: Refusal, family: Family) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of ``refusal`` as ``family``'s services answer errors."""
    code, status = refusal.code(family)
    request_id = str(uuid.uuid4())
    headers: list[tuple[bytes, bytes]]
    if family == "json":
        body = orjson.dumps({"__type": code, "message": refusal.message})
        headers = [
            (b"content-type", b"application/x-amz-json-1.1"),
            (b"x-amzn-requestid", request_id.encode()),
        ]
    elif family == "rest-json":
        body = orjson.dumps({"message": refusal.message})
        headers = [
            (b"content-type", b"application/json"),
            (b"x-amzn-errortype", code.encode()),
            (b"x-amzn-requestid", request_id.encode()),
        ]
    elif family == "query":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{escape(refusal.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [(b"content-type", b"text/xml"), (b"x-amzn-requestid", request_id.encode())]
    else:
        members = "".join(
            f"<{name.replace('_', '-')}>{escape(value)}</{name.replace('_', '-')}>"
            for name, value in refusal.detail.items()
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(refusal.message)}</Message>{members}"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [(b"content-type", b"application/xml"), (b"x-amz-request-id", request_id.encode())]
    return status, headers, body
