"""Model data for the fleet: s3:// through moto in server mode, file://, prefixes, and the failure reasons."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from dockyard.emulator.sagemaker.deployment import ContainerSpec
from dockyard.emulator.sagemaker.model_data import ModelDataCache, ModelDataError
from tests.aws_fixtures import REGION
from tests.emulator.runtime.fleet_kit import model_archive

IMAGE = "dy-fleet-unused:latest"


@pytest.fixture
def bucket(aws_env: str) -> str:
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name=REGION)
    name = "dy-fleet-models"
    s3.create_bucket(Bucket=name)
    return name


def put(aws_env: str, bucket: str, key: str, body: bytes) -> None:
    boto3.client("s3", endpoint_url=aws_env, region_name=REGION).put_object(Bucket=bucket, Key=key, Body=body)


def failure(store: ModelDataCache, container: ContainerSpec) -> str:
    with pytest.raises(ModelDataError) as caught:
        store.prepare(container, REGION)
    return caught.value.reason


def test_an_s3_archive_is_fetched_and_unpacked_once(aws_env: str, bucket: str, tmp_path: Path) -> None:
    data = model_archive(tmp_path).read_bytes()
    put(aws_env, bucket, "a/model.tar.gz", data)
    put(aws_env, bucket, "b/model.tar.gz", data)
    store = ModelDataCache(tmp_path / "state", s3_endpoint_url=aws_env, roots=(tmp_path,))

    first = store.prepare(ContainerSpec(IMAGE, model_data_url=f"s3://{bucket}/a/model.tar.gz"), REGION)
    assert first is not None
    assert json.loads((first / "weights.json").read_text()) == {"weights": [1, 2, 3, 4]}
    assert first.parent == tmp_path / "state" / "models"
    made = first.stat().st_mtime_ns
    # The same bytes at another URL, and again from a local file: the same directory, not unpacked again.
    again = store.prepare(ContainerSpec(IMAGE, model_data_url=f"s3://{bucket}/b/model.tar.gz"), REGION)
    local = store.prepare(ContainerSpec(IMAGE, model_data_url=(tmp_path / "model.tar.gz").as_uri()), REGION)
    assert again == local == first
    assert first.stat().st_mtime_ns == made
    assert list((tmp_path / "state" / "downloads").iterdir()) == []  # no download left behind
    assert store.prepare(ContainerSpec(IMAGE), REGION) is None


def test_uncompressed_prefixes_are_copied(aws_env: str, bucket: str, tmp_path: Path) -> None:
    put(aws_env, bucket, "prefix/weights.json", b'{"weights": [1]}')
    put(aws_env, bucket, "prefix/extra/notes.txt", b"notes")
    put(aws_env, bucket, "prefixed-not/other.txt", b"not this one")
    store = ModelDataCache(tmp_path / "state", s3_endpoint_url=aws_env, roots=(tmp_path,))
    from_s3 = store.prepare(
        ContainerSpec(IMAGE, model_data_prefix=f"s3://{bucket}/prefix/", model_data_compressed=False), REGION
    )
    assert from_s3 is not None
    files = sorted(str(p.relative_to(from_s3)) for p in from_s3.rglob("*") if p.is_file())
    assert files == ["extra/notes.txt", "weights.json"]

    tree = tmp_path / "tree"
    (tree / "extra").mkdir(parents=True)
    (tree / "weights.json").write_bytes(b'{"weights": [1]}')
    (tree / "extra" / "notes.txt").write_bytes(b"notes")
    from_file = store.prepare(
        ContainerSpec(IMAGE, model_data_prefix=tree.as_uri(), model_data_compressed=False), REGION
    )
    assert from_file == from_s3  # the same content: the same digest

    compressed = store.prepare(
        ContainerSpec(IMAGE, model_data_prefix=model_archive(tmp_path / "gz").as_uri()), REGION
    )
    assert compressed is not None
    assert (compressed / "weights.json").is_file()


def test_failures_give_sagemaker_reasons(aws_env: str, bucket: str, tmp_path: Path) -> None:
    store = ModelDataCache(tmp_path / "state", s3_endpoint_url=aws_env, roots=(tmp_path,))
    missing = f"s3://{bucket}/absent/model.tar.gz"
    reason = failure(store, ContainerSpec(IMAGE, model_data_url=missing))
    assert reason.startswith(
        f'Failed to download model data for container "container_1" from URL: "{missing}". Please ensure '
        "that there is an object located at the URL and that the role passed to CreateModel has permissions "
        "to download the object. (An error occurred (NoSuchKey) when calling the GetObject operation"
    )
    assert reason.endswith(": The specified key does not exist.)")
    empty = f"s3://{bucket}/nothing-here/"
    reason = failure(store, ContainerSpec(IMAGE, model_data_prefix=empty, model_data_compressed=False))
    assert reason.startswith(
        f'Failed to download model data for container "container_1" from URL: "{empty}".'
    )
    assert reason.endswith("(no object has this prefix)")
    web = "https://example.com/model.tar.gz"
    assert failure(store, ContainerSpec(IMAGE, model_data_url=web)).endswith(
        "(the local target reads s3:// and file:// URLs only)"
    )
    not_a_dir = (tmp_path / "nope").as_uri()
    assert failure(
        store, ContainerSpec(IMAGE, model_data_prefix=not_a_dir, model_data_compressed=False)
    ).endswith(f"({tmp_path / 'nope'} is not a directory on this machine)")
    put(aws_env, bucket, "broken/model.tar.gz", b"\x1f\x8b this is not gzip")
    broken = f"s3://{bucket}/broken/model.tar.gz"
    reason = failure(store, ContainerSpec(IMAGE, model_data_url=broken))
    assert reason.startswith(
        f'Failed to extract model data archive for container "container_1" from URL "{broken}". '
        "Please ensure that the object located at the URL is a valid tar.gz archive. (cannot unpack "
    )
    assert (
        not (tmp_path / "state" / "models").exists() or list((tmp_path / "state" / "models").iterdir()) == []
    )
