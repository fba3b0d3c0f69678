"""Listing through boto3's paginators and deleting through its endpoint_deleted waiter (moto in server
mode standing for SageMaker)."""

from __future__ import annotations

import uuid

import boto3
import pytest

from dockyard.lifecycle.calls import Aws, WaitError
from dockyard.lifecycle.resources import delete_resource, list_resources
from dockyard.lifecycle.target import resolve_target
from tests.aws_fixtures import REGION
from tests.lifecycle.conftest import ROLE


def test_listing_follows_every_page_and_delete_waits_for_the_endpoint(aws_env: str) -> None:
    sagemaker = boto3.client("sagemaker", endpoint_url=aws_env, region_name=REGION)
    prefix = f"dy-deploy-pages-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{index}" for index in range(12)]  # more than one page of the paginator's 10
    for name in names:
        sagemaker.create_model(ModelName=name, PrimaryContainer={"Image": "img:1"}, ExecutionRoleArn=ROLE)
    listing = list_resources("models", name_contains=prefix, target="aws")
    # moto leaves NameContains to the client; every page was read when all twelve are there.
    assert set(names) <= {item["ModelName"] for item in listing.items}

    endpoint = names[0]
    sagemaker.create_endpoint_config(
        EndpointConfigName=endpoint,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": endpoint,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    deleted = delete_resource("endpoints", endpoint, wait=True, target="aws")
    assert [(call.operation, call.method) for call in deleted.calls] == [
        ("DeleteEndpoint", "delete_endpoint"),
        ("DescribeEndpoint", "get_waiter('endpoint_deleted').wait"),
    ]
    assert [e for e in sagemaker.list_endpoints()["Endpoints"] if e["EndpointName"] == endpoint] == []


def test_a_waiter_that_gives_up_says_why(aws_env: str) -> None:
    sagemaker = boto3.client("sagemaker", endpoint_url=aws_env, region_name=REGION)
    name = f"dy-deploy-wait-{uuid.uuid4().hex[:6]}"
    sagemaker.create_model(ModelName=name, PrimaryContainer={"Image": "img:1"}, ExecutionRoleArn=ROLE)
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
    aws = Aws(resolve_target("aws"))
    # An endpoint that stays: the waiter runs out of attempts.
    with pytest.raises(WaitError) as caught:
        aws.wait("sagemaker", "endpoint_deleted", delay=0.01, timeout=0.03, EndpointName=name)
    assert caught.value.timed_out is True
    assert caught.value.message == "Max attempts exceeded"
    assert caught.value.last_response["EndpointStatus"] == "InService"
    # An endpoint that does not exist: the in-service waiter's failure state (SageMaker's
    # ValidationException), reported at once.
    with pytest.raises(WaitError) as caught:
        aws.wait("sagemaker", "endpoint_in_service", delay=0.01, timeout=5, EndpointName=f"{name}-absent")
    assert caught.value.timed_out is False
    assert caught.value.message == (
        "Waiter encountered a terminal failure state: "
        "Matched expected service error code: ValidationException"
    )
    sagemaker.delete_endpoint(EndpointName=name)
