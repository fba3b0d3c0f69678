"""Requests to the emulator's S3 crafted by hand but signed as botocore signs them (SigV4, scope s3)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.aws_fixtures import FAKE_KEY, REGION


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    trailer: bool = False,
    signed_body: bytes | None = None,
) -> httpx.Response:
    """Send ``body`` as is; with ``trailer`` the signature announces STREAMING-UNSIGNED-PAYLOAD-TRAILER
    (an aws-chunked body whose checksum comes last), as botocore does over TLS. ``signed_body``: sign
    other bytes than those sent (the signature then carries their SHA-256)."""
    data = body if signed_body is None else signed_body
    request = AWSRequest(method=method, url=url, data=data, headers=dict(headers or {}))
    if trailer:
        request.context["checksum"] = {"request_algorithm": {"in": "trailer"}}
    S3SigV4Auth(Credentials(FAKE_KEY, FAKE_KEY), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    return httpx.request(method, prepared.url, headers=dict(prepared.headers), content=body, timeout=30)


def aws_chunked(
    payload: bytes, trailers: Mapping[str, str], chunk: int = 8192, signature: bool = False
) -> bytes:
    """``payload`` framed as aws-chunked: hex-sized chunks (with a chunk-signature extension when asked),
    the zero chunk, then the trailer lines and a blank line."""
    out = bytearray()
    for start in range(0, len(payload), chunk):
        piece = payload[start : start + chunk]
        extension = ";chunk-signature=" + "0" * 64 if signature else ""
        out += f"{len(piece):x}{extension}\r\n".encode() + piece + b"\r\n"
    out += b"0\r\n"
    for name, value in trailers.items():
        out += f"{name}:{value}\r\n".encode()
    out += b"\r\n"
    return bytes(out)
