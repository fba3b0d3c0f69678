"""Telling the services apart on one port, and the not-served answer in each caller's protocol, read
back by botocore's own parsers."""

from __future__ import annotations

import pytest

from dockyard.emulator.aws import cbor, unserved
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.routing import Protocol, Route, Scope, classify, signing_scope
from tests.emulator.aws.oracle import botocore_parse

AUTH = "AWS4-HMAC-SHA256 Credential=AKID/20261202/eu-west-1/{}/aws4_request, SignedHeaders=host, Signature=0"
FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}


def _signed(service: str, **headers: str) -> dict[str, str]:
    return {"authorization": AUTH.format(service), **headers}


@pytest.mark.parametrize(
    ("method", "path", "headers", "query", "route"),
    [
        (
            "POST",
            "/",
            _signed("sagemaker", **{"x-amz-target": "SageMaker.ListModels"}),
            "",
            Route(Protocol.JSON, "SageMaker", "ListModels"),
        ),
        (
            "POST",
            "/",
            _signed("ecr", **{"x-amz-target": "AmazonEC2ContainerRegistry_V20150921.ListImages"}),
            "",
            Route(Protocol.JSON, "AmazonEC2ContainerRegistry_V20150921", "ListImages"),
        ),
        (
            "POST",
            "/",
            _signed("logs", **{"x-amz-target": "Logs_20140328.GetLogEvents"}),
            "",
            Route(Protocol.JSON, "Logs_20140328", "GetLogEvents"),
        ),
        ("POST", "/", _signed("sts", **FORM), "", Route(Protocol.QUERY, "sts")),
        ("GET", "/", _signed("iam"), "Action=GetRole&RoleName=r", Route(Protocol.QUERY, "iam", "GetRole")),
        (
            "POST",
            "/endpoints/ep/invocations",
            _signed("sagemaker"),
            "",
            Route(Protocol.REST, "sagemaker-runtime"),
        ),
        ("POST", "/endpoints/ep/invocations", {}, "", Route(Protocol.REST, "sagemaker-runtime")),
        # A bucket named "endpoints" is still S3's: the scope decides.
        ("GET", "/endpoints/key", _signed("s3"), "", Route(Protocol.REST, "s3")),
        ("PUT", "/bucket/key", _signed("s3", **FORM), "", Route(Protocol.REST, "s3")),
        (
            "POST",
            "/service/GraniteServiceVersion20100801/operation/GetMetricData",
            _signed("monitoring"),
            "",
            Route(Protocol.CBOR, "GraniteServiceVersion20100801", "GetMetricData"),
        ),
        ("GET", "/2015-03-31/functions", _signed("lambda"), "", Route(Protocol.REST, "lambda")),
        ("GET", "/nothing", {}, "", Route(Protocol.REST, "")),
    ],
)
def test_requests_are_told_apart_as_aws_does(
    method: str, path: str, headers: dict[str, str], query: str, route: Route
) -> None:
    assert classify(method, path, headers, query, signing_scope(headers, query)) == route


def test_the_scope_comes_from_the_header_or_a_presigned_url() -> None:
    assert signing_scope(_signed("s3"), "") == Scope("AKID", "eu-west-1", "s3")
    presigned = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261202%2Fus-west-2%2Fs3%2Faws4_request"
    )
    assert signing_scope({}, presigned) == Scope("AKID", "us-west-2", "s3")
    assert signing_scope({"authorization": "Bearer x"}, "") is None


def _unserved(
    route: Route, scope_service: str, method: str = "POST", path: str = "/"
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return unserved.response(route, scope_service, method, path, "req-1")


def test_application_auto_scaling_is_named_in_json() -> None:
    route = Route(Protocol.JSON, "AnyScaleFrontendService", "RegisterScalableTarget")
    status, headers, body = _unserved(route, "application-autoscaling")
    op = service_model("application-autoscaling").operation_model("RegisterScalableTarget")
    error = botocore_parse(op, status, headers, body)["Error"]
    assert (status, error["Code"]) == (400, "UnknownOperationException")
    assert error["Message"] == (
        "Application Auto Scaling (application-autoscaling) is not served by the local target (dockyard "
        "emulator), so the operation RegisterScalableTarget cannot run here; use AWS itself for it. This "
        f"port serves {unserved.SERVED}."
    )


def test_cloudwatch_metrics_are_named_in_cbor_and_in_json() -> None:
    op = service_model("cloudwatch").operation_model("PutMetricData")
    route = Route(Protocol.CBOR, "GraniteServiceVersion20100801", "PutMetricData")
    status, headers, body = _unserved(route, "monitoring")
    assert (b"smithy-protocol", b"rpc-v2-cbor") in headers
    error = botocore_parse(op, status, headers, body)["Error"]
    assert error["Code"] == "UnknownOperationException"
    assert error["Message"].startswith("Amazon CloudWatch (cloudwatch) is not served by the local target")
    assert "the operation PutMetricData" in error["Message"]
    json_route = Route(Protocol.JSON, "GraniteServiceVersion20100801", "PutMetricData")
    status, headers, body = _unserved(json_route, "monitoring")
    assert b"Amazon CloudWatch (cloudwatch) is not served" in body


def test_query_and_rest_services_are_named_in_their_shapes() -> None:
    status, headers, body = _unserved(Route(Protocol.QUERY, "sns", "Publish"), "sns")
    error = botocore_parse(service_model("sns").operation_model("Publish"), status, headers, body)["Error"]
    assert (status, error["Code"]) == (400, "InvalidAction")
    assert error["Message"].startswith("Amazon Simple Notification Service (sns) is not served")
    status, headers, body = _unserved(
        Route(Protocol.REST, "lambda"), "lambda", "GET", "/2015-03-31/functions"
    )
    op = service_model("lambda").operation_model("ListFunctions")
    error = botocore_parse(op, status, headers, body)["Error"]
    assert error["Code"] == "UnknownOperationException"
    assert (
        "AWS Lambda (lambda) is not served by the local target (dockyard emulator), so the request GET "
        "/2015-03-31/functions cannot run here" in error["Message"]
    )
    status, _, body = _unserved(Route(Protocol.REST, "nosuchservice"), "nosuchservice", "GET", "/x")
    assert b"the AWS service 'nosuchservice' is not served" in body


def test_cbor_maps_of_text() -> None:
    assert cbor.encode_text_map({"a": "b"}) == b"\xa1\x61a\x61b"
    long = "x" * 300
    assert cbor.encode_text_map({"k": long})[:6] == b"\xa1\x61k\x79\x01\x2c"


def test_a_request_for_a_served_service_that_matches_no_operation_says_so() -> None:
    status, _, body = _unserved(Route(Protocol.REST, "ecr"), "ecr", "GET", "/v2/")
    assert status == 400
    assert (
        b"Amazon Elastic Container Registry (ecr) is served by the local target (dockyard emulator), " in body
    )
    assert b"but the request GET /v2/ is not one of its operations there." in body
