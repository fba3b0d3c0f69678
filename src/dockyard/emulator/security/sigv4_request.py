"""What a request says of its SigV4 signature, before any check of the signature's value.

The signature's parameters come from the ``Authorization`` header or a presigned URL's query; their form
is checked here (algorithm, credential scope, dates, signed headers), as are the request's time against
the clock and the payload hash it declares. :mod:`.sigv4` then checks the signature itself.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOADS = frozenset(
    {
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    }
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = timedelta(minutes=15)  # AWS's window for a request's time against the server's clock
MAX_PRESIGNED_EXPIRES = 604_800  # seven days, SigV4's limit for X-Amz-Expires
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AUTH_PARAM = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
# S3's answer to Signature Version 2 where only version 4 is accepted (new buckets, newer regions); boto3
# presigns S3 URLs with version 2 unless its client says otherwise.
SIGV2_REFUSED = (
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256. "
    "(boto3: create the S3 client with botocore.config.Config(signature_version='s3v4') to presign URLs "
    "with it.)"
)


class SignatureProblem(Exception):
    """Why a request's signature is refused. ``kind`` picks the service's error code for it:
    missing, malformed, mismatch, expired (header signature outside the clock window), presign-expired,
    not-yet-valid, payload-mismatch."""

    def __init__(self, kind: str, message: str, **detail: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class SignatureInputs:
    """The signature's parameters as the client sent them, before any check of their value."""

    access_key: str
    date: str  # yyyymmdd of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    presigned: bool
    expires: int | None = None


@dataclass(frozen=True)
class RequestParts:
    """The parts of an HTTP request a signature covers, as received."""

    method: str
    raw_path: str
    query: str
    headers: list[tuple[str, str]]  # lower-case names, in the order received

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def signature_inputs(request: RequestParts) -> SignatureInputs | None:
    """The signature parameters of ``request``; None when it carries no signature at all."""
    authorization = request.header("authorization")
    if authorization is not None:
        return _header_inputs(request, authorization)
    query = query_pairs(request.query)
    names = {key for key, _ in query}
    if "X-Amz-Signature" in names or "X-Amz-Credential" in names or "X-Amz-Algorithm" in names:
        return _query_inputs(dict(query))
    if "AWSAccessKeyId" in names and "Signature" in names:
        raise SignatureProblem("sigv2", SIGV2_REFUSED)
    return None


def _header_inputs(request: RequestParts, authorization: str) -> SignatureInputs:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm == "AWS":
        raise SignatureProblem("sigv2", SIGV2_REFUSED)
    if algorithm != ALGORITHM:
        raise SignatureProblem(
            "malformed",
            f"Unsupported Authorization Type {algorithm!r}: the local target accepts {ALGORITHM} only",
        )
    params = dict(_AUTH_PARAM.findall(rest))
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not params.get(name):
            raise SignatureProblem(
                "malformed",
                f"Authorization header requires '{name}' parameter. Authorization={authorization[:200]}",
            )
    timestamp = request.header("x-amz-date")
    if timestamp is None:
        date_header = request.header("date")
        if date_header is None:
            raise SignatureProblem(
                "malformed",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            )
        timestamp = _from_http_date(date_header)
    return _inputs(params["Credential"], params["SignedHeaders"], params["Signature"], timestamp, None)


def _query_inputs(query: dict[str, str]) -> SignatureInputs:
    required = (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    )
    missing = [name for name in required if not query.get(name)]
    if missing:
        raise SignatureProblem(
            "malformed-query",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        )
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureProblem("malformed-query", f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    try:
        expires = int(query["X-Amz-Expires"])
    except ValueError:
        expires = -1
    if not 0 <= expires <= MAX_PRESIGNED_EXPIRES:
        raise SignatureProblem(
            "malformed-query",
            f"X-Amz-Expires must be a number of seconds from 0 to {MAX_PRESIGNED_EXPIRES}",
        )
    return _inputs(
        query["X-Amz-Credential"],
        query["X-Amz-SignedHeaders"],
        query["X-Amz-Signature"],
        query["X-Amz-Date"],
        expires,
    )


def _inputs(
    credential: str, signed_headers: str, signature: str, timestamp: str, expires: int | None
) -> SignatureInputs:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise SignatureProblem(
            "malformed" if expires is None else "malformed-query",
            f"Credential should be of the form ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request, "
            f"got {credential[:200]!r}",
        )
    access_key, date, region, service, _ = parts
    _parse_timestamp(timestamp)
    if timestamp[:8] != date:
        raise SignatureProblem(
            "malformed" if expires is None else "malformed-query",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
            f"HTTP: '{date}' != '{timestamp[:8]}', from '{timestamp}'.",
        )
    names = tuple(signed_headers.split(";"))
    if "host" not in names:
        raise SignatureProblem(
            "malformed" if expires is None else "malformed-query",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    return SignatureInputs(
        access_key, date, region, service, names, signature.lower(), timestamp, expires is not None, expires
    )


def check_time(inputs: SignatureInputs, now: datetime) -> None:
    """Header signatures must be within 15 minutes of ``now``; presigned URLs within their expiry."""
    signed_at = _parse_timestamp(inputs.timestamp)
    if inputs.presigned:
        assert inputs.expires is not None
        if signed_at - now > MAX_SKEW:
            raise SignatureProblem("not-yet-valid", "Request is not valid yet")
        if now > signed_at + timedelta(seconds=inputs.expires):
            raise SignatureProblem(
                "presign-expired",
                "Request has expired",
                Expires=_iso(signed_at + timedelta(seconds=inputs.expires)),
                ServerTime=_iso(now),
                X_Amz_Expires=str(inputs.expires),
            )
        return
    if now - signed_at > MAX_SKEW:
        raise SignatureProblem(
            "expired",
            f"Signature expired: {inputs.timestamp} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} - 15 min.)",
            RequestTime=inputs.timestamp,
            ServerTime=_iso(now),
        )
    if signed_at - now > MAX_SKEW:
        raise SignatureProblem(
            "expired",
            f"Signature not yet current: {inputs.timestamp} is still later than "
            f"{(now + MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} + 15 min.)",
            RequestTime=inputs.timestamp,
            ServerTime=_iso(now),
        )


def payload_hash_of(request: RequestParts, inputs: SignatureInputs) -> str | None:
    """The payload hash the client signed, when the request says it (``x-amz-content-sha256``, or a
    presigned S3 URL's ``UNSIGNED-PAYLOAD``); None when it is the body's own hash."""
    declared = request.header("x-amz-content-sha256")
    if declared is not None:
        declared = declared.strip()
        if (
            declared not in STREAMING_PAYLOADS
            and declared != UNSIGNED_PAYLOAD
            and not _HEX64.fullmatch(declared)
        ):
            raise SignatureProblem(
                "bad-content-sha256",
                f"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                f"STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a "
                f"hex-encoded SHA256 of the payload, got {declared[:80]!r}",
            )
        return declared
    if inputs.service == "s3":
        if inputs.presigned:
            return UNSIGNED_PAYLOAD
        raise SignatureProblem(
            "missing-content-sha256", "Missing required header for this request: x-amz-content-sha256"
        )
    return None


# ---- helpers -----------------------------------------------------------------------------------


def query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


@functools.lru_cache(maxsize=256)
def _parse_timestamp(timestamp: str) -> datetime:
    # Cached: every request parses its X-Amz-Date twice, strptime took 7 % of the router's CPU
    # (bench/README.md, Router benchmark), and a client signs many requests within one second.
    try:
        return datetime.strptime(timestamp, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureProblem(
            "malformed",
            f"X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", got {timestamp[:40]!r}",
        ) from None


def _from_http_date(value: str) -> str:
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise SignatureProblem("malformed", f"Date header is not an HTTP date: {value[:60]!r}") from None
    return parsed.astimezone(UTC).strftime(_AMZ_DATE)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def request_parts(
    method: str, raw_path: bytes, query: bytes, headers: Iterable[tuple[bytes, bytes]]
) -> RequestParts:
    """A :class:`RequestParts` from an ASGI scope's fields."""
    return RequestParts(
        method,
        raw_path.decode("latin-1"),
        query.decode("latin-1"),
        [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in headers],
    )
