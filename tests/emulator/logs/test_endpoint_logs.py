"""An endpoint whose image exists only in the engine under its ECR URI reaches InService, reports its
ResolvedImage as SageMaker does, and its container's real log lines read back through CloudWatch Logs
(boto3 and the AWS CLI); one whose ECR image exists nowhere fails with SageMaker's FailureReason."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from dockyard.emulator.ecr.uris import missing_image_reason
from tests.aws_fixtures import REGION
from tests.emulator.routing.aws_cli import aws_json
from tests.emulator_fixtures import EmulatorProcess
from tests.fixture_images import build_fixture_image, remove_fixture_images

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REGISTRY = f"123456789012.dkr.ecr.{REGION}.amazonaws.com"
WAIT = {"Delay": 1, "MaxAttempts": 120}
ROLE = "arn:aws:iam::123456789012:role/dockyard-test"


@pytest.fixture(scope="module")
def ecr_image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    """The faulty fixture (a CSV echo server) tagged with an ECR URI, and only there."""
    source = build_fixture_image(docker_client, base_image, "faulty")
    repository = f"{REGISTRY}/dy-ecr-logs/{secrets.token_hex(4)}"
    docker_client.images.get(source).tag(repository, "v1")
    yield f"{repository}:v1"
    docker_client.images.remove(f"{repository}:v1", force=True)
    remove_fixture_images(docker_client)


def _deploy(sm: Any, name: str, image: str) -> None:
    sm.create_model(ModelName=name, PrimaryContainer={"Image": image}, ExecutionRoleArn=ROLE)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.t2.medium",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _cleanup(sm: Any, name: str) -> None:
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=WAIT)
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_model(ModelName=name)


def _wait_for_line(logs: Any, group: str, text: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        events = logs.filter_log_events(logGroupName=group, filterPattern=f'"{text}"')["events"]
        if events or time.monotonic() > deadline:
            return list(events)
        time.sleep(0.5)


def test_ecr_image_from_the_engine_serves_and_logs(
    emulator: EmulatorProcess,
    sagemaker_client: Any,
    runtime_client: Any,
    ecr_image: str,
    docker_client: docker.DockerClient,
) -> None:
    sm, name = sagemaker_client, "ecr-logs-ep"
    started_ms = int(time.time() * 1000) - 1000
    _deploy(sm, name, ecr_image)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=WAIT)
    [deployed] = sm.describe_endpoint(EndpointName=name)["ProductionVariants"][0]["DeployedImages"]
    assert deployed["SpecifiedImage"] == ecr_image
    repository = ecr_image.rsplit(":", 1)[0]
    assert deployed["ResolvedImage"] == f"{repository}@{docker_client.images.get(ecr_image).id}"
    answer = runtime_client.invoke_endpoint(EndpointName=name, Body=b"1,2\n", ContentType="text/csv")
    assert answer["Body"].read() == b"1,2\n"

    logs, group = emulator.client("logs"), f"/aws/sagemaker/Endpoints/{name}"
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/Endpoints/ecr-logs")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    variant, _, instance = stream["logStreamName"].partition("/")
    assert variant == "AllTraffic"
    assert instance
    events = _wait_for_line(logs, group, "POST /invocations")
    assert events, "the invocation's access-log line never reached the log stream"
    assert events[0]["logStreamName"] == stream["logStreamName"]
    assert events[0]["timestamp"] >= started_ms - 60_000  # the line's own stamp (seconds resolution)

    # What `aws logs tail GROUP` (AWS CLI v2) does: FilterLogEvents from a start time; v1 has the call.
    tailed = aws_json(
        emulator,
        "logs",
        "filter-log-events",
        "--log-group-name",
        group,
        "--start-time",
        str(started_ms - 60_000),
    )
    assert any("GET /ping" in event["message"] for event in tailed["events"])
    head = aws_json(
        emulator,
        "logs",
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream["logStreamName"],
        "--start-from-head",
        "--limit",
        "1",
    )
    assert len(head["events"]) == 1
    _cleanup(sm, name)


def test_ecr_image_that_exists_nowhere_fails_the_endpoint(sagemaker_client: Any) -> None:
    sm, name = sagemaker_client, "ecr-missing-ep"
    image = f"{REGISTRY}/dy-ecr-logs/missing-{secrets.token_hex(4)}:v1"
    _deploy(sm, name, image)
    deadline = time.monotonic() + 60
    described = sm.describe_endpoint(EndpointName=name)
    while described["EndpointStatus"] == "Creating" and time.monotonic() < deadline:
        time.sleep(0.5)
        described = sm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == missing_image_reason("AllTraffic", image)
    assert described["FailureReason"].startswith(
        "Please make sure all images included in the model for the production variant AllTraffic exist, and "
        "that the execution role used to create the model has permissions to access them."
    )
    _cleanup(sm, name)
