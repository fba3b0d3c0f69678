"""Objects through an unmodified boto3 client against the emulator process."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError, IncompleteReadError, ResponseStreamingError

from tests.emulator_fixtures import EmulatorProcess


def error(caught: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return dict(caught.value.response["Error"])


def test_put_get_head_keep_bytes_metadata_and_content_type(s3: Any, bucket: str) -> None:
    body = b"x" * 1000 + b"tail"
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/obj.json",
        Body=body,
        ContentType="application/json",
        Metadata={"model-version": "7", "Owner": "me"},
        CacheControl="no-cache",
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/obj.json")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/json"
    assert got["CacheControl"] == "no-cache"
    assert got["Metadata"] == {"model-version": "7", "owner": "me"}  # header names are case-insensitive
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/obj.json")
    assert head["ContentLength"] == len(body)
    assert head["ContentType"] == "application/json"
    assert head["Metadata"] == got["Metadata"]
    plain = s3.put_object(Bucket=bucket, Key="plain", Body=b"")
    assert plain["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.head_object(Bucket=bucket, Key="plain")["ContentType"] == "binary/octet-stream"


def test_ranges_answer_206_and_bad_ranges_416(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=bytes(range(100)))
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == "bytes 10-19/100"
    assert part["Body"].read() == bytes(range(10, 20))
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == bytes(range(95, 100))
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=90-")["Body"].read() == bytes(range(90, 100))
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=95-500")["ContentRange"] == "bytes 95-99/100"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=100-200")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    assert error(caught)["Code"] == "InvalidRange"
    assert error(caught)["Message"] == "The requested range is not satisfiable"
    assert error(caught)["ActualObjectSize"] == "100"


def test_conditional_gets(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"c")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"c"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert error(caught)["Code"] == "PreconditionFailed"
    assert error(caught)["Message"] == "At least one of the pre-conditions you specified did not hold"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_listing_pages_prefixes_and_start_after(s3: Any, bucket: str) -> None:
    keys = [f"logs/2026/{i:03d}.txt" for i in range(25)] + ["logs/readme", "models/a/model.tar.gz", "top"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 7})
    )
    assert len(pages) == 4
    assert [item["Key"] for page in pages for item in page["Contents"]] == sorted(keys)
    assert pages[0]["IsTruncated"]
    assert pages[0]["KeyCount"] == 7
    assert not pages[-1]["IsTruncated"]

    folders = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in folders["CommonPrefixes"]] == ["logs/", "models/"]
    assert [item["Key"] for item in folders["Contents"]] == ["top"]
    inside = s3.list_objects_v2(Bucket=bucket, Prefix="logs/", Delimiter="/")
    assert [p["Prefix"] for p in inside["CommonPrefixes"]] == ["logs/2026/"]
    assert [item["Key"] for item in inside["Contents"]] == ["logs/readme"]
    # Common prefixes count against max-keys and the token resumes past them.
    first = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert first["CommonPrefixes"] == [{"Prefix": "logs/"}]
    assert first["IsTruncated"]
    second = s3.list_objects_v2(
        Bucket=bucket, Delimiter="/", MaxKeys=1, ContinuationToken=first["NextContinuationToken"]
    )
    assert second["CommonPrefixes"] == [{"Prefix": "models/"}]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="logs/readme")
    assert [item["Key"] for item in after["Contents"]] == ["models/a/model.tar.gz", "top"]
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 10}))
    assert [item["Key"] for page in v1 for item in page["Contents"]] == sorted(keys)
    odd = "spaces and ü/ä+%.txt"
    s3.put_object(Bucket=bucket, Key=odd, Body=b"odd")
    assert odd in [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert s3.get_object(Bucket=bucket, Key=odd)["Body"].read() == b"odd"
    with pytest.raises(ClientError) as caught:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="not base64!")
    assert error(caught)["Code"] == "InvalidArgument"
    assert error(caught)["Message"] == "The continuation token provided is incorrect"


def test_copy_and_deletes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source", ContentType="text/plain", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"source").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"source", "text/plain", {"a": "1"})
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="application/x-new",
    )
    assert s3.head_object(Bucket=bucket, Key="dst")["Metadata"] == {"b": "2"}
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source"  # the copy has its own bytes
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "dst"})
    assert error(caught)["Code"] == "InvalidRequest"
    assert "trying to copy an object to itself" in error(caught)["Message"]

    for key in ("m1", "m2", "m3"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"m")
    deleted = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "m1"}, {"Key": "m2"}, {"Key": "gone"}]}
    )
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["gone", "m1", "m2"]
    assert s3.delete_object(Bucket=bucket, Key="never-there")["ResponseMetadata"]["HTTPStatusCode"] == 204
    left = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert left == ["dst", "m3"]


def test_missing_things_have_s3_errors(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="absent")
    assert error(caught)["Code"] == "NoSuchKey"
    assert error(caught)["Message"] == "The specified key does not exist."
    assert error(caught)["Key"] == "absent"
    assert caught.value.response["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket="dy-no-such-bucket", Key="k")
    assert error(caught)["Code"] == "NoSuchBucket"
    assert error(caught)["Message"] == "The specified bucket does not exist"
    assert error(caught)["BucketName"] == "dy-no-such-bucket"
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key="absent")
    assert caught.value.response["Error"]["Code"] == "404"  # HEAD errors have no body, as in S3
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="dy-no-such-bucket", Key="k", Body=b"lost")
    assert error(caught)["Code"] == "NoSuchBucket"
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "absent"})
    assert error(caught)["Code"] == "NoSuchKey"


def test_presigned_urls_put_and_get(s3_emulator: EmulatorProcess, bucket: str) -> None:
    """A SigV4-presigned URL carries its scope in X-Amz-Credential: it reaches S3 with no header. (boto3
    presigns the SigV2 way unless told s3v4; the emulator's signature checks accept SigV4 only.)"""
    v4 = s3_emulator.client("s3", s3={"addressing_style": "path"}, signature_version="s3v4")
    key = {"Bucket": bucket, "Key": "shared key"}
    put_url = v4.generate_presigned_url("put_object", Params=key, ExpiresIn=60)
    assert "X-Amz-Credential=" in put_url
    assert httpx.put(put_url, content=b"through a presigned URL").status_code == 200
    answer = httpx.get(v4.generate_presigned_url("get_object", Params=key, ExpiresIn=60))
    assert answer.status_code == 200
    assert answer.content == b"through a presigned URL"


def test_key_and_metadata_limits(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert error(caught)["Code"] == "KeyTooLongError"
    assert error(caught)["Message"] == "Your key is too long"
    with pytest.raises(ClientError) as caught:
        s3.create_multipart_upload(Bucket=bucket, Key="m", Metadata={"big": "v" * 2100})
    assert error(caught)["Code"] == "MetadataTooLarge"
    assert error(caught)["Message"] == "Your metadata headers exceed the maximum allowed metadata size"
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"x", Metadata={"fits": "v" * 2000})
    assert "Contents" in s3.list_objects_v2(Bucket=bucket)


def test_a_damaged_blob_is_an_error_never_wrong_bytes(
    s3_emulator: EmulatorProcess, s3: Any, bucket: str
) -> None:
    """Files under the state directory changed behind the emulator's back: a missing one is S3's
    InternalError; one cut short after the headers went out cuts the response short."""
    s3.put_object(Bucket=bucket, Key="gone", Body=b"g" * 100)
    s3.put_object(Bucket=bucket, Key="cut", Body=os.urandom(3 * 1024 * 1024))
    blobs = sorted((s3_emulator.state_dir / "s3" / "blobs").rglob("*"), key=lambda p: p.stat().st_mtime)
    cut = [p for p in blobs if p.is_file() and p.stat().st_size == 3 * 1024 * 1024][-1]
    gone = [p for p in blobs if p.is_file() and p.stat().st_size == 100][-1]
    gone.unlink()
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="gone")
    assert error(caught)["Code"] == "InternalError"
    assert error(caught)["Message"].startswith("We encountered an internal error: ")
    with cut.open("r+b") as handle:
        handle.truncate(1024 * 1024 + 10)
    body = s3.get_object(Bucket=bucket, Key="cut")["Body"]
    with pytest.raises((ResponseStreamingError, IncompleteReadError)):
        body.read()
