"""The emulator's HTTP surface through real boto3 clients: routing of both APIs on one port, regions
from the signature, validation, unsupported operations, paginators and waiters, limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.emulator_fixtures import EmulatorProcess

pytestmark = pytest.mark.docker  # the emulator's fleet talks to the engine at start

IMAGE = "dy-server-test/none:latest"


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_models_round_trip_with_pagination(sagemaker_client: Any) -> None:
    sm = sagemaker_client
    names = [f"srv-page-{index:02d}" for index in range(7)]
    for name in names:
        arn = sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE})["ModelArn"]
        assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:model/{name}"
    described = sm.describe_model(ModelName="srv-page-03")
    assert described["PrimaryContainer"]["Image"] == IMAGE
    assert described["CreationTime"].tzinfo is not None

    pages = list(
        sm.get_paginator("list_models").paginate(
            NameContains="srv-page-", SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 3}
        )
    )
    assert [len(page["Models"]) for page in pages] == [3, 3, 1]
    assert [model["ModelName"] for page in pages for model in page["Models"]] == names

    with pytest.raises(ClientError) as caught:
        sm.create_model(ModelName="srv-page-00", PrimaryContainer={"Image": IMAGE})
    code, message, status = error_of(caught)
    assert (code, status) == ("ValidationException", 400)
    assert "already existing model" in message
    for name in names:
        sm.delete_model(ModelName=name)
    with pytest.raises(ClientError) as missing:
        sm.describe_model(ModelName="srv-page-00")
    assert error_of(missing)[0] == "ValidationException"
    assert "Could not find model" in error_of(missing)[1]


def test_region_comes_from_the_signature(emulator: EmulatorProcess, sagemaker_client: Any) -> None:
    import boto3

    from tests.aws_fixtures import FAKE_KEY

    ireland = boto3.client(
        "sagemaker",
        endpoint_url=emulator.url,
        region_name="eu-west-1",
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
    )
    arn = ireland.create_model(ModelName="srv-region", PrimaryContainer={"Image": IMAGE})["ModelArn"]
    assert arn.startswith("arn:aws:sagemaker:eu-west-1:123456789012:model/")
    with pytest.raises(ClientError):
        sagemaker_client.describe_model(ModelName="srv-region")  # another region: not there
    ireland.delete_model(ModelName="srv-region")


def test_server_side_validation_uses_sagemakers_wording(emulator: EmulatorProcess) -> None:
    unchecked = emulator.client("sagemaker", parameter_validation=False)
    with pytest.raises(ClientError) as caught:
        unchecked.create_model(ModelName="not a valid name!", PrimaryContainer={"Image": IMAGE})
    code, message, status = error_of(caught)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value 'not a valid name!' at 'modelName' ")
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in message


def test_unsupported_operation_is_named(sagemaker_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sagemaker_client.list_training_jobs()
    code, message, _ = error_of(caught)
    assert "ListTrainingJobs" in message
    assert "local" in message.lower()
    assert code == "UnknownOperationException"


def test_missing_endpoint(sagemaker_client: Any, runtime_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sagemaker_client.describe_endpoint(EndpointName="srv-nothing")
    assert error_of(caught)[0] == "ValidationException"
    # boto3's waiter ends at once on an endpoint that is not there.
    sagemaker_client.get_waiter("endpoint_deleted").wait(EndpointName="srv-nothing")
    with pytest.raises(ClientError) as invoked:
        runtime_client.invoke_endpoint(EndpointName="srv-nothing", Body=b"1", ContentType="text/csv")
    assert error_of(invoked) == (
        "ValidationError",
        "Endpoint srv-nothing of account 123456789012 not found.",
        400,
    )


def test_body_over_the_invoke_limit(emulator: EmulatorProcess) -> None:
    body = b"x" * (6_291_456 + 1)
    response = emulator.signed_request(
        "POST", "/endpoints/srv-nothing/invocations", body=body, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 413
    assert "6291456 bytes" in response.text


def test_unknown_route_and_status(emulator: EmulatorProcess) -> None:
    response = emulator.signed_request("GET", "/nothing-here")
    assert response.status_code == 400
    assert "is not an operation of the SageMaker API" in response.text
    status = httpx.get(f"{emulator.url}/_dockyard/status", timeout=5).json()
    assert status["service"] == "dockyard-emulator"
    assert status["ready"] is True
