"""Every request must carry a valid SigV4 signature: what boto3 signs gets through with its region and
payload hash in the scope; unsigned, wrongly signed, stale or tampered requests are refused in the
shape each service's clients raise."""

from __future__ import annotations

import hashlib
import socket
from datetime import timedelta
from typing import Any

import httpx
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from dockyard.emulator.security.refusals import HINT
from tests.emulator.security.echo_server import REGION, SECRET, SecuredServer, insecure_policy, secured

__all__ = ["secured"]

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    f"Access Key and signing method. {HINT}"
)


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: Any = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_boto3_requests_get_through_with_their_signed_region(secured: SecuredServer) -> None:
    secured.client("sagemaker").list_endpoints()
    seen = secured.app.seen[-1]
    assert (seen.auth.region, seen.auth.service, seen.auth.access_key) == (
        REGION,
        "sagemaker",
        "AKIAANYTHING",
    )
    assert seen.auth.payload_hash == hashlib.sha256(seen.body).hexdigest()
    runtime = secured.client("sagemaker-runtime")
    assert (
        runtime.invoke_endpoint(EndpointName="ep", Body=b"1,2", ContentType="text/csv")["Body"].read()
        == b"ok"
    )
    assert secured.app.seen[-1].body == b"1,2"  # the body the signature covered reaches the service
    buckets = secured.client("s3").list_buckets()["Buckets"]
    assert [bucket["Name"] for bucket in buckets] == ["dy-bucket"]
    secured.client("s3").put_object(Bucket="dy-bucket", Key="dir/a b+c.txt", Body=b"hello")
    put = secured.app.seen[-1]
    assert (put.auth.service, put.body) == ("s3", b"hello")
    assert put.auth.payload_hash in (hashlib.sha256(b"hello").hexdigest(), "UNSIGNED-PAYLOAD") or (
        put.auth.payload_hash.startswith("STREAMING-")
    )


def test_unsigned_requests_are_refused_as_each_service_refuses_them(secured: SecuredServer) -> None:
    with pytest.raises(ClientError) as control:
        secured.client("sagemaker", signature_version=UNSIGNED).list_endpoints()
    assert _error(control) == (
        "MissingAuthenticationTokenException",
        f"Missing Authentication Token. {HINT}",
        403,
    )
    with pytest.raises(ClientError) as runtime:
        secured.client("sagemaker-runtime", signature_version=UNSIGNED).invoke_endpoint(
            EndpointName="e", Body=b"1"
        )
    assert _error(runtime) == (
        "MissingAuthenticationTokenException",
        f"Missing Authentication Token. {HINT}",
        403,
    )
    with pytest.raises(ClientError) as s3:
        secured.client("s3", signature_version=UNSIGNED).list_objects_v2(Bucket="dy-bucket")
    assert _error(s3) == ("AccessDenied", f"Access Denied. {HINT}", 403)
    with pytest.raises(ClientError) as sts:
        secured.client("sts", signature_version=UNSIGNED).get_caller_identity()
    assert _error(sts) == ("MissingAuthenticationToken", f"Missing Authentication Token. {HINT}", 403)
    assert secured.app.seen == [] or all(seen.auth is not None for seen in secured.app.seen)


def test_a_signature_made_with_another_secret_is_refused(secured: SecuredServer) -> None:
    with pytest.raises(ClientError) as control:
        secured.client("sagemaker", secret="my real AWS secret").list_endpoints()
    assert _error(control) == ("InvalidSignatureException", MISMATCH, 403)
    with pytest.raises(ClientError) as runtime:
        secured.client("sagemaker-runtime", secret="x").invoke_endpoint(EndpointName="e", Body=b"1")
    assert _error(runtime) == ("InvalidSignatureException", MISMATCH, 403)
    with pytest.raises(ClientError) as s3:
        secured.client("s3", secret="x").list_buckets()
    assert _error(s3) == ("SignatureDoesNotMatch", MISMATCH, 403)
    # As S3 does, the answer shows what the server signed, to debug a client's signer.
    error: Any = s3.value.response["Error"]
    assert error["CanonicalRequest"].startswith("GET\n/\n\n")
    assert error["StringToSign"].startswith("AWS4-HMAC-SHA256\n")


def test_presigned_urls_work_and_are_checked(secured: SecuredServer) -> None:
    url = secured.client("s3", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": "dy-bucket", "Key": "dir/a b.txt"}, ExpiresIn=60
    )
    answer = httpx.get(url)
    assert answer.status_code == 200, answer.text
    assert secured.app.seen[-1].auth.presigned
    forged = secured.client("s3", secret="x", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": "dy-bucket", "Key": "k"}, ExpiresIn=60
    )
    refused = httpx.get(forged)
    assert refused.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in refused.text
    expired = secured.client("s3", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": "dy-bucket", "Key": "k"}, ExpiresIn=0
    )
    late = httpx.get(expired)
    assert late.status_code == 403
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message><Expires>" in late.text
    assert "<X-Amz-Expires>0</X-Amz-Expires>" in late.text


def test_version_2_presigned_urls_are_refused_with_how_to_make_version_4_ones(secured: SecuredServer) -> None:
    url = secured.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": "dy-bucket", "Key": "k"}
    )
    assert "AWSAccessKeyId=" in url  # boto3's default for S3
    refused = httpx.get(url)
    assert refused.status_code == 400
    assert (
        "<Code>InvalidRequest</Code><Message>The authorization mechanism you have provided is not supported. "
        "Please use AWS4-HMAC-SHA256. (boto3: create the S3 client with "
        "botocore.config.Config(signature_version=&apos;s3v4&apos;) to presign URLs with it.)</Message>"
    ) in refused.text.replace("'", "&apos;")


def test_a_changed_body_or_a_false_content_hash_is_refused(secured: SecuredServer) -> None:
    request = AWSRequest("POST", secured.url + "/endpoints/e/invocations", data=b"1,2")
    SigV4Auth(Credentials("k", SECRET), "sagemaker", REGION).add_auth(request)
    headers = dict(request.headers.items())
    changed = httpx.post(secured.url + "/endpoints/e/invocations", headers=headers, content=b"rm -rf")
    assert (changed.status_code, changed.headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    false_hash = {**headers, "X-Amz-Content-SHA256": hashlib.sha256(b"other").hexdigest()}
    lied = httpx.post(secured.url + "/endpoints/e/invocations", headers=false_hash, content=b"1,2")
    assert lied.status_code == 403
    assert lied.json() == {
        "message": "The provided 'x-amz-content-sha256' header does not match what was computed."
    }


def test_bodies_above_the_limit_are_refused_before_being_read(secured: SecuredServer) -> None:
    request = AWSRequest("POST", secured.url + "/", headers={"X-Amz-Target": "SageMaker.ListEndpoints"})
    SigV4Auth(Credentials("k", SECRET), "sagemaker", REGION).add_auth(request)
    head = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    with socket.create_connection(("127.0.0.1", secured.port), timeout=10) as connection:
        connection.sendall(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{secured.port}\r\n{head}"
            f"Content-Length: {17 * 1024 * 1024}\r\n\r\n".encode()
        )
        answer = connection.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413 ")
    assert (
        '{"__type":"ValidationException","message":"HTTP content length exceeded 16777216 bytes."}' in answer
    )


def test_requests_outside_the_clock_window_are_refused_as_aws_does() -> None:
    with SecuredServer(clock_offset=timedelta(minutes=20)) as late:
        with pytest.raises(ClientError) as control:
            late.client("sagemaker").list_endpoints()
        code, message, status = _error(control)
        assert (code, status) == ("InvalidSignatureException", 403)
        assert message.startswith("Signature expired: ")
        assert message.endswith(" - 15 min.)")
        with pytest.raises(ClientError) as s3:
            late.client("s3").list_buckets()
        assert _error(s3) == (
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            403,
        )
        error: Any = s3.value.response["Error"]
        assert error["MaxAllowedSkewMilliseconds"] == "900000"


def test_insecure_any_credentials_accepts_any_secret_but_still_needs_a_signature() -> None:
    with SecuredServer(insecure_policy()) as server:
        server.client("sagemaker", secret="whatever the user has").list_endpoints()
        assert server.app.seen[-1].auth.signing_key is None
        with pytest.raises(ClientError) as unsigned:
            server.client("sagemaker", signature_version=UNSIGNED).list_endpoints()
        assert _error(unsigned)[0] == "MissingAuthenticationTokenException"


def test_the_status_path_needs_no_signature_but_nothing_else_does(secured: SecuredServer) -> None:
    assert httpx.get(secured.url + "/_dockyard/status").status_code == 200
    assert httpx.post(secured.url + "/_dockyard/status").status_code == 403
    assert httpx.get(secured.url + "/_dockyard/status/x").status_code == 403
