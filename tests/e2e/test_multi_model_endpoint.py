"""Multi-model endpoints on the local SageMaker: boto3's ``invoke_endpoint(TargetModel=...)`` against a
real emulator process, real containers and archives in the emulator's own S3."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from botocore.exceptions import ClientError

from dockyard.archive import pack
from dockyard.emulator.target_models import MAX_LOADED_ENV
from tests.emulator_fixtures import EmulatorProcess, aim_aws_environment_at

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
BUCKET = "dy-mme-models"
# Each model: the dot product of a CSV row with its weights.
MODELS = {"a.tar.gz": [1, 2, 3, 4], "b.tar.gz": [1, 1, 1, 1], "nested/c.tar.gz": [0, 0, 0, 1]}
ANSWERS = {"a.tar.gz": "30.0", "b.tar.gz": "10.0", "nested/c.tar.gz": "4.0"}


@pytest.fixture(scope="module")
def mme_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator of its own (its own S3), holding at most 2 models per container."""
    state_dir = tmp_path_factory.mktemp("multi-model") / "state"
    process = EmulatorProcess(state_dir, "")
    process.env[MAX_LOADED_ENV] = "2"
    process.start()
    yield process
    process.stop()
    from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

    remove_fleet_containers(state_dir)


def _upload_models(emulator: EmulatorProcess, root: Path) -> None:
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key, weights in MODELS.items():
        directory = root / key.replace("/", "_")
        directory.mkdir(parents=True)
        (directory / "weights.json").write_text(json.dumps({"weights": weights}))
        archive = root / f"{key.replace('/', '_')}.archive"
        pack(directory, archive)
        s3.upload_file(str(archive), BUCKET, f"models/{key}")


def _wait_in_service(sagemaker: Any, name: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
        if status == "InService":
            return
        assert status == "Creating", sagemaker.describe_endpoint(EndpointName=name).get("FailureReason")
        time.sleep(0.5)
    pytest.fail(f"{name} not InService within 180 s")


def _container_models(client: docker.DockerClient, endpoint: str) -> list[str]:
    """The model names the endpoint's container holds, asked of the container itself."""
    (container,) = client.containers.list(filters={"label": f"dockyard.endpoint={endpoint}"})
    port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    listed = httpx.get(f"http://127.0.0.1:{port}/models", timeout=10).json()["models"]
    return sorted(model["modelName"] for model in listed)


def test_target_models_load_on_first_use_and_the_least_recent_is_unloaded(
    mme_emulator: EmulatorProcess,
    docker_client: docker.DockerClient,
    fixture_image: Callable[[str], str],
    tmp_path: Path,
) -> None:
    _upload_models(mme_emulator, tmp_path)
    sagemaker = mme_emulator.client("sagemaker")
    runtime = mme_emulator.client("sagemaker-runtime", read_timeout=90)
    name = f"dy-mme-{uuid.uuid4().hex[:6]}"
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": fixture_image("dockyard"),
            "Mode": "MultiModel",
            "ModelDataUrl": f"s3://{BUCKET}/models/",
        },
    )
    assert sagemaker.describe_model(ModelName=name)["PrimaryContainer"]["Mode"] == "MultiModel"
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
    try:
        _wait_in_service(sagemaker, name)

        def invoke(target: str) -> str:
            answer = runtime.invoke_endpoint(
                EndpointName=name, TargetModel=target, ContentType="text/csv", Body=b"1,2,3,4\n"
            )
            return str(answer["Body"].read().decode().strip())

        for target in ("a.tar.gz", "b.tar.gz", "a.tar.gz"):
            assert invoke(target) == ANSWERS[target]
        assert len(_container_models(docker_client, name)) == 2
        # A third model: the container holds two at most, so b (the least recently used) goes.
        assert invoke("nested/c.tar.gz") == ANSWERS["nested/c.tar.gz"]
        held = _container_models(docker_client, name)
        assert len(held) == 2
        assert invoke("b.tar.gz") == ANSWERS["b.tar.gz"]  # loaded again on demand
        assert invoke("a.tar.gz") == ANSWERS["a.tar.gz"]

        with pytest.raises(ClientError) as missing:
            invoke("absent.tar.gz")
        assert missing.value.response["Error"]["Code"] == "ValidationError"
        assert missing.value.response["Error"]["Message"] == (
            f"Failed to download model data(bucket: {BUCKET}, key: models/absent.tar.gz). Please ensure that "
            "there is an object located at the URL and that the role passed to CreateModel has permissions "
            "to download the object."
        )
        with pytest.raises(ClientError) as escaping:
            invoke("../other/a.tar.gz")
        assert escaping.value.response["Error"]["Code"] == "ValidationError"
        assert (
            "must be the key of a model archive relative to the endpoint's model data prefix"
            in (escaping.value.response["Error"]["Message"])
        )
        with pytest.raises(ClientError) as untargeted:
            runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=b"1,2,3,4\n")
        assert untargeted.value.response["Error"]["Code"] == "ValidationError"
    finally:
        sagemaker.delete_endpoint(EndpointName=name)


def test_sagemaker_sdk_multi_data_model(
    mme_emulator: EmulatorProcess,
    fixture_image: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK's MultiDataModel, unmodified: add_model uploads to the prefix, predict(target_model=...)."""
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # the SDK's own notice, not about dockyard
    import sagemaker
    from sagemaker.multidatamodel import MultiDataModel
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    aim_aws_environment_at(mme_emulator, monkeypatch, tmp_path)
    bucket = "dy-mme-sdk"
    mme_emulator.client("s3").create_bucket(Bucket=bucket)
    session = sagemaker.Session(default_bucket=bucket)
    name = f"dy-mdm-{uuid.uuid4().hex[:6]}"
    model = MultiDataModel(
        name=name,
        model_data_prefix=f"s3://{bucket}/mdm/",
        image_uri=fixture_image("dockyard"),
        role=ROLE,
        sagemaker_session=session,
        predictor_cls=Predictor,
    )
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "weights.json").write_text(json.dumps({"weights": [2, 0, 0, 0]}))
    pack(directory, tmp_path / "double.tar.gz")
    model.add_model(str(tmp_path / "double.tar.gz"), "double.tar.gz")
    assert list(model.list_models()) == ["double.tar.gz"]
    predictor = model.deploy(
        initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=name, serializer=CSVSerializer()
    )
    assert predictor is not None
    try:
        answer = predictor.predict([1, 2, 3, 4], target_model="double.tar.gz")
        assert answer.decode().strip() == "2.0"
    finally:
        predictor.delete_endpoint()
