"""Listing through boto3's paginators and deleting through its endpoint_deleted waiter (moto in server
mode standing for SageMaker)."""

from __future__ import annotations

import uuid

import boto3

from dockyard.lifecycle.resources import delete_resource, list_resources
from tests.aws_fixtures import REGION
from tests.lifecycle.conftest import ROLE


def test_listing_follows_every_page_and_delete_waits_for_the_endpoint(aws_env: str) -> None:
    sagemaker = boto3.client("sagemaker", endpoint_url=aws_env, region_name=REGION)
    prefix = f"dy-deploy-pages-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{index}" for index in range(12)]  # more than one page of the paginator's 10
    for name in names:
        sagemaker.create_model(ModelName=name, PrimaryContainer={"Image": "img:1"}, ExecutionRoleArn=ROLE)
    listing = list_resources("models", name_contains=prefix, target="aws")
    assert sorted(item["ModelName"] for item in listing.items) == sorted(names)

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
