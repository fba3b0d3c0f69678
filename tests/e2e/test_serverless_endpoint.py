"""Serverless variants on the local SageMaker: boto3 against a real emulator process and real containers,
started on demand with the memory size as their cap, throttled past MaxConcurrency, gone when idle."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError

from dockyard.archive import pack
from dockyard.emulator.serverless import IDLE_ENV
from tests.emulator_fixtures import EmulatorProcess, aim_aws_environment_at

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
BUCKET = "dy-serverless-models"
IDLE = 4.0


@pytest.fixture(scope="module")
def serverless_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    state_dir = tmp_path_factory.mktemp("serverless") / "state"
    process = EmulatorProcess(state_dir, "")
    process.env[IDLE_ENV] = str(IDLE)
    process.start()
    yield process
    process.stop()
    from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

    remove_fleet_containers(state_dir)


def _containers(client: docker.DockerClient, endpoint: str) -> list[Any]:
    return list(client.containers.list(filters={"label": f"dockyard.endpoint={endpoint}"}))


def _wait_in_service(sagemaker: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] == "InService":
            return described
        assert described["EndpointStatus"] == "Creating", described.get("FailureReason")
        time.sleep(0.3)
    pytest.fail(f"{name} not InService within 120 s")


def test_serverless_variant_starts_cold_throttles_and_scales_to_zero(
    serverless_emulator: EmulatorProcess,
    docker_client: docker.DockerClient,
    fixture_image: Callable[[str], str],
    tmp_path: Path,
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.json").write_text(json.dumps({"weights": [1, 2, 3, 4]}))
    pack(model, tmp_path / "model.tar.gz")
    s3 = serverless_emulator.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(tmp_path / "model.tar.gz"), BUCKET, "model.tar.gz")
    sagemaker = serverless_emulator.client("sagemaker")
    runtime = serverless_emulator.client("sagemaker-runtime", read_timeout=90)
    name = f"dy-sls-{uuid.uuid4().hex[:6]}"
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": fixture_image("dockyard"), "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"},
    )
    config = {"MemorySizeInMB": 2048, "MaxConcurrency": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "ServerlessConfig": config}],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    try:
        (variant,) = _wait_in_service(sagemaker, name)["ProductionVariants"]
        assert variant["CurrentServerlessConfig"] == config
        assert variant["DesiredServerlessConfig"] == config
        assert "CurrentInstanceCount" not in variant
        assert _containers(docker_client, name) == []  # nothing runs before the first request

        def invoke(**extra: str) -> str:
            answer = runtime.invoke_endpoint(
                EndpointName=name, ContentType="text/csv", Body=b"1,2,3,4\n", **extra
            )
            return str(answer["Body"].read().decode())

        started = time.monotonic()
        assert invoke().strip() == "30.0"
        cold = time.monotonic() - started
        (container,) = _containers(docker_client, name)
        assert container.attrs["HostConfig"]["Memory"] == 2048 * 1024 * 1024
        started = time.monotonic()
        assert invoke().strip() == "30.0"
        warm = time.monotonic() - started
        assert warm < cold

        # MaxConcurrency 1: while one request is held in the container, another is refused. The held
        # one is sent first; requests that arrive before it has reached the container are answered.
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(invoke, CustomAttributes="hold_seconds=6")
            refused: ClientError | None = None
            deadline = time.monotonic() + 5
            while refused is None and time.monotonic() < deadline and not held.done():
                try:
                    invoke()
                except ClientError as exc:
                    refused = exc
            assert held.result(timeout=60).strip() == "30.0"
        assert refused is not None, "no request was refused while another was in flight"
        assert refused.response["Error"]["Code"] == "ThrottlingException"
        assert refused.response["Error"]["Message"] == (
            f"The endpoint {name} is already serving its MaxConcurrency of 1 concurrent requests. "
            "Please try again."
        )
        assert invoke().strip() == "30.0"  # the slot is free again

        # Idle past the period: scaled to zero; the next request starts a container again.
        deadline = time.monotonic() + IDLE + 15
        while _containers(docker_client, name) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _containers(docker_client, name) == []
        assert invoke().strip() == "30.0"
        assert len(_containers(docker_client, name)) == 1
    finally:
        sagemaker.delete_endpoint(EndpointName=name)


def test_sagemaker_sdk_serverless_inference_config(
    serverless_emulator: EmulatorProcess,
    fixture_image: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK's Model.deploy(serverless_inference_config=...), unmodified, against the emulator."""
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # the SDK's own notice, not about dockyard
    import sagemaker
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer
    from sagemaker.serverless import ServerlessInferenceConfig

    aim_aws_environment_at(serverless_emulator, monkeypatch, tmp_path)
    bucket = "dy-serverless-sdk"
    serverless_emulator.client("s3").create_bucket(Bucket=bucket)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.json").write_text(json.dumps({"weights": [1, 1, 1, 1]}))
    pack(model_dir, tmp_path / "model.tar.gz")
    session = sagemaker.Session(default_bucket=bucket)
    model_data = session.upload_data(str(tmp_path / "model.tar.gz"), key_prefix="sdk")
    name = f"dy-sls-sdk-{uuid.uuid4().hex[:6]}"
    model = Model(
        image_uri=fixture_image("dockyard"),
        model_data=model_data,
        role=ROLE,
        sagemaker_session=session,
        predictor_cls=Predictor,
    )
    predictor = model.deploy(
        serverless_inference_config=ServerlessInferenceConfig(memory_size_in_mb=1024, max_concurrency=2),
        endpoint_name=name,
        serializer=CSVSerializer(),
    )
    assert predictor is not None
    try:
        assert predictor.predict([1, 2, 3, 4]).decode().strip() == "10.0"
        (variant,) = session.sagemaker_client.describe_endpoint(EndpointName=name)["ProductionVariants"]
        assert variant["CurrentServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 2}
    finally:
        predictor.delete_endpoint()
