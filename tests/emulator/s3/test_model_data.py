"""The emulator's model-data path reads its own S3 by default: straight from the state directory (no
HTTP, no credentials), and a real endpoint deploys from an ``s3://`` URL uploaded with boto3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.emulator.sagemaker.deployment import ContainerSpec
from dockyard.emulator.sagemaker.model_data import ModelDataCache, ModelDataError
from tests.aws_fixtures import REGION
from tests.emulator.runtime.fleet_kit import model_archive
from tests.emulator_fixtures import EmulatorProcess
from tests.fixture_images import build_fixture_image, remove_fixture_images

IMAGE = "dy-unused:latest"


def test_s3_model_data_is_read_from_the_local_s3(
    s3_emulator: EmulatorProcess, s3: Any, bucket: str, tmp_path: Path
) -> None:
    archive = model_archive(tmp_path, [5, 6, 7, 8])
    s3.upload_file(str(archive), bucket, "m/model.tar.gz")
    s3.put_object(Bucket=bucket, Key="tree/weights.json", Body=b'{"weights": [1]}')
    s3.put_object(Bucket=bucket, Key="tree/sub/notes.txt", Body=b"notes")
    data = ModelDataCache(s3_emulator.state_dir)  # no endpoint configured: the emulator's own S3

    unpacked = data.prepare(ContainerSpec(IMAGE, model_data_url=f"s3://{bucket}/m/model.tar.gz"), REGION)
    assert unpacked is not None
    assert json.loads((unpacked / "weights.json").read_text()) == {"weights": [5, 6, 7, 8]}
    tree = data.prepare(
        ContainerSpec(IMAGE, model_data_prefix=f"s3://{bucket}/tree/", model_data_compressed=False), REGION
    )
    assert tree is not None
    assert sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file()) == [
        "sub/notes.txt",
        "weights.json",
    ]

    missing = f"s3://{bucket}/absent/model.tar.gz"
    with pytest.raises(ModelDataError) as caught:
        data.prepare(ContainerSpec(IMAGE, model_data_url=missing), REGION)
    assert caught.value.reason.startswith(
        f'Failed to download model data for container "container_1" from URL: "{missing}".'
    )
    assert caught.value.reason.endswith(
        "(An error occurred (NoSuchKey) when calling the GetObject operation: "
        "The specified key does not exist.)"
    )
    with pytest.raises(ModelDataError) as caught:
        data.prepare(ContainerSpec(IMAGE, model_data_url="s3://dy-no-bucket/model.tar.gz"), REGION)
    assert caught.value.reason.endswith(
        "(An error occurred (NoSuchBucket) when calling the GetObject operation: "
        "The specified bucket does not exist)"
    )


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    yield build_fixture_image(docker_client, base_image, "dockyard")
    remove_fixture_images(docker_client)


@pytest.mark.docker
@pytest.mark.slow
def test_an_endpoint_deploys_from_the_emulators_s3(
    s3_emulator: EmulatorProcess, s3: Any, bucket: str, image: str, tmp_path: Path
) -> None:
    s3.upload_file(str(model_archive(tmp_path, [0, 0, 1, 0])), bucket, "models/model.tar.gz")
    sm = s3_emulator.client("sagemaker")
    runtime = s3_emulator.client("sagemaker-runtime", read_timeout=90)
    sm.create_model(
        ModelName="dy-s3-local",
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": f"s3://{bucket}/models/model.tar.gz",
            "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
        },
        ExecutionRoleArn="arn:aws:iam::123456789012:role/dockyard-test",
    )
    sm.create_endpoint_config(
        EndpointConfigName="dy-s3-local",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "dy-s3-local",
                "InstanceType": "ml.t2.medium",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName="dy-s3-local", EndpointConfigName="dy-s3-local")
    wait = {"Delay": 1, "MaxAttempts": 120}
    try:
        sm.get_waiter("endpoint_in_service").wait(EndpointName="dy-s3-local", WaiterConfig=wait)
        answer = runtime.invoke_endpoint(
            EndpointName="dy-s3-local", Body=b"1,2,3,4\n", ContentType="text/csv", Accept="text/csv"
        )
        assert answer["Body"].read().decode() == "3.0\n"
    finally:
        sm.delete_endpoint(EndpointName="dy-s3-local")
        sm.get_waiter("endpoint_deleted").wait(EndpointName="dy-s3-local", WaiterConfig=wait)
