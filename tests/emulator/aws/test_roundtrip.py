"""Every implemented operation through both directions of the wire, with botocore as the oracle:
botocore's client serializer writes the request and ours parses it back to the same params; ours
writes the response and botocore's parser reads back the same result."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from botocore.model import StructureShape

from dockyard.emulator.aws.eventstream import encode_event
from dockyard.emulator.aws.json_protocol import JsonProtocol
from dockyard.emulator.aws.rest_json import RestJsonProtocol
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.sagemaker.provider import SageMakerProvider
from dockyard.emulator.sagemaker.store import Store
from tests.emulator.aws.examples import example
from tests.emulator.aws.oracle import botocore_parse, botocore_request, normalized
from tests.emulator.sagemaker.control_plane import RecordingFleet

CONTROL = JsonProtocol()
RUNTIME = RestJsonProtocol()


def _provider_operations() -> tuple[str, ...]:
    """The control-plane operations the provider dispatches: the one list of what is implemented."""
    with tempfile.TemporaryDirectory() as directory:
        store = Store(Path(directory) / "emulator.db")
        try:
            return tuple(SageMakerProvider(store, RecordingFleet()).operations)
        finally:
            store.close()


IMPLEMENTED_CONTROL_OPERATIONS = _provider_operations()
IMPLEMENTED_RUNTIME_OPERATIONS = ("InvokeEndpoint", "InvokeEndpointWithResponseStream")


def _shape(shape: StructureShape | None) -> StructureShape:
    assert shape is not None
    return shape


def _required_present(shape: Any, value: Any, path: str = "") -> list[str]:
    """Paths of required members missing anywhere in a parsed value."""
    missing: list[str] = []
    if shape.type_name == "structure" and isinstance(value, dict):
        missing += [f"{path}.{name}" for name in shape.required_members if name not in value]
        for name, member in shape.members.items():
            if name in value:
                missing += _required_present(member, value[name], f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            missing += _required_present(shape.member, item, f"{path}[{index}]")
    return missing


@pytest.mark.parametrize("operation", IMPLEMENTED_CONTROL_OPERATIONS)
def test_control_request_parses_to_the_params_botocore_sent(operation: str) -> None:
    op = service_model("sagemaker").operation_model(operation)
    params = example(_shape(op.input_shape))
    request = botocore_request(op, params)
    assert request["url_path"] == "/"
    parsed_op, parsed = CONTROL.parse(request["headers"]["X-Amz-Target"], request["body"])
    assert parsed_op == operation
    assert normalized(parsed) == normalized(params)


@pytest.mark.parametrize("operation", IMPLEMENTED_CONTROL_OPERATIONS)
def test_control_response_reads_back_in_botocore(operation: str) -> None:
    op = service_model("sagemaker").operation_model(operation)
    if op.output_shape is None:
        assert CONTROL.serialize(operation, {}) == b"{}"
        return
    result = example(_shape(op.output_shape))
    body = CONTROL.serialize(operation, {**result, "NotAMember": "dropped", "Missing": None})
    parsed = botocore_parse(op, 200, [(b"content-type", b"application/x-amz-json-1.1")], body)
    assert _required_present(op.output_shape, parsed) == []
    assert normalized(parsed) == normalized(result)


@pytest.mark.parametrize("operation", IMPLEMENTED_RUNTIME_OPERATIONS)
def test_runtime_request_parses_to_the_params_botocore_sent(operation: str) -> None:
    op = service_model("sagemaker-runtime").operation_model(operation)
    params = {**example(_shape(op.input_shape)), "EndpointName": "my-endpoint-1"}
    request = botocore_request(op, params)
    matched = RUNTIME.match(request["method"], request["url_path"])
    assert matched == (operation, {"EndpointName": "my-endpoint-1"})
    headers = {k.lower(): v for k, v in request["headers"].items()}
    parsed = RUNTIME.parse(operation, matched[1], headers, request["body"])
    assert normalized(parsed) == normalized(params)


def test_invoke_endpoint_response_reads_back_in_botocore() -> None:
    op = service_model("sagemaker-runtime").operation_model("InvokeEndpoint")
    result = {**example(_shape(op.output_shape)), "Body": b"0.25\n0.75\n", "ContentType": "text/csv"}
    status, headers, body = RUNTIME.response("InvokeEndpoint", result)
    assert status == 200
    assert (b"content-type", b"text/csv") in headers
    assert body == b"0.25\n0.75\n"
    assert normalized(botocore_parse(op, status, headers, body)) == normalized(result)


def test_response_stream_head_and_events_read_back_in_botocore() -> None:
    op = service_model("sagemaker-runtime").operation_model("InvokeEndpointWithResponseStream")
    result = {
        "ContentType": "application/jsonlines",
        "InvokedProductionVariant": "AllTraffic",
        "CustomAttributes": "trace=1",
    }
    status, headers = RUNTIME.stream_head("InvokeEndpointWithResponseStream", result)
    assert status == 200
    assert (b"content-type", b"application/vnd.amazon.eventstream") in headers
    assert (b"x-amzn-sagemaker-content-type", b"application/jsonlines") in headers
    body = encode_event("PayloadPart", b'{"token": 1}\n') + encode_event("PayloadPart", b"")
    parsed = botocore_parse(op, status, headers, body)
    events = list(parsed.pop("Body"))
    assert events == [{"PayloadPart": {"Bytes": b'{"token": 1}\n'}}, {"PayloadPart": {"Bytes": b""}}]
    assert parsed == result


def test_match_decodes_labels_and_knows_every_runtime_path() -> None:
    assert RUNTIME.match("POST", "/endpoints/my%2Dep/invocations?x=1") == (
        "InvokeEndpoint",
        {"EndpointName": "my-ep"},
    )
    assert RUNTIME.match("POST", "/endpoints/e/invocations-response-stream") == (
        "InvokeEndpointWithResponseStream",
        {"EndpointName": "e"},
    )
    assert RUNTIME.match("POST", "/endpoints/e/async-invocations") == (
        "InvokeEndpointAsync",
        {"EndpointName": "e"},
    )
    assert RUNTIME.match("GET", "/endpoints/e/invocations") is None
    assert RUNTIME.match("POST", "/endpoints/e/other") is None
    assert RUNTIME.match("POST", "/endpoints/a/b/invocations") is None


def test_async_response_has_its_json_body_and_202() -> None:
    op = service_model("sagemaker-runtime").operation_model("InvokeEndpointAsync")
    result = {"InferenceId": "id-1", "OutputLocation": "s3://b/out", "FailureLocation": "s3://b/f"}
    status, headers, body = RUNTIME.response("InvokeEndpointAsync", result)
    assert status == 202
    assert (b"x-amzn-sagemaker-outputlocation", b"s3://b/out") in headers
    assert normalized(botocore_parse(op, status, headers, body)) == result
