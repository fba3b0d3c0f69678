"""Buckets through boto3: create/head/list/delete, location, tagging, public access block, addressing."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.aws_fixtures import FAKE_KEY
from tests.emulator.s3.signing import signed
from tests.emulator_fixtures import EmulatorProcess


def error(caught: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return dict(caught.value.response["Error"])


def test_bucket_lifecycle_and_errors(s3: Any) -> None:
    s3.create_bucket(Bucket="dy-life")
    assert s3.head_bucket(Bucket="dy-life")["BucketRegion"] == "us-east-1"
    assert "dy-life" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket="dy-life")["LocationConstraint"] is None  # us-east-1, as S3 says
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket="dy-life")
    assert error(caught)["Code"] == "BucketAlreadyOwnedByYou"
    assert error(caught)["Message"] == (
        "Your previous request to create the named bucket succeeded and you already own it."
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.put_object(Bucket="dy-life", Key="k", Body=b"v")
    with pytest.raises(ClientError) as caught:
        s3.delete_bucket(Bucket="dy-life")
    assert error(caught)["Code"] == "BucketNotEmpty"
    assert error(caught)["Message"] == "The bucket you tried to delete is not empty"
    s3.delete_object(Bucket="dy-life", Key="k")
    s3.delete_bucket(Bucket="dy-life")
    with pytest.raises(ClientError) as caught:
        s3.head_bucket(Bucket="dy-life")
    assert error(caught)["Code"] == "404"
    with pytest.raises(ClientError) as caught:
        s3.delete_bucket(Bucket="dy-life")
    assert error(caught)["Code"] == "NoSuchBucket"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ab", "bucket names must be between 3 and 63 characters long"),
        ("Upper-Case", "bucket names may contain only lower-case letters, digits, dots and hyphens"),
        ("dots..dots", "must not contain two adjacent dots or look like an IP address"),
        ("10.1.2.3", "must not contain two adjacent dots or look like an IP address"),
    ],
)
def test_invalid_bucket_names(s3: Any, name: str, why: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket=name)
    assert error(caught)["Code"] == "InvalidBucketName"
    assert error(caught)["Message"].startswith("The specified bucket is not valid: ")
    assert why in error(caught)["Message"]


def test_regions_follow_aws(s3_emulator: EmulatorProcess) -> None:
    west = boto3.client(
        "s3",
        endpoint_url=s3_emulator.url,
        region_name="eu-west-1",
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )
    with pytest.raises(ClientError) as caught:
        west.create_bucket(Bucket="dy-west")
    assert error(caught)["Code"] == "IllegalLocationConstraintException"
    assert error(caught)["Message"] == (
        "The unspecified location constraint is incompatible for the region specific endpoint this "
        "request was sent to."
    )
    west.create_bucket(Bucket="dy-west", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert west.get_bucket_location(Bucket="dy-west")["LocationConstraint"] == "eu-west-1"
    regions = {b["Name"]: b["BucketRegion"] for b in west.list_buckets(BucketRegion="eu-west-1")["Buckets"]}
    assert regions == {"dy-west": "eu-west-1"}


def test_tagging_and_public_access_block(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error(caught)["Code"] == "NoSuchTagSet"
    assert error(caught)["Message"] == "The TagSet does not exist"
    tags = [{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [*tags, {"Key": "team", "Value": "x"}]})
    assert error(caught)["Code"] == "InvalidTag"
    assert error(caught)["Message"] == "Cannot provide multiple Tags with the same key"
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)

    with pytest.raises(ClientError) as caught:
        s3.get_public_access_block(Bucket=bucket)
    assert error(caught)["Code"] == "NoSuchPublicAccessBlockConfiguration"
    assert error(caught)["Message"] == "The public access block configuration was not found"
    config = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True,
    }
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=config)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == config


def test_virtual_host_addressing(s3_emulator: EmulatorProcess, bucket: str) -> None:
    """boto3 with addressing_style=virtual puts the bucket in the host name (bucket.localhost:PORT); this
    machine's resolver does not resolve *.localhost, so the hook connects to 127.0.0.1 with that Host."""
    seen: list[str] = []

    def to_loopback(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        seen.append(parts.netloc)
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{s3_emulator.port}"))

    client = boto3.client(
        "s3",
        endpoint_url=f"http://localhost:{s3_emulator.port}",
        region_name="us-east-1",
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
        config=Config(s3={"addressing_style": "virtual"}),
    )
    client.meta.events.register("before-send.s3", to_loopback)
    client.put_object(Bucket=bucket, Key="v/key.txt", Body=b"virtual")
    assert client.get_object(Bucket=bucket, Key="v/key.txt")["Body"].read() == b"virtual"
    assert [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]] == ["v/key.txt"]
    assert seen[0] == f"{bucket}.localhost:{s3_emulator.port}"
    # The s3.localhost form some tools use.
    response = signed("GET", f"{s3_emulator.url}/v/key.txt", headers={"Host": f"{bucket}.s3.localhost"})
    assert response.status_code == 200
    assert response.content == b"virtual"
    # Unsigned, the host name alone says S3: the answer is S3's (whatever it decides about anonymity).
    anonymous = httpx.get(f"{s3_emulator.url}/v/key.txt", headers={"Host": f"{bucket}.localhost"})
    assert "x-amz-request-id" in anonymous.headers


def test_operations_not_served_are_named(s3_emulator: EmulatorProcess, s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_policy(Bucket=bucket)
    assert error(caught)["Code"] == "NotImplemented"
    assert error(caught)["Message"].startswith(
        "The local target's S3 does not serve GetBucketPolicy; it serves: "
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    response = signed("POST", f"{s3_emulator.url}/{bucket}/key")
    assert response.status_code == 501
    assert f"<Message>POST /{bucket}/key is not an operation of the S3 API</Message>" in response.text
