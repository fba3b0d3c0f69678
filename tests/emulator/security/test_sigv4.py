"""SigV4 checking against botocore's own signer as the oracle: whatever botocore signs (headers or a
presigned URL, JSON or S3, odd paths and queries) verifies with the right secret and fails with any
other secret or any change to a signed part."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dockyard.emulator.security.sigv4 import (
    SIGV2_REFUSED,
    RequestParts,
    SignatureProblem,
    check_time,
    payload_hash_of,
    signature_inputs,
    verify,
)

SECRET = "s3cr3t/with+odd=chars"
HOST = "http://127.0.0.1:7474"


def _parts(request: AWSRequest) -> RequestParts:
    url = urlsplit(request.url)
    headers = [(name.lower(), str(value)) for name, value in request.headers.items()]
    if "host" not in {name for name, _ in headers}:
        headers.append(("host", url.netloc))
    return RequestParts(request.method, url.path or "/", url.query, headers)


def _check(request: AWSRequest, secret: str = SECRET) -> str:
    parts = _parts(request)
    inputs = signature_inputs(parts)
    assert inputs is not None
    declared = payload_hash_of(parts, inputs)
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    import hashlib

    payload = declared if declared is not None else hashlib.sha256(body).hexdigest()
    signed = verify(parts, inputs, payload, secret)
    return signed.region


def _signed(signer: type[SigV4Auth], service: str, method: str, url: str, **kwargs: object) -> AWSRequest:
    request = AWSRequest(method, url, **kwargs)  # type: ignore[arg-type]
    signer(Credentials("AKIDEXAMPLE", SECRET), service, "eu-west-1").add_auth(request)
    return request


CASES = [
    (SigV4Auth, "sagemaker", "POST", "/", {"X-Amz-Target": "SageMaker.ListEndpoints"}, b"{}"),
    (SigV4Auth, "sagemaker", "POST", "/endpoints/my-ep/invocations", {"Content-Type": "text/csv"}, b"1,2"),
    (SigV4Auth, "sagemaker", "POST", "/endpoints/a%3Ab/invocations", {}, b"x"),
    (SigV4Auth, "sagemaker", "POST", "/endpoints//x/./y/../invocations", {}, b""),
    (SigV4Auth, "ecr", "POST", "/", {"X-Amz-Target": "A.B", "X-Amz-Meta": "  a   b  "}, b"{}"),
    (SigV4Auth, "sts", "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=Get"),
    (S3SigV4Auth, "s3", "GET", "/bucket?list-type=2&prefix=a%2Fb%20c&max-keys=5", {}, b""),
    (S3SigV4Auth, "s3", "PUT", "/bucket/dir/a%20b%2Bc%25.txt", {"Content-Type": "text/plain"}, b"hello"),
    (S3SigV4Auth, "s3", "GET", "/bucket/%E2%82%AC/key?acl", {}, b""),
    (S3SigV4Auth, "s3", "PUT", "/bucket/key", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}, b"xyz"),
]


@pytest.mark.parametrize(("signer", "service", "method", "path", "headers", "body"), CASES)
def test_what_botocore_signs_verifies_and_nothing_else_does(
    signer: type[SigV4Auth], service: str, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    request = _signed(signer, service, method, HOST + path, headers=dict(headers), data=body)
    assert _check(request) == "eu-west-1"
    with pytest.raises(SignatureProblem) as wrong_secret:
        _check(request, "another secret")
    assert wrong_secret.value.kind == "mismatch"
    assert wrong_secret.value.message == (
        "The request signature we calculated does not match the signature you provided."
    )
    assert "CanonicalRequest" in wrong_secret.value.detail
    tampered = AWSRequest(
        method, HOST + path + ("&" if "?" in path else "?") + "extra=1", headers=request.headers
    )
    tampered.data = request.data
    with pytest.raises(SignatureProblem):
        _check(tampered)
    changed = AWSRequest(method, request.url, headers={**request.headers, "X-Amz-Date": "20200101T000000Z"})
    changed.data = request.data
    with pytest.raises(SignatureProblem):
        _check(changed)


@pytest.mark.parametrize(
    ("signer", "service", "method", "path"),
    [
        (S3SigV4QueryAuth, "s3", "GET", "/bucket/dir/a%20b.txt"),
        (S3SigV4QueryAuth, "s3", "PUT", "/bucket/key?partNumber=1&uploadId=a%2Fb"),
        (SigV4QueryAuth, "sagemaker", "POST", "/endpoints/e/invocations"),
    ],
)
def test_presigned_urls_verify_until_they_expire(
    signer: type[SigV4Auth], service: str, method: str, path: str
) -> None:
    request = AWSRequest(method, HOST + path, data=b"")
    signer(Credentials("AKID", SECRET), service, "ap-south-1", expires=60).add_auth(  # type: ignore[call-arg]
        request
    )
    request = AWSRequest(method, request.url, data=b"")  # what arrives: the URL only
    parts = _parts(request)
    inputs = signature_inputs(parts)
    assert inputs is not None
    assert inputs.presigned
    assert inputs.expires == 60
    assert _check(request) == "ap-south-1"
    signed_at = datetime.strptime(inputs.timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    check_time(inputs, signed_at + timedelta(seconds=59))
    with pytest.raises(SignatureProblem) as expired:
        check_time(inputs, signed_at + timedelta(seconds=61))
    assert (expired.value.kind, expired.value.message) == ("presign-expired", "Request has expired")
    with pytest.raises(SignatureProblem) as early:
        check_time(inputs, signed_at - timedelta(minutes=16))
    assert (early.value.kind, early.value.message) == ("not-yet-valid", "Request is not valid yet")


def test_header_signatures_hold_for_fifteen_minutes_either_way() -> None:
    request = _signed(SigV4Auth, "sagemaker", "POST", HOST + "/", data=b"{}")
    inputs = signature_inputs(_parts(request))
    assert inputs is not None
    signed_at = datetime.strptime(inputs.timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    check_time(inputs, signed_at + timedelta(minutes=14))
    check_time(inputs, signed_at - timedelta(minutes=14))
    now = signed_at + timedelta(minutes=16)
    with pytest.raises(SignatureProblem) as late:
        check_time(inputs, now)
    earliest = (now - timedelta(minutes=15)).strftime("%Y%m%dT%H%M%SZ")
    assert late.value.message == (
        f"Signature expired: {inputs.timestamp} is now earlier than {earliest} "
        f"({now.strftime('%Y%m%dT%H%M%SZ')} - 15 min.)"
    )
    now = signed_at - timedelta(minutes=16)
    with pytest.raises(SignatureProblem) as early:
        check_time(inputs, now)
    assert early.value.message.startswith(
        f"Signature not yet current: {inputs.timestamp} is still later than"
    )


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (
            "Bearer abc",
            "Unsupported Authorization Type 'Bearer': the local target accepts AWS4-HMAC-SHA256 only",
        ),
        (
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab",
            "Authorization header requires 'Credential' parameter. "
            "Authorization=AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sagemaker, SignedHeaders=host, Signature=ab",
            "Credential should be of the form ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request, "
            "got 'AKID/20261202/us-east-1/sagemaker'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261201/us-east-1/sagemaker/aws4_request, SignedHeaders=host, "
            "Signature=ab",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            "'20261201' != '20261202', from '20261202T101010Z'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sagemaker/aws4_request, "
            "SignedHeaders=x-amz-date, Signature=ab",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    ],
)
def test_malformed_authorization_headers_say_what_is_wrong(authorization: str, message: str) -> None:
    parts = RequestParts(
        "POST",
        "/",
        "",
        [("host", "127.0.0.1"), ("x-amz-date", "20261202T101010Z"), ("authorization", authorization)],
    )
    with pytest.raises(SignatureProblem) as caught:
        signature_inputs(parts)
    assert (caught.value.kind, caught.value.message) == ("malformed", message)


def test_s3_requires_a_content_hash_and_a_well_formed_one() -> None:
    request = _signed(S3SigV4Auth, "s3", "GET", HOST + "/b/k")
    headers = [(n, v) for n, v in _parts(request).headers if n != "x-amz-content-sha256"]
    parts = RequestParts("GET", "/b/k", "", headers)
    inputs = signature_inputs(parts)
    assert inputs is not None
    with pytest.raises(
        SignatureProblem, match="Missing required header for this request: x-amz-content-sha256"
    ):
        payload_hash_of(parts, inputs)
    with pytest.raises(SignatureProblem, match="x-amz-content-sha256 must be UNSIGNED-PAYLOAD"):
        payload_hash_of(RequestParts("GET", "/b/k", "", [*headers, ("x-amz-content-sha256", "abc")]), inputs)
    for mode in (
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "UNSIGNED-PAYLOAD",
    ):
        assert (
            payload_hash_of(
                RequestParts("PUT", "/b/k", "", [*headers, ("x-amz-content-sha256", mode)]), inputs
            )
            == mode
        )


def test_signature_version_2_is_refused_with_its_own_kind() -> None:
    for parts in (
        RequestParts("GET", "/b/k", "", [("host", "localhost"), ("authorization", "AWS AKID:abc")]),
        RequestParts("GET", "/b/k", "AWSAccessKeyId=a&Signature=b&Expires=1", [("host", "localhost")]),
    ):
        with pytest.raises(SignatureProblem) as caught:
            signature_inputs(parts)
        assert (caught.value.kind, caught.value.message) == ("sigv2", SIGV2_REFUSED)


def test_no_signature_at_all_is_told_apart() -> None:
    assert signature_inputs(RequestParts("GET", "/", "a=1", [("host", "localhost")])) is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "X-Amz-Signature=ab&X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ),
        (
            "X-Amz-Algorithm=HMAC&X-Amz-Credential=a%2F20261202%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20261202T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab",
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
        ),
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20261202%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20261202T000000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=ab",
            "X-Amz-Expires must be a number of seconds from 0 to 604800",
        ),
    ],
)
def test_malformed_presigned_queries_say_what_is_wrong(query: str, message: str) -> None:
    with pytest.raises(SignatureProblem) as caught:
        signature_inputs(RequestParts("GET", "/b/k", query, [("host", "localhost")]))
    assert (caught.value.kind, caught.value.message) == ("malformed-query", message)
