"""Every implemented operation of ECR, CloudWatch Logs, STS and IAM through both directions of the wire,
with botocore as the oracle: its client serializer writes the request and our protocol parses it back to
the same params; our protocol writes the response and botocore's parser reads back the same result."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.model import StructureShape

from dockyard.emulator.aws.json_protocol import JsonProtocol
from dockyard.emulator.aws.query_protocol import QueryProtocol
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.ecr.provider import EcrProvider
from dockyard.emulator.logs.provider import LogsProvider
from dockyard.emulator.sts.provider import StsProvider
from tests.emulator.aws.examples import example
from tests.emulator.aws.oracle import botocore_parse, botocore_request, normalized

JSON_OPERATIONS = [
    *(("ecr", name) for name in EcrProvider.OPERATIONS),
    *(("logs", name) for name in LogsProvider.OPERATIONS),
]
QUERY_OPERATIONS = [*(("sts", name) for name in StsProvider.OPERATIONS), ("iam", "GetRole")]


def _shape(shape: StructureShape | None) -> StructureShape:
    assert shape is not None
    return shape


@pytest.mark.parametrize(("service", "operation"), JSON_OPERATIONS)
def test_json_request_parses_to_the_params_botocore_sent(service: str, operation: str) -> None:
    op = service_model(service).operation_model(operation)
    params = example(_shape(op.input_shape))
    request = botocore_request(op, params)
    parsed_op, parsed = JsonProtocol(service).parse(request["headers"]["X-Amz-Target"], request["body"])
    assert parsed_op == operation
    assert normalized(parsed) == normalized(params)


@pytest.mark.parametrize(("service", "operation"), JSON_OPERATIONS)
def test_json_response_reads_back_in_botocore(service: str, operation: str) -> None:
    op = service_model(service).operation_model(operation)
    result = example(_shape(op.output_shape))
    body = JsonProtocol(service).serialize(operation, {**result, "NotAMember": 1})
    parsed = botocore_parse(op, 200, [(b"content-type", b"application/x-amz-json-1.1")], body)
    assert normalized(parsed) == normalized(result)


@pytest.mark.parametrize(("service", "operation"), QUERY_OPERATIONS)
def test_query_request_parses_to_the_params_botocore_sent(service: str, operation: str) -> None:
    op = service_model(service).operation_model(operation)
    params = example(_shape(op.input_shape))
    request = botocore_request(op, params)
    body = request["body"] if isinstance(request["body"], bytes) else _form(request["body"])
    parsed_op, parsed = QueryProtocol(service).parse(body)
    assert parsed_op == operation
    assert normalized(parsed) == normalized(params)


@pytest.mark.parametrize(("service", "operation"), QUERY_OPERATIONS)
def test_query_response_reads_back_in_botocore(service: str, operation: str) -> None:
    op = service_model(service).operation_model(operation)
    result = example(_shape(op.output_shape))
    body = QueryProtocol(service).serialize(operation, {**result, "NotAMember": 1}, "req-1")
    parsed = botocore_parse(op, 200, [(b"content-type", b"text/xml")], body)
    assert normalized(parsed) == normalized(result)


def _form(body: dict[str, Any]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(body).encode()


def test_query_lists_and_maps_parse_from_their_flat_keys() -> None:
    sts = QueryProtocol("sts")
    body = (
        b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"
        b"&RoleSessionName=ss&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a"
        b"&Tags.member.1.Value=1&DurationSeconds=900&TransitiveTagKeys="
    )
    operation, params = sts.parse(body)
    assert operation == "AssumeRole"
    assert params["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert params["DurationSeconds"] == 900
    assert params["TransitiveTagKeys"] == []


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            b"Action=Nope&Version=2011-06-15",
            "InvalidAction",
            "Could not find operation Nope for version 2011-06-15",
        ),
        (b"Version=2011-06-15", "InvalidAction", "Could not find operation (none) for version 2011-06-15"),
        (
            b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=a%20b",
            "ValidationError",
            "1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ),
        (
            b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=ss"
            b"&DurationSeconds=soon",
            "ValidationError",
            "1 validation error detected: Value 'soon' at 'durationSeconds' failed to satisfy constraint: "
            "Member must be of type integer",
        ),
        (
            b"Action=AssumeRole&RoleArn=x&RoleSessionName=s&RoleSessionName.1=t",
            "ValidationError",
            "The parameter RoleSessionName.1 conflicts with another parameter",
        ),
    ],
)
def test_query_errors_read_back_in_botocore(body: bytes, code: str, message: str) -> None:
    from dockyard.emulator.errors import ServiceError

    sts = QueryProtocol("sts")
    with pytest.raises(ServiceError) as caught:
        sts.parse(body)
    status, headers, payload = sts.error_response(caught.value, "req-2")
    parsed = botocore_parse(service_model("sts").operation_model("AssumeRole"), status, headers, payload)
    assert (parsed["Error"]["Code"], parsed["Error"]["Message"], status) == (code, message, 400)


def test_json_validation_errors_take_the_services_code() -> None:
    from dockyard.emulator.ecr.errors import InvalidParameterException

    ecr = JsonProtocol("ecr", InvalidParameterException)
    target = "AmazonEC2ContainerRegistry_V20150921.CreateRepository"
    with pytest.raises(InvalidParameterException) as caught:
        ecr.parse(target, b'{"repositoryName": "Bad Name"}')
    assert caught.value.message.startswith(
        "1 validation error detected: Value 'Bad Name' at 'repositoryName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
    )
