"""The local SageMaker end to end: unmodified boto3 clients against the real emulator process, endpoints
as real containers on the real engine, model data from file:// and from S3 (moto server)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest
from botocore.exceptions import ClientError, WaiterError

from dockyard.archive import pack
from tests.aws_fixtures import FAKE_KEY, REGION
from tests.emulator_fixtures import EmulatorProcess
from tests.fixture_images import build_fixture_image, remove_fixture_images, write_model

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SAMPLE = b"1,2,3,4\n"
WAIT = {"Delay": 1, "MaxAttempts": 120}
ROLE = "arn:aws:iam::123456789012:role/dockyard-test"


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    yield build_fixture_image(docker_client, base_image, "dockyard")
    remove_fixture_images(docker_client)


def model_archive(directory: Path, weights: list[float]) -> Path:
    source = write_model(directory / "model")
    (source / "weights.json").write_text(json.dumps({"weights": weights}))
    archive = directory / "model.tar.gz"
    pack(source, archive)
    return archive


@pytest.fixture(scope="module")
def model_v1(tmp_path_factory: pytest.TempPathFactory) -> str:
    return model_archive(tmp_path_factory.mktemp("v1"), [1, 2, 3, 4]).as_uri()


@pytest.fixture(scope="module")
def model_v2(tmp_path_factory: pytest.TempPathFactory) -> str:
    return model_archive(tmp_path_factory.mktemp("v2"), [2, 2, 2, 2]).as_uri()


def create_model(sm: Any, name: str, image: str, data_url: str) -> None:
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": data_url,
            "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
        },
        ExecutionRoleArn=ROLE,
    )


def create_config(sm: Any, name: str, variants: list[tuple[str, str, int, float]]) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InstanceType": "ml.t2.medium",
                "InitialInstanceCount": count,
                "InitialVariantWeight": weight,
            }
            for variant, model, count, weight in variants
        ],
    )


def predict(runtime: Any, endpoint: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=SAMPLE, ContentType="text/csv", Accept="text/csv", **extra
    )
    return answer["Body"].read().decode(), answer


def endpoint_containers(client: docker.DockerClient, endpoint: str) -> list[Any]:
    """Every container (running or not) that the emulator started for ``endpoint`` (names are unique)."""
    from dockyard.emulator.sagemaker.instances import LABEL_ENDPOINT

    return list(client.containers.list(all=True, filters={"label": f"{LABEL_ENDPOINT}={endpoint}"}))


def test_create_invoke_update_blue_green_delete(
    emulator: EmulatorProcess,
    sagemaker_client: Any,
    runtime_client: Any,
    docker_client: docker.DockerClient,
    image: str,
    model_v1: str,
    model_v2: str,
) -> None:
    sm, runtime = sagemaker_client, runtime_client
    create_model(sm, "e2e-v1", image, model_v1)
    create_model(sm, "e2e-v2", image, model_v2)
    create_config(sm, "e2e-c1", [("AllTraffic", "e2e-v1", 1, 1.0)])
    create_config(sm, "e2e-c2", [("AllTraffic", "e2e-v2", 2, 1.0)])

    started = time.monotonic()
    arn = sm.create_endpoint(EndpointName="e2e-ep", EndpointConfigName="e2e-c1")["EndpointArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e2e-ep"
    assert sm.describe_endpoint(EndpointName="e2e-ep")["EndpointStatus"] in ("Creating", "InService")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-ep", WaiterConfig=WAIT)
    print(f"CreateEndpoint -> InService: {time.monotonic() - started:.2f} s")

    described = sm.describe_endpoint(EndpointName="e2e-ep")
    variant = described["ProductionVariants"][0]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["CurrentInstanceCount"] == 1
    assert variant["DeployedImages"][0]["SpecifiedImage"] == image
    assert len(endpoint_containers(docker_client, "e2e-ep")) == 1

    body, answer = predict(runtime, "e2e-ep", CustomAttributes="trace=1")
    assert body == "30.0\n"
    assert answer["ContentType"] == "text/csv"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["CustomAttributes"] == "trace=1"

    # The same through the response stream: the container's answer as PayloadPart events.
    streamed = runtime.invoke_endpoint_with_response_stream(
        EndpointName="e2e-ep", Body=SAMPLE, ContentType="text/csv", Accept="text/csv"
    )
    assert streamed["InvokedProductionVariant"] == "AllTraffic"
    parts = [event["PayloadPart"]["Bytes"] for event in streamed["Body"] if "PayloadPart" in event]
    assert b"".join(parts) == b"30.0\n"

    # Blue/green to v2 under continuous load: no request may fail, answers move from v1's to v2's.
    failures: list[str] = []
    answers: list[str] = []
    stop = threading.Event()

    def load() -> None:
        client = emulator.client("sagemaker-runtime")
        while not stop.is_set():
            try:
                answers.append(predict(client, "e2e-ep")[0])
            except Exception as exc:
                failures.append(repr(exc))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        sm.update_endpoint(EndpointName="e2e-ep", EndpointConfigName="e2e-c2")
        assert sm.describe_endpoint(EndpointName="e2e-ep")["EndpointStatus"] in ("Updating", "InService")
        sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-ep", WaiterConfig=WAIT)
        time.sleep(1.0)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert failures == []
    assert set(answers) <= {"30.0\n", "20.0\n"}
    assert answers[-1] == "20.0\n"
    assert predict(runtime, "e2e-ep")[0] == "20.0\n"
    described = sm.describe_endpoint(EndpointName="e2e-ep")
    assert described["EndpointConfigName"] == "e2e-c2"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert len(endpoint_containers(docker_client, "e2e-ep")) == 2  # the old fleet is gone

    sm.delete_endpoint(EndpointName="e2e-ep")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="e2e-ep", WaiterConfig=WAIT)
    assert endpoint_containers(docker_client, "e2e-ep") == []
    with pytest.raises(ClientError) as caught:
        predict(runtime, "e2e-ep")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["Error"]["Message"] == "Endpoint e2e-ep of account 123456789012 not found."


def test_container_error_is_a_model_error(
    sagemaker_client: Any, runtime_client: Any, image: str, model_v1: str
) -> None:
    sm = sagemaker_client
    create_model(sm, "e2e-err", image, model_v1)
    create_config(sm, "e2e-err", [("AllTraffic", "e2e-err", 1, 1.0)])
    sm.create_endpoint(EndpointName="e2e-err", EndpointConfigName="e2e-err")
    try:
        sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-err", WaiterConfig=WAIT)
        with pytest.raises(runtime_client.exceptions.ModelError) as caught:
            runtime_client.invoke_endpoint(
                EndpointName="e2e-err", Body=b"[1]", ContentType="application/json"
            )
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert error["OriginalStatusCode"] == 500
        assert "this model reads text/csv" in error["OriginalMessage"]
        assert error["LogStreamArn"].startswith(
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/e2e-err"
        )
        assert error["Error"]["Message"].startswith("Received server error (500) from primary")
    finally:
        sm.delete_endpoint(EndpointName="e2e-err")
        sm.get_waiter("endpoint_deleted").wait(EndpointName="e2e-err", WaiterConfig=WAIT)


def test_missing_image_fails_the_endpoint(sagemaker_client: Any, runtime_client: Any, model_v1: str) -> None:
    sm = sagemaker_client
    create_model(sm, "e2e-noimage", "dy-e2e-missing/image:none", model_v1)
    create_config(sm, "e2e-noimage", [("AllTraffic", "e2e-noimage", 1, 1.0)])
    sm.create_endpoint(EndpointName="e2e-noimage", EndpointConfigName="e2e-noimage")
    with pytest.raises(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-noimage", WaiterConfig=WAIT)
    described = sm.describe_endpoint(EndpointName="e2e-noimage")
    assert described["EndpointStatus"] == "Failed"
    assert "dy-e2e-missing/image:none" in described["FailureReason"]
    with pytest.raises(ClientError) as caught:
        predict(runtime_client, "e2e-noimage")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    # Failed endpoints can only be deleted.
    with pytest.raises(ClientError) as refused:
        sm.update_endpoint(EndpointName="e2e-noimage", EndpointConfigName="e2e-noimage")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    sm.delete_endpoint(EndpointName="e2e-noimage")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="e2e-noimage", WaiterConfig=WAIT)


def test_s3_model_data_restart_and_self_healing(
    emulator: EmulatorProcess,
    moto_server: str,
    sagemaker_client: Any,
    runtime_client: Any,
    docker_client: docker.DockerClient,
    image: str,
    tmp_path: Path,
) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name=REGION,
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
    )
    s3.create_bucket(Bucket="dy-e2e-models")
    s3.upload_file(str(model_archive(tmp_path, [0, 0, 0, 1])), "dy-e2e-models", "v3/model.tar.gz")
    sm = sagemaker_client
    create_model(sm, "e2e-s3", image, "s3://dy-e2e-models/v3/model.tar.gz")
    create_config(sm, "e2e-s3", [("AllTraffic", "e2e-s3", 1, 1.0)])
    sm.create_endpoint(EndpointName="e2e-s3", EndpointConfigName="e2e-s3")
    try:
        sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-s3", WaiterConfig=WAIT)
        assert predict(runtime_client, "e2e-s3")[0] == "4.0\n"

        # Restarting the emulator loses nothing and restarts nothing: the container is re-adopted.
        before = {c.id for c in endpoint_containers(docker_client, "e2e-s3")}
        emulator.restart()
        sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-s3", WaiterConfig=WAIT)
        assert {c.id for c in endpoint_containers(docker_client, "e2e-s3")} == before
        assert predict(emulator.client("sagemaker-runtime"), "e2e-s3")[0] == "4.0\n"

        # A container that dies is replaced.
        (victim,) = endpoint_containers(docker_client, "e2e-s3")
        victim.kill()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = [c for c in endpoint_containers(docker_client, "e2e-s3") if c.status == "running"]
            if running and running[0].id != victim.id:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the killed instance was not replaced:\n{emulator.log_tail()}")
        sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-s3", WaiterConfig=WAIT)
        deadline = time.monotonic() + 60
        while True:
            try:
                assert predict(emulator.client("sagemaker-runtime"), "e2e-s3")[0] == "4.0\n"
                break
            except ClientError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        sm.delete_endpoint(EndpointName="e2e-s3")
        sm.get_waiter("endpoint_deleted").wait(EndpointName="e2e-s3", WaiterConfig=WAIT)
    assert endpoint_containers(docker_client, "e2e-s3") == []


def test_a_bring_your_own_container_image(
    sagemaker_client: Any,
    runtime_client: Any,
    docker_client: docker.DockerClient,
    base_image: str,
    model_v1: str,
) -> None:
    """AWS's own container shape (nginx → gunicorn → Flask, written from scratch) on the local SageMaker:
    the emulator needs nothing from dockyard's server."""
    image = build_fixture_image(docker_client, base_image, "byoc")
    sm = sagemaker_client
    create_model(sm, "e2e-byoc", image, model_v1)
    create_config(sm, "e2e-byoc", [("AllTraffic", "e2e-byoc", 1, 1.0)])
    sm.create_endpoint(EndpointName="e2e-byoc", EndpointConfigName="e2e-byoc")
    try:
        sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-byoc", WaiterConfig=WAIT)
        assert predict(runtime_client, "e2e-byoc")[0] == "30.0\n"
        with pytest.raises(runtime_client.exceptions.ModelError) as caught:
            runtime_client.invoke_endpoint(
                EndpointName="e2e-byoc", Body=b"[1]", ContentType="application/json"
            )
        assert caught.value.response["OriginalStatusCode"] == 415
        assert "only supports CSV" in caught.value.response["OriginalMessage"]
        assert caught.value.response["Error"]["Message"].startswith(
            "Received client error (415) from primary"
        )
    finally:
        sm.delete_endpoint(EndpointName="e2e-byoc")
        sm.get_waiter("endpoint_deleted").wait(EndpointName="e2e-byoc", WaiterConfig=WAIT)
    assert endpoint_containers(docker_client, "e2e-byoc") == []
