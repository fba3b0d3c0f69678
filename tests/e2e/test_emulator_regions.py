"""One endpoint name in two regions on the real emulator process, through unmodified boto3 clients whose
only difference is ``region_name`` (the emulator reads the region from each request's signature): two
endpoints with their own models, containers and answers; deleting one leaves the other serving."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest
from botocore.exceptions import ClientError

from dockyard.archive import pack
from dockyard.emulator.sagemaker.instances import LABEL_EMULATOR, LABEL_ENDPOINT, LABEL_REGION, emulator_id
from tests.aws_fixtures import FAKE_KEY
from tests.emulator_fixtures import EmulatorProcess
from tests.fixture_images import build_fixture_image, remove_fixture_images, write_model

pytestmark = [pytest.mark.docker, pytest.mark.slow]

NAME = "e2e-regions"
WAIT = {"Delay": 1, "MaxAttempts": 120}
# The fixture image's model is a dot product with its weights: each region's model answers differently.
WEIGHTS = {"us-east-1": [1, 2, 3, 4], "eu-west-1": [2, 2, 2, 2]}
ANSWERS = {"us-east-1": "30.0\n", "eu-west-1": "20.0\n"}


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    yield build_fixture_image(docker_client, base_image, "dockyard")
    remove_fixture_images(docker_client)


def client(emulator: EmulatorProcess, service: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=emulator.url,
        region_name=region,
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
    )


def deploy(sm: Any, image: str, model_dir: Path, weights: list[int]) -> None:
    source = write_model(model_dir / "model")
    (source / "weights.json").write_text(json.dumps({"weights": weights}))
    pack(source, model_dir / "model.tar.gz")
    sm.create_model(
        ModelName=NAME,
        PrimaryContainer={"Image": image, "ModelDataUrl": (model_dir / "model.tar.gz").as_uri()},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/dockyard-test",
    )
    variant = {"VariantName": "AllTraffic", "ModelName": NAME, "InstanceType": "ml.t2.medium"}
    sm.create_endpoint_config(
        EndpointConfigName=NAME, ProductionVariants=[{**variant, "InitialInstanceCount": 1}]
    )
    sm.create_endpoint(EndpointName=NAME, EndpointConfigName=NAME)


def predict(runtime: Any) -> str:
    answer = runtime.invoke_endpoint(
        EndpointName=NAME, Body=b"1,2,3,4\n", ContentType="text/csv", Accept="text/csv"
    )
    body: str = answer["Body"].read().decode()
    return body


def test_one_endpoint_name_in_two_regions(
    emulator: EmulatorProcess, docker_client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    sm = {region: client(emulator, "sagemaker", region) for region in WEIGHTS}
    runtime = {region: client(emulator, "sagemaker-runtime", region) for region in WEIGHTS}
    labels = [f"{LABEL_EMULATOR}={emulator_id(emulator.state_dir)}", f"{LABEL_ENDPOINT}={NAME}"]

    def regions_running() -> list[str]:
        found = docker_client.api.containers(all=True, filters={"label": labels})
        return sorted(container["Labels"][LABEL_REGION] for container in found)

    try:
        for region, weights in WEIGHTS.items():
            deploy(sm[region], image, tmp_path / region, weights)
        for region in WEIGHTS:
            sm[region].get_waiter("endpoint_in_service").wait(EndpointName=NAME, WaiterConfig=WAIT)
            arn = sm[region].describe_endpoint(EndpointName=NAME)["EndpointArn"]
            assert arn == f"arn:aws:sagemaker:{region}:123456789012:endpoint/{NAME}"
        assert regions_running() == sorted(WEIGHTS)  # one container each
        for region, expected in ANSWERS.items():
            assert [predict(runtime[region]) for _ in range(5)] == [expected] * 5

        sm["eu-west-1"].delete_endpoint(EndpointName=NAME)
        sm["eu-west-1"].get_waiter("endpoint_deleted").wait(EndpointName=NAME, WaiterConfig=WAIT)
        assert sm["us-east-1"].describe_endpoint(EndpointName=NAME)["EndpointStatus"] == "InService"
        assert regions_running() == ["us-east-1"]
        assert predict(runtime["us-east-1"]) == ANSWERS["us-east-1"]
        with pytest.raises(ClientError) as caught:
            predict(runtime["eu-west-1"])
        assert caught.value.response["Error"]["Code"] == "ValidationError"
        assert (
            caught.value.response["Error"]["Message"] == f"Endpoint {NAME} of account 123456789012 not found."
        )
    finally:
        # What is left goes with the session's emulator; other tests must not see these endpoints.
        for region in WEIGHTS:
            with contextlib.suppress(ClientError):
                sm[region].delete_endpoint(EndpointName=NAME)
