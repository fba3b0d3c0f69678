"""Inference pipelines on the local SageMaker: boto3 against a real emulator process; each container of
the pipeline is a Docker container of its own."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError

from dockyard.archive import pack
from tests.emulator_fixtures import EmulatorProcess

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
BUCKET = "dy-pipeline-models"


@pytest.fixture(scope="module")
def pipeline_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    state_dir = tmp_path_factory.mktemp("pipelines") / "state"
    process = EmulatorProcess(state_dir, "")
    process.start()
    process.client("s3").create_bucket(Bucket=BUCKET)
    yield process
    process.stop()
    from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

    remove_fleet_containers(state_dir)


def _archive(emulator: EmulatorProcess, root: Path, key: str, weights: list[int]) -> str:
    directory = root / key
    directory.mkdir(parents=True)
    (directory / "weights.json").write_text(json.dumps({"weights": weights}))
    pack(directory, root / f"{key}.tar.gz")
    emulator.client("s3").upload_file(str(root / f"{key}.tar.gz"), BUCKET, f"{key}.tar.gz")
    return f"s3://{BUCKET}/{key}.tar.gz"


def _deploy(emulator: EmulatorProcess, name: str, containers: list[dict[str, Any]], mode: str) -> Any:
    sagemaker = emulator.client("sagemaker")
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        Containers=containers,
        InferenceExecutionConfig={"Mode": mode},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        described = sagemaker.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] == "InService":
            return described
        assert described["EndpointStatus"] == "Creating", described.get("FailureReason")
        time.sleep(0.5)
    pytest.fail(f"{name} not InService within 180 s")


def test_serial_and_direct_pipelines(
    pipeline_emulator: EmulatorProcess,
    docker_client: docker.DockerClient,
    fixture_image: Callable[[str], str],
    tmp_path: Path,
) -> None:
    image = fixture_image("dockyard")
    first = {
        "Image": image,
        "ContainerHostname": "dot",
        "ModelDataUrl": _archive(pipeline_emulator, tmp_path, "dot", [1, 2, 3, 4]),
    }
    second = {
        "Image": image,
        "ContainerHostname": "double",
        "ModelDataUrl": _archive(pipeline_emulator, tmp_path, "double", [2]),
    }
    runtime = pipeline_emulator.client("sagemaker-runtime", read_timeout=90)
    sagemaker = pipeline_emulator.client("sagemaker")
    serial = f"dy-pipe-s-{uuid.uuid4().hex[:6]}"
    direct = f"dy-pipe-d-{uuid.uuid4().hex[:6]}"
    try:
        described = _deploy(pipeline_emulator, serial, [first, second], "Serial")
        assert [variant["VariantName"] for variant in described["ProductionVariants"]] == ["AllTraffic"]
        # Each container of the instance is a container of its own.
        assert len(docker_client.containers.list(filters={"label": f"dockyard.endpoint={serial}"})) == 2
        answer = runtime.invoke_endpoint(EndpointName=serial, ContentType="text/csv", Body=b"1,2,3,4\n")
        assert answer["Body"].read().decode().strip() == "60.0"  # (1·1+2·2+3·3+4·4) · 2
        assert answer["ContentType"] == "text/csv"

        _deploy(pipeline_emulator, direct, [first, second], "Direct")

        def invoke(hostname: str | None, body: bytes) -> str:
            extra = {} if hostname is None else {"TargetContainerHostname": hostname}
            answer = runtime.invoke_endpoint(EndpointName=direct, ContentType="text/csv", Body=body, **extra)
            return str(answer["Body"].read().decode().strip())

        assert invoke("double", b"5\n") == "10.0"
        assert invoke("dot", b"1,1,1,1\n") == "10.0"
        with pytest.raises(ClientError) as unnamed:
            invoke(None, b"5\n")
        assert unnamed.value.response["Error"]["Code"] == "ValidationError"
        assert unnamed.value.response["Error"]["Message"] == (
            "The endpoint runs an inference pipeline in Direct mode: TargetContainerHostname must name "
            "one of its containers (dot, double)."
        )
        with pytest.raises(ClientError) as unknown:
            invoke("triple", b"5\n")
        assert unknown.value.response["Error"]["Message"] == (
            "TargetContainerHostname triple is not a container of the endpoint's pipeline (dot, double)."
        )
    finally:
        for name in (serial, direct):
            with contextlib.suppress(ClientError):  # one that was never created
                sagemaker.delete_endpoint(EndpointName=name)
