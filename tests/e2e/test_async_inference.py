"""Asynchronous inference end to end: unmodified boto3 (sagemaker, sagemaker-runtime, s3) against a real
emulator process, a real container, input and results in the emulator's S3; the queue survives a restart."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError

from dockyard.archive import pack
from tests.aws_fixtures import FAKE_KEY, REGION
from tests.emulator_fixtures import EmulatorProcess, own_emulator
from tests.fixture_images import build_fixture_image, remove_fixture_images, write_model

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WAIT = {"Delay": 1, "MaxAttempts": 120}
ROLE = "arn:aws:iam::123456789012:role/dockyard-test"
BUCKET = "async-bucket"


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    yield build_fixture_image(docker_client, base_image, "dockyard")
    remove_fixture_images(docker_client)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[EmulatorProcess]:
    """An emulator of this module's own: the restart test stops it."""
    with own_emulator(tmp_path_factory.mktemp("async"), moto_server) as process:
        yield process


@pytest.fixture(scope="module")
def endpoint(local: EmulatorProcess, image: str) -> str:
    """An async endpoint (one instance, one request at a time) on the dockyard fixture image."""
    source = write_model(local.state_dir.parent / "model")
    archive = local.state_dir.parent / "model.tar.gz"
    pack(source, archive)
    sm, s3 = local.client("sagemaker"), local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    sm.create_model(
        ModelName="async-m",
        PrimaryContainer={"Image": image, "ModelDataUrl": archive.as_uri()},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName="async-c",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "async-m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        AsyncInferenceConfig={
            "OutputConfig": {
                "S3OutputPath": f"s3://{BUCKET}/results/",
                "S3FailurePath": f"s3://{BUCKET}/failures",
            },
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 1},
        },
    )
    sm.create_endpoint(EndpointName="async-ep", EndpointConfigName="async-c")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="async-ep", WaiterConfig=WAIT)
    return "async-ep"


def wait_for_object(s3: Any, uri: str, timeout: float = 60) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_request_is_answered_in_s3(local: EmulatorProcess, endpoint: str) -> None:
    sm, s3, runtime = local.client("sagemaker"), local.client("s3"), local.client("sagemaker-runtime")
    described = sm.describe_endpoint_config(EndpointConfigName="async-c")["AsyncInferenceConfig"]
    assert described["OutputConfig"]["S3FailurePath"] == f"s3://{BUCKET}/failures"
    assert described["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 1}

    s3.put_object(Bucket=BUCKET, Key="in/rows.csv", Body=b"1,2,3,4\n1,1,1,1\n")
    answer = runtime.invoke_endpoint_async(
        EndpointName=endpoint,
        InputLocation=f"s3://{BUCKET}/in/rows.csv",
        ContentType="text/csv",
        Accept="text/csv",
        InferenceId="first",
        CustomAttributes="trace=1",
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["InferenceId"] == "first"
    assert answer["OutputLocation"] == f"s3://{BUCKET}/results/first.out"
    assert answer["FailureLocation"] == f"s3://{BUCKET}/failures/first-error.out"
    assert wait_for_object(s3, answer["OutputLocation"]) == b"30.0\n10.0\n"
    head = s3.head_object(Bucket=BUCKET, Key="results/first.out")
    assert head["ContentType"].startswith("text/csv")

    # Without an InferenceId, one is made up (a UUID) and names the output.
    generated = runtime.invoke_endpoint_async(
        EndpointName=endpoint, InputLocation=f"s3://{BUCKET}/in/rows.csv", ContentType="text/csv"
    )
    assert len(generated["InferenceId"]) == 36
    assert generated["OutputLocation"].endswith(f"/{generated['InferenceId']}.out")
    assert wait_for_object(s3, generated["OutputLocation"]) == b"30.0\n10.0\n"


def test_failures_go_to_the_failure_path(local: EmulatorProcess, endpoint: str) -> None:
    s3, runtime = local.client("s3"), local.client("sagemaker-runtime")
    s3.put_object(Bucket=BUCKET, Key="in/bad.csv", Body=b"1,2\n")  # the model wants four columns
    answer = runtime.invoke_endpoint_async(
        EndpointName=endpoint, InputLocation=f"s3://{BUCKET}/in/bad.csv", ContentType="text/csv"
    )
    error = wait_for_object(s3, answer["FailureLocation"]).decode()
    assert "zip()" in error or "argument" in error, error

    missing = runtime.invoke_endpoint_async(
        EndpointName=endpoint, InputLocation=f"s3://{BUCKET}/in/none.csv", ContentType="text/csv"
    )
    error = wait_for_object(s3, missing["FailureLocation"]).decode()
    assert error.startswith(f"The input s3://{BUCKET}/in/none.csv could not be read"), error


def test_bad_requests_are_refused_at_once(local: EmulatorProcess, endpoint: str, image: str) -> None:
    runtime, sm = local.client("sagemaker-runtime"), local.client("sagemaker")
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint_async(EndpointName=endpoint, InputLocation="https://example.com/x")
    assert raised.value.response["Error"]["Message"] == (
        "InputLocation 'https://example.com/x' is not an S3 URI: give the input object as s3://bucket/key."
    )
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint_async(EndpointName="nope", InputLocation=f"s3://{BUCKET}/in/rows.csv")
    assert raised.value.response["Error"]["Message"] == "Endpoint nope of account 123456789012 not found."
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint_async(
            EndpointName=endpoint, InputLocation=f"s3://{BUCKET}/x", S3OutputPathExtension="sub"
        )
    assert raised.value.response["Error"]["Message"].startswith(
        "S3OutputPathExtension is not supported by the local SageMaker (dockyard emulator) yet"
    )
    with pytest.raises(ClientError) as raised:
        sm.create_endpoint_config(
            EndpointConfigName="async-bad",
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": "async-m",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "https://example.com/out"}},
        )
    assert raised.value.response["Error"]["Message"] == (
        "AsyncInferenceConfig.OutputConfig.S3OutputPath 'https://example.com/out' is not an S3 URI "
        "(s3://bucket/prefix)."
    )


def test_a_real_time_endpoint_refuses_async_requests(local: EmulatorProcess, endpoint: str) -> None:
    sm, runtime = local.client("sagemaker"), local.client("sagemaker-runtime")
    sm.create_endpoint_config(
        EndpointConfigName="sync-c",
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": "async-m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName="sync-ep", EndpointConfigName="sync-c")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="sync-ep", WaiterConfig=WAIT)
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint_async(EndpointName="sync-ep", InputLocation=f"s3://{BUCKET}/in/rows.csv")
    assert raised.value.response["Error"]["Message"].startswith(
        "Endpoint sync-ep is not an asynchronous endpoint: its endpoint configuration has no "
        "AsyncInferenceConfig."
    )
    sm.delete_endpoint(EndpointName="sync-ep")


def test_accepted_requests_survive_a_restart(local: EmulatorProcess, endpoint: str) -> None:
    s3, runtime = local.client("s3"), local.client("sagemaker-runtime")
    # Each request held a second in the container: with one request at a time, most are still queued
    # when the emulator stops (the custom attribute is stored with the request and sent again).
    s3.put_object(Bucket=BUCKET, Key="in/many.csv", Body=b"1,2,3,4\n" * 1_000)
    answers = [
        runtime.invoke_endpoint_async(
            EndpointName=endpoint,
            InputLocation=f"s3://{BUCKET}/in/many.csv",
            ContentType="text/csv",
            CustomAttributes="hold_seconds=1",
            InferenceId=f"restart-{n}",
        )
        for n in range(8)
    ]
    local.stop()
    with closing(sqlite3.connect(local.state_dir / "async-inference.db")) as db:
        queued = db.execute("SELECT count(*) FROM requests").fetchone()[0]
    assert queued > 0  # the restart really interrupts the queue
    local.start()
    s3 = local.client("s3")
    for answer in answers:
        assert wait_for_object(s3, answer["OutputLocation"], timeout=120) == b"30.0\n" * 1_000
    with closing(sqlite3.connect(local.state_dir / "async-inference.db")) as db:
        assert db.execute("SELECT count(*) FROM requests").fetchone()[0] == 0


def test_the_sdks_async_predictor(
    local: EmulatorProcess, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from sagemaker.async_inference import WaiterConfig
    from sagemaker.predictor import Predictor
    from sagemaker.predictor_async import AsyncPredictor
    from sagemaker.serializers import CSVSerializer
    from sagemaker.session import Session

    from dockyard.lifecycle.sagemaker_session import EmulatorBotoSession

    boto_session = EmulatorBotoSession(
        local.url, aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_KEY, region_name=REGION
    )
    session = Session(boto_session=boto_session, default_bucket=BUCKET)
    predictor = AsyncPredictor(Predictor(endpoint, sagemaker_session=session, serializer=CSVSerializer()))
    waiter = WaiterConfig(max_attempts=20, delay=1)
    # The data is uploaded to the session's default bucket, then the result is awaited in S3.
    assert predictor.predict(data=[1, 2, 3, 4], waiter_config=waiter) == b"30.0\n"
    local.client("s3").put_object(Bucket=BUCKET, Key="in/sdk.csv", Body=b"1,2,3,4\n1,1,1,1\n")
    response = predictor.predict_async(
        input_path=f"s3://{BUCKET}/in/sdk.csv", initial_args={"ContentType": "text/csv"}
    )
    assert response.get_result(waiter) == b"30.0\n10.0\n"
    # The SDK polls the failure location in a thread of its own until its waiter gives up: let those
    # end here, while the emulator still answers.
    for thread in threading.enumerate():
        if getattr(getattr(thread, "_target", None), "__name__", "") in (
            "check_failure_file",
            "check_output_file",
        ):
            thread.join(timeout=30)
