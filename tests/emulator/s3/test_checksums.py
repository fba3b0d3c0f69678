"""Integrity: aws-chunked bodies with trailing checksums, x-amz-checksum-* headers, Content-MD5 and
x-amz-content-sha256 are verified; a mismatch is S3's error and leaves no object."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.s3.signing import aws_chunked, signed
from tests.emulator_fixtures import EmulatorProcess


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def chunked_put(
    emulator: EmulatorProcess,
    bucket: str,
    key: str,
    payload: bytes,
    trailer: str,
    value: str,
    signature: bool = False,
) -> Any:
    body = aws_chunked(payload, {trailer: value}, signature=signature)
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(payload)),
        "X-Amz-Trailer": trailer,
        "Content-Type": "text/plain",
    }
    return signed("PUT", f"{emulator.url}/{bucket}/{key}", body, headers, trailer=True)


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("crc32", crc32),
        ("sha256", lambda data: b64(hashlib.sha256(data).digest())),
        ("sha1", lambda data: b64(hashlib.sha1(data).digest())),
        # No native CRC32C/CRC64NVME here: the published check values of b"123456789".
        ("crc32c", None),
        ("crc64nvme", None),
    ],
)
def test_trailing_checksums_are_decoded_and_verified(
    s3_emulator: EmulatorProcess, s3: Any, bucket: str, algorithm: str, digest: Any
) -> None:
    check = {"crc32c": "e3069283", "crc64nvme": "ae8b14860a799888"}
    payload = os.urandom(100_000) if digest else b"123456789"
    value = digest(payload) if digest else b64(bytes.fromhex(check[algorithm]))
    response = chunked_put(s3_emulator, bucket, "ok", payload, f"x-amz-checksum-{algorithm}", value)
    assert response.status_code == 200, response.text
    assert response.headers[f"x-amz-checksum-{algorithm}"] == value
    assert response.headers["etag"] == f'"{hashlib.md5(payload).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="ok")
    assert got["Body"].read() == payload
    assert got["ContentType"] == "text/plain"
    assert "ContentEncoding" not in got  # aws-chunked was how it travelled, not how it is stored


def test_a_bad_trailer_is_rejected_and_leaves_no_object(
    s3_emulator: EmulatorProcess, s3: Any, bucket: str
) -> None:
    payload = os.urandom(50_000)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"old bytes")
    response = chunked_put(
        s3_emulator, bucket, "kept", payload, "x-amz-checksum-crc32", crc32(b"other bytes")
    )
    assert response.status_code == 400
    assert "<Code>BadDigest</Code>" in response.text
    assert (
        "<Message>The CRC32 you specified did not match the calculated checksum.</Message>" in response.text
    )
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"old bytes"  # not replaced
    response = chunked_put(
        s3_emulator, bucket, "new", payload, "x-amz-checksum-crc32", "AAAAAA==", signature=True
    )
    assert "<Code>BadDigest</Code>" in response.text
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["kept"]
    assert list((s3_emulator.state_dir / "s3" / "incoming").iterdir()) == []


def test_signed_chunks_and_malformed_framing(s3_emulator: EmulatorProcess, s3: Any, bucket: str) -> None:
    payload = os.urandom(20_000)
    response = chunked_put(
        s3_emulator, bucket, "signed", payload, "x-amz-checksum-crc32", crc32(payload), True
    )
    assert response.status_code == 200, response.text
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == payload
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "5"}
    response = signed("PUT", f"{s3_emulator.url}/{bucket}/cut", b"5\r\nhel", headers, trailer=True)
    assert response.status_code == 400
    assert "<Code>IncompleteBody</Code>" in response.text
    response = signed(
        "PUT", f"{s3_emulator.url}/{bucket}/cut", b"zz\r\nhello\r\n0\r\n\r\n", headers, trailer=True
    )
    assert (
        "<Message>The aws-chunked body has a bad chunk size b&apos;zz&apos;</Message>" in response.text
        or ("bad chunk size" in response.text)
    )
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="cut")


def test_header_checksums_md5_and_sha256(s3_emulator: EmulatorProcess, s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="h", Body=b"payload", ChecksumCRC32=crc32(b"different"))
    assert caught.value.response["Error"]["Code"] == "BadDigest"
    assert (
        caught.value.response["Error"]["Message"]
        == "The CRC32 you specified did not match the calculated checksum."
    )
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="h", Body=b"payload", ContentMD5=b64(hashlib.md5(b"other").digest()))
    assert caught.value.response["Error"]["Code"] == "BadDigest"
    assert (
        caught.value.response["Error"]["Message"]
        == "The Content-MD5 you specified did not match what we received."
    )
    response = signed("PUT", f"{s3_emulator.url}/{bucket}/h", b"payload", {"Content-MD5": "not-base64"})
    assert "<Code>InvalidDigest</Code>" in response.text
    assert "<Message>The Content-MD5 you specified was invalid.</Message>" in response.text
    # botocore signs the payload's SHA-256 over plain HTTP; a body that does not match it is refused.
    forged = signed("PUT", f"{s3_emulator.url}/{bucket}/h", b"payload", signed_body=b"PAYLOAD")
    assert forged.status_code == 400
    assert "<Code>XAmzContentSHA256Mismatch</Code>" in forged.text
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    good = s3.put_object(
        Bucket=bucket, Key="h", Body=b"payload", ContentMD5=b64(hashlib.md5(b"payload").digest())
    )
    assert good["ChecksumCRC32"] == crc32(b"payload")
    got = s3.get_object(Bucket=bucket, Key="h", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == crc32(b"payload")  # and botocore verified it while reading
    assert got["Body"].read() == b"payload"
