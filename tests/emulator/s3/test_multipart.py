"""Multipart uploads through boto3's low-level calls; interrupted uploads leave nothing behind."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.aws_fixtures import FAKE_KEY, REGION
from tests.emulator_fixtures import EmulatorProcess

MIB = 1024 * 1024


def error(caught: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return dict(caught.value.response["Error"])


def blob_files(emulator: EmulatorProcess) -> set[Path]:
    return {p for p in (emulator.state_dir / "s3" / "blobs").rglob("*") if p.is_file()}


def incoming(emulator: EmulatorProcess) -> list[Path]:
    return list((emulator.state_dir / "s3" / "incoming").iterdir())


def test_complete_gives_s3s_etag_and_the_bytes(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"last bit"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp/model.bin", ContentType="application/x-model")
    uid = upload["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="mp/model.bin", UploadId=uid, PartNumber=n, Body=data)["ETag"]
        for n, data in enumerate(parts, 1)
    ]
    listed = s3.list_parts(Bucket=bucket, Key="mp/model.bin", UploadId=uid)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [
        (n, len(data), etag) for n, (data, etag) in enumerate(zip(parts, etags, strict=True), 1)
    ]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [uid]
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp/model.bin",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    digests = b"".join(hashlib.md5(data).digest() for data in parts)
    assert done["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-3"'
    got = s3.get_object(Bucket=bucket, Key="mp/model.bin")
    assert got["Body"].read() == b"".join(parts)
    assert got["ContentType"] == "application/x-model"
    # A range across the boundary of two parts.
    across = s3.get_object(Bucket=bucket, Key="mp/model.bin", Range=f"bytes={5 * MIB - 3}-{5 * MIB + 2}")
    assert across["Body"].read() == parts[0][-3:] + parts[1][:3]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as caught:
        s3.list_parts(Bucket=bucket, Key="mp/model.bin", UploadId=uid)
    assert error(caught)["Code"] == "NoSuchUpload"
    assert error(caught)["Message"].startswith("The specified upload does not exist.")


def test_bad_completions(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="bad")["UploadId"]
    small = [
        s3.upload_part(Bucket=bucket, Key="bad", UploadId=uid, PartNumber=n, Body=b"tiny")["ETag"]
        for n in (1, 2)
    ]

    def complete(parts: list[dict[str, Any]]) -> dict[str, Any]:
        with pytest.raises(ClientError) as caught:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="bad", UploadId=uid, MultipartUpload={"Parts": parts}
            )
        return error(caught)

    too_small = complete([{"PartNumber": 1, "ETag": small[0]}, {"PartNumber": 2, "ETag": small[1]}])
    assert too_small["Code"] == "EntityTooSmall"
    assert too_small["Message"] == "Your proposed upload is smaller than the minimum allowed size"
    assert too_small["MinSizeAllowed"] == str(5 * MIB)
    order = complete([{"PartNumber": 2, "ETag": small[1]}, {"PartNumber": 1, "ETag": small[0]}])
    assert order["Code"] == "InvalidPartOrder"
    assert (
        order["Message"]
        == "The list of parts was not in ascending order. Parts must be ordered by part number."
    )
    wrong = complete([{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}])
    assert wrong["Code"] == "InvalidPart"
    assert wrong["Message"].startswith("One or more of the specified parts could not be found.")
    missing = complete([{"PartNumber": 9, "ETag": small[0]}])
    assert missing["Code"] == "InvalidPart"
    # A single small part is fine: only parts before the last have a minimum.
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="bad",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": small[0]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="bad")["Body"].read() == b"tiny"
    with pytest.raises(ClientError) as caught:
        s3.upload_part(Bucket=bucket, Key="bad", UploadId="no-such-upload", PartNumber=1, Body=b"x")
    assert error(caught)["Code"] == "NoSuchUpload"
    other = s3.create_multipart_upload(Bucket=bucket, Key="bad")["UploadId"]
    with pytest.raises(ClientError) as caught:
        s3.upload_part(Bucket=bucket, Key="bad", UploadId=other, PartNumber=10001, Body=b"x")
    assert error(caught)["Code"] == "InvalidArgument"
    assert error(caught)["Message"] == "Part number must be an integer between 1 and 10000, inclusive"


def test_abort_removes_the_parts(s3_emulator: EmulatorProcess, s3: Any, bucket: str) -> None:
    before = blob_files(s3_emulator)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=uid, PartNumber=1, Body=os.urandom(MIB))
    assert len(blob_files(s3_emulator) - before) == 1
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=uid)
    assert blob_files(s3_emulator) == before
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=uid)
    assert error(caught)["Code"] == "NoSuchUpload"


def _send_half(emulator: EmulatorProcess, path: str, body: bytes) -> None:
    """Sign a PUT of ``body`` as botocore would, send its headers and half of it, then hang up."""
    request = AWSRequest(method="PUT", url=f"{emulator.url}{path}", data=body)
    S3SigV4Auth(Credentials(FAKE_KEY, FAKE_KEY), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    head = f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{emulator.port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in prepared.headers.items() if k.lower() != "content-length")
    with socket.create_connection(("127.0.0.1", emulator.port)) as sock:
        sock.sendall(head.encode() + b"\r\n" + body[: len(body) // 2])
        time.sleep(0.5)


def _wait_for_empty_incoming(emulator: EmulatorProcess) -> None:
    deadline = time.monotonic() + 10
    while incoming(emulator) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert incoming(emulator) == []


def test_interrupted_uploads_leave_nothing(s3_emulator: EmulatorProcess, s3: Any, bucket: str) -> None:
    before = blob_files(s3_emulator)
    _send_half(s3_emulator, f"/{bucket}/half-object", os.urandom(4 * MIB))
    _wait_for_empty_incoming(s3_emulator)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)

    uid = s3.create_multipart_upload(Bucket=bucket, Key="half-multipart")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="half-multipart", UploadId=uid, PartNumber=1, Body=os.urandom(5 * MIB))
    _send_half(s3_emulator, f"/{bucket}/half-multipart?partNumber=2&uploadId={uid}", os.urandom(4 * MIB))
    _wait_for_empty_incoming(s3_emulator)
    assert [
        p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="half-multipart", UploadId=uid)["Parts"]
    ] == [1]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)  # an unfinished upload is no object
    s3.abort_multipart_upload(Bucket=bucket, Key="half-multipart", UploadId=uid)
    assert blob_files(s3_emulator) == before
