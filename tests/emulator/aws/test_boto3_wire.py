"""Real boto3 clients over real HTTP against a minimal server made of the protocol objects, so the
whole path (signing, botocore's HTTP layer, retries, waiters, exception classes) meets our bytes.
The server's "service" is a few canned answers: this tests the protocol, not the provider."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from dockyard.emulator.aws.eventstream import encode_event, encode_exception
from dockyard.emulator.aws.json_protocol import CONTENT_TYPE, JsonProtocol
from dockyard.emulator.aws.rest_json import RestJsonProtocol
from dockyard.emulator.errors import ModelError, ModelStreamError, ServiceError, ValidationException

CONTROL = JsonProtocol()
RUNTIME = RestJsonProtocol()
CREATED = dt.datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=dt.UTC)


def _control(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    if operation == "CreateModel":
        return {"ModelArn": f"arn:aws:sagemaker:us-east-1:123456789012:model/{params['ModelName']}"}
    if operation == "DescribeModel":
        return {
            "ModelName": params["ModelName"],
            "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m",
            "CreationTime": CREATED,
            "PrimaryContainer": {"Image": "img:1", "Environment": {"A": "1"}},
        }
    name = params.get("EndpointName")
    raise ValidationException(
        f'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}".'
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if self.path == "/":
                operation, params = CONTROL.parse(headers.get("x-amz-target"), body)
                self._send(
                    200,
                    [(b"content-type", CONTENT_TYPE)],
                    CONTROL.serialize(operation, _control(operation, params)),
                )
                return
            matched = RUNTIME.match("POST", self.path)
            assert matched is not None
            operation, labels = matched
            params = RUNTIME.parse(operation, labels, headers, body)
            self._runtime(operation, params)
        except ServiceError as error:
            protocol = CONTROL if self.path == "/" else RUNTIME
            self._send(*protocol.error_response(error, request_id="req-1"))

    def _runtime(self, operation: str, params: dict[str, Any]) -> None:
        if params["EndpointName"] == "broken":
            raise ModelError(
                'Received server error (500) from primary with message "boom".',
                OriginalStatusCode=500,
                OriginalMessage="boom",
                LogStreamArn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/broken",
            )
        result = {"ContentType": "text/plain", "InvokedProductionVariant": "AllTraffic"}
        if operation == "InvokeEndpoint":
            self._send(*RUNTIME.response(operation, {**result, "Body": params["Body"].upper()}))
            return
        status, head = RUNTIME.stream_head(operation, result)
        events = b"".join(encode_event("PayloadPart", part) for part in params["Body"].split(b" "))
        error = ModelStreamError("Model stopped.", ErrorCode="StreamBroken")
        self._send(status, head, events + encode_exception(error))

    def _send(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name.decode(), value.decode("latin-1"))
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )


def test_control_plane_round_trip_and_server_side_validation(endpoint_url: str) -> None:
    sagemaker = _client("sagemaker", endpoint_url)
    created = sagemaker.create_model(ModelName="m", PrimaryContainer={"Image": "img:1"})
    assert created["ModelArn"] == "arn:aws:sagemaker:us-east-1:123456789012:model/m"
    described = sagemaker.describe_model(ModelName="m")
    assert described["CreationTime"] == CREATED
    assert described["PrimaryContainer"] == {"Image": "img:1", "Environment": {"A": "1"}}
    with pytest.raises(ClientError) as caught:
        sagemaker.create_model(ModelName="bad name!")
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value 'bad name!' at 'modelName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?",
    }
    assert caught.value.response["ResponseMetadata"]["RequestId"] == "req-1"


def test_missing_endpoint_ends_the_endpoint_deleted_waiter(endpoint_url: str) -> None:
    sagemaker = _client("sagemaker", endpoint_url)
    with pytest.raises(ClientError) as caught:
        sagemaker.describe_endpoint(EndpointName="gone")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    sagemaker.get_waiter("endpoint_deleted").wait(
        EndpointName="gone", WaiterConfig={"Delay": 0, "MaxAttempts": 1}
    )


def test_runtime_invoke_and_model_error(endpoint_url: str) -> None:
    runtime = _client("sagemaker-runtime", endpoint_url)
    answer = runtime.invoke_endpoint(EndpointName="ep", Body=b"abc", ContentType="text/plain")
    assert answer["Body"].read() == b"ABC"
    assert answer["ContentType"] == "text/plain"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        runtime.invoke_endpoint(EndpointName="broken", Body=b"abc")
    assert (
        caught.value.response["Error"]["Message"]
        == 'Received server error (500) from primary with message "boom".'
    )
    assert caught.value.response["OriginalStatusCode"] == 500
    assert caught.value.response["OriginalMessage"] == "boom"
    with pytest.raises(runtime.exceptions.ValidationError) as invalid:
        runtime.invoke_endpoint(EndpointName="bad_name", Body=b"abc")
    assert invalid.value.response["Error"]["Message"].startswith(
        "1 validation error detected: Value 'bad_name' at 'endpointName'"
    )


def test_runtime_response_stream_events_then_error(endpoint_url: str) -> None:
    runtime = _client("sagemaker-runtime", endpoint_url)
    answer = runtime.invoke_endpoint_with_response_stream(
        EndpointName="ep", Body=b"one two", ContentType="text/plain"
    )
    assert answer["ContentType"] == "text/plain"
    events = iter(answer["Body"])
    assert [next(events), next(events)] == [
        {"PayloadPart": {"Bytes": b"one"}},
        {"PayloadPart": {"Bytes": b"two"}},
    ]
    with pytest.raises(EventStreamError) as caught:
        next(events)
    assert caught.value.response["Error"] == {"Code": "ModelStreamError", "Message": "Model stopped."}
