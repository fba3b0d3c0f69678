"""Checking an AWS Signature Version 4 the way AWS does: canonical request, string to sign, HMAC.

The signature travels in the ``Authorization`` header or in a presigned URL's query. What the client
signed is rebuilt from the request as received (the raw path and query, the headers it lists in
SignedHeaders, the payload hash) and signed again with the emulator's secret; the two must match.
S3 differs in two ways AWS defines: its path is not normalized or encoded again, and its payload hash
is whatever ``x-amz-content-sha256`` says (a hex digest, ``UNSIGNED-PAYLOAD`` or a ``STREAMING-…``
mode), which the S3 service checks against the body it streams; other services' bodies are small and
hashed here.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from urllib.parse import quote

from dockyard.emulator.security.sigv4_request import (
    ALGORITHM,
    EMPTY_SHA256,
    MAX_SKEW,
    SIGV2_REFUSED,
    STREAMING_PAYLOADS,
    UNSIGNED_PAYLOAD,
    RequestParts,
    SignatureInputs,
    SignatureProblem,
    check_time,
    payload_hash_of,
    query_pairs,
    request_parts,
    signature_inputs,
)

# Imported from here by the middleware, the S3 service and the tests.
__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "MAX_SKEW",
    "SIGV2_REFUSED",
    "STREAMING_PAYLOADS",
    "UNSIGNED_PAYLOAD",
    "RequestParts",
    "SignatureInputs",
    "SignatureProblem",
    "SignedRequest",
    "canonical_request",
    "check_time",
    "payload_hash_of",
    "request_parts",
    "signature_inputs",
    "signing_key",
    "string_to_sign",
    "verify",
]


@dataclass(frozen=True)
class SignedRequest:
    """What a checked signature establishes about a request (put in the ASGI scope for the services)."""

    access_key: str
    region: str
    service: str
    timestamp: str  # the request's X-Amz-Date, e.g. 20261202T142500Z
    # The body's expected sha256 (hex), or UNSIGNED-PAYLOAD / a STREAMING-* mode. For S3 the service
    # compares a hex value with the body it streams; other services' bodies were checked here.
    payload_hash: str
    signature: str
    presigned: bool
    # HMAC key of the scope: what STREAMING-AWS4-HMAC-SHA256-PAYLOAD chunk signatures are checked with.
    # None when signatures are not checked (--insecure-any-credentials).
    signing_key: bytes | None = field(default=None, repr=False)

    @property
    def credential_scope(self) -> str:
        return f"{self.timestamp[:8]}/{self.region}/{self.service}/aws4_request"


def canonical_request(request: RequestParts, inputs: SignatureInputs, payload_hash: str) -> str:
    s3 = inputs.service == "s3"
    path = request.raw_path or "/"
    uri = path if s3 else quote(_remove_dot_segments(path), safe="/~")
    query = _canonical_query(request.query, drop_signature=inputs.presigned)
    values: dict[str, list[str]] = {}
    for name, value in request.headers:
        values.setdefault(name, []).append(" ".join(value.split()))
    lines = [f"{name}:{','.join(values.get(name, []))}" for name in inputs.signed_headers]
    return "\n".join(
        [
            request.method.upper(),
            uri,
            query,
            "\n".join(lines) + "\n",
            ";".join(inputs.signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(inputs: SignatureInputs, canonical: str) -> str:
    scope = f"{inputs.date}/{inputs.region}/{inputs.service}/aws4_request"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{inputs.timestamp}\n{scope}\n{digest}"


_keys: dict[tuple[str, str, str, str], bytes] = {}


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key of a credential scope (cached: it changes once a day per region and service)."""
    cached = _keys.get((secret, date, region, service))
    if cached is not None:
        return cached
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    if len(_keys) > 256:
        _keys.clear()
    _keys[(secret, date, region, service)] = key
    return key


def signature_of(key: bytes, to_sign: str) -> str:
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(
    request: RequestParts,
    inputs: SignatureInputs,
    payload_hash: str,
    secret: str | None,
) -> SignedRequest:
    """Check ``inputs``' signature over ``request`` with ``secret`` (None: accept any signature)."""
    key: bytes | None = None
    if secret is not None:
        canonical = canonical_request(request, inputs, payload_hash)
        to_sign = string_to_sign(inputs, canonical)
        key = signing_key(secret, inputs.date, inputs.region, inputs.service)
        if not hmac.compare_digest(signature_of(key, to_sign), inputs.signature):
            raise SignatureProblem(
                "mismatch",
                "The request signature we calculated does not match the signature you provided.",
                AWSAccessKeyId=inputs.access_key,
                StringToSign=to_sign,
                CanonicalRequest=canonical,
            )
    return SignedRequest(
        inputs.access_key,
        inputs.region,
        inputs.service,
        inputs.timestamp,
        payload_hash,
        inputs.signature,
        inputs.presigned,
        key,
    )


# ---- helpers -----------------------------------------------------------------------------------


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _canonical_query(query: str, *, drop_signature: bool) -> str:
    # Each name and value URI-encoded as SigV4 defines (unreserved characters kept), then sorted; a
    # client may have sent them encoded differently, so they are decoded first.
    encoded = sorted(
        (quote(key, safe="-_.~"), quote(value, safe="-_.~"))
        for key, value in query_pairs(query)
        if not (drop_signature and key == "X-Amz-Signature")
    )
    return "&".join(f"{key}={value}" for key, value in encoded)


def _remove_dot_segments(path: str) -> str:
    # RFC 3986's dot-segment removal, and empty segments dropped, as SigV4 normalizes non-S3 paths.
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if output:
                output.pop()
        elif segment and segment != ".":
            output.append(segment)
    result = "/" + "/".join(output)
    if path.endswith("/") and output:
        result += "/"
    return result
