"""Malformed or out-of-bounds S3 requests, crafted by hand (signed as botocore signs), get S3's errors."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.aws_fixtures import FAKE_KEY, REGION
from tests.emulator.s3.signing import aws_chunked, signed
from tests.emulator_fixtures import EmulatorProcess


def code_and_message(response: Any) -> tuple[str, str]:
    text = response.text
    code = text.split("<Code>", 1)[1].split("</Code>", 1)[0]
    message = text.split("<Message>", 1)[1].split("</Message>", 1)[0]
    return code, message


def test_bodies_that_do_not_add_up(s3_emulator: EmulatorProcess, s3: Any, bucket: str) -> None:
    url = f"{s3_emulator.url}/{bucket}/k"
    both = signed("PUT", url, b"x", {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-sha1": "AAAA"})
    assert code_and_message(both) == (
        "InvalidRequest",
        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
    )
    chunked = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "5"}
    odd_trailer = signed(
        "PUT", url, aws_chunked(b"hello", {}), {**chunked, "X-Amz-Trailer": "x-amz-checksum-md7"}
    )
    assert code_and_message(odd_trailer) == (
        "InvalidRequest",
        "The value specified in the x-amz-trailer header is not supported: x-amz-checksum-md7",
    )
    no_trailer = signed(
        "PUT",
        url,
        aws_chunked(b"hello", {}),
        {**chunked, "X-Amz-Trailer": "x-amz-checksum-crc32"},
        trailer=True,
    )
    assert code_and_message(no_trailer) == (
        "InvalidRequest",
        "The request announced the trailer x-amz-checksum-crc32 but did not send it",
    )
    longer = signed("PUT", url, aws_chunked(b"hello world", {}), chunked, trailer=True)
    assert code_and_message(longer) == (
        "IncompleteBody",
        "The request body is longer than its declared length",
    )
    shorter = signed("PUT", url, aws_chunked(b"hel", {}), chunked, trailer=True)
    assert code_and_message(shorter) == (
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
    )
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_a_body_over_5_gib_is_refused_before_it_is_sent(s3_emulator: EmulatorProcess, bucket: str) -> None:
    # Signed as botocore signs; the body the signature names is never sent, nor read.
    request = AWSRequest(method="PUT", url=f"{s3_emulator.url}/{bucket}/huge", data=b"")
    S3SigV4Auth(Credentials(FAKE_KEY, FAKE_KEY), "s3", REGION).add_auth(request)
    head = (
        f"PUT /{bucket}/huge HTTP/1.1\r\nHost: 127.0.0.1:{s3_emulator.port}\r\nContent-Length: 6000000000\r\n"
    )
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items() if k.lower() != "content-length")
    head += "\r\n"
    with socket.create_connection(("127.0.0.1", s3_emulator.port), timeout=30) as sock:
        sock.sendall(head.encode())
        received = b""
        while chunk := sock.recv(65536):  # the server closes: the body was never read
            received += chunk
    answer = received.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 400")
    assert "connection: close" in answer
    assert "<Code>EntityTooLarge</Code>" in answer
    assert "Your proposed upload of 6000000000 bytes exceeds the maximum allowed object size" in answer


def test_bad_xml_and_bad_arguments(s3_emulator: EmulatorProcess, s3: Any, bucket: str) -> None:
    base = f"{s3_emulator.url}/{bucket}"
    broken = signed("POST", f"{base}?delete", b"<Delete><Object><Key>a</Key>")
    assert code_and_message(broken)[0] == "MalformedXML"
    empty = signed("POST", f"{base}?delete", b"<Delete></Delete>")
    assert code_and_message(empty) == (
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema "
        "(a Delete request names 1 to 1000 objects)",
    )
    keyless = signed("POST", f"{base}?delete", b"<Delete><Object><Key></Key></Object></Delete>")
    assert code_and_message(keyless) == ("MalformedXML", "Each Object of a Delete request needs a Key")
    too_big = signed("POST", f"{base}?delete", b"<Delete>" + b" " * (4 * 1024 * 1024 + 1) + b"</Delete>")
    assert code_and_message(too_big) == (
        "MaxMessageLengthExceeded",
        "Your request was too big (the limit is 4194304 bytes).",
    )
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    no_parts = signed(
        "POST", f"{base}/m?uploadId={uid}", b"<CompleteMultipartUpload></CompleteMultipartUpload>"
    )
    assert code_and_message(no_parts)[1].endswith("(CompleteMultipartUpload names no parts)")
    not_a_number = signed("GET", f"{base}?list-type=2&max-keys=many")
    assert code_and_message(not_a_number) == (
        "InvalidArgument",
        "The value 'many' of max-keys is not a valid integer",
    )
    negative = signed("GET", f"{base}?list-type=2&max-keys=-1")
    assert code_and_message(negative) == (
        "InvalidArgument",
        "Provided max-keys not an integer or within integer range",
    )
    no_key = signed("PUT", f"{base}/copy", headers={"x-amz-copy-source": bucket})
    assert code_and_message(no_key) == (
        "InvalidArgument",
        f"Invalid copy source object key: {bucket!r} is not BUCKET/KEY",
    )


def test_bucket_argument_errors(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket="dy-elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert caught.value.response["Error"]["Code"] == "IllegalLocationConstraintException"
    assert caught.value.response["Error"]["Message"] == (
        "The eu-west-1 location constraint is incompatible for the region specific endpoint this request was "
        "sent to."
    )
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k" * 129, "Value": "v"}]})
    assert caught.value.response["Error"]["Message"] == (
        "The TagKey you have provided is invalid (1 to 128 characters; values up to 256)"
    )
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": many})
    assert caught.value.response["Error"]["Message"] == "Bucket tag count cannot be greater than 50"


def test_copy_conditions(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"s")
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", CopySourceIfMatch='"nope"')
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert caught.value.response["Error"]["Condition"] == "If-Match"
    etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", CopySourceIfNoneMatch=etag)
    assert caught.value.response["Error"]["Condition"] == "If-None-Match"
