"""Error responses and event-stream messages, read back by botocore's parsers and event-stream decoder."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import EventStreamError

from dockyard.emulator.aws.eventstream import encode_event, encode_exception, encode_message
from dockyard.emulator.aws.json_protocol import JsonProtocol
from dockyard.emulator.aws.rest_json import RestJsonProtocol
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.errors import (
    ConflictException,
    InternalStreamFailure,
    ModelError,
    ModelStreamError,
    ServiceError,
    ServiceUnavailable,
    UnknownOperation,
    ValidationError,
    ValidationException,
)
from tests.emulator.aws.oracle import botocore_parse

CONTROL = JsonProtocol()
RUNTIME = RestJsonProtocol()


@pytest.mark.parametrize(
    "error",
    [
        ValidationException('Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e".'),
        ConflictException("Model package group g has versions; delete them first."),
        UnknownOperation("Unknown operation SageMaker.MakeCoffee"),
    ],
)
def test_control_errors_read_back_as_code_and_message(error: ServiceError) -> None:
    op = service_model("sagemaker").operation_model("DescribeEndpoint")
    status, headers, body = CONTROL.error_response(error, request_id="req-1")
    assert status == 400
    assert (b"content-type", b"application/x-amz-json-1.1") in headers
    assert (b"x-amzn-requestid", b"req-1") in headers
    parsed = botocore_parse(op, status, headers, body)
    assert parsed["Error"] == {"Code": error.code, "Message": error.message}


def test_model_error_carries_its_modeled_members() -> None:
    op = service_model("sagemaker-runtime").operation_model("InvokeEndpoint")
    error = ModelError(
        'Received client error (415) from primary with message "unsupported". See logs.',
        OriginalStatusCode=415,
        OriginalMessage="unsupported",
        LogStreamArn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/e",
    )
    status, headers, body = RUNTIME.error_response(error, request_id="req-2")
    assert status == 424
    assert (b"x-amzn-errortype", b"ModelError") in headers
    parsed = botocore_parse(op, status, headers, body)
    assert parsed["Error"] == {"Code": "ModelError", "Message": error.message}
    assert parsed["OriginalStatusCode"] == 415
    assert parsed["OriginalMessage"] == "unsupported"
    assert parsed["LogStreamArn"] == error.fields["LogStreamArn"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError("Endpoint e of account 123456789012 not found."), 400),
        (ServiceUnavailable("Try again."), 503),
    ],
)
def test_runtime_errors_read_back_as_code_and_message(error: ServiceError, status: int) -> None:
    op = service_model("sagemaker-runtime").operation_model("InvokeEndpoint")
    got_status, headers, body = RUNTIME.error_response(error)
    assert got_status == status
    assert all(name != b"x-amzn-requestid" for name, _ in headers)
    assert botocore_parse(op, got_status, headers, body)["Error"] == {
        "Code": error.code,
        "Message": error.message,
    }


def _decoded(data: bytes) -> list[tuple[Any, bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


def test_events_decode_with_botocores_event_stream_buffer() -> None:
    data = encode_event("PayloadPart", b"hello") + encode_event("PayloadPart", b"x" * 70_000)
    assert _decoded(data) == [
        (
            {
                ":message-type": "event",
                ":event-type": "PayloadPart",
                ":content-type": "application/octet-stream",
            },
            b"hello",
        ),
        (
            {
                ":message-type": "event",
                ":event-type": "PayloadPart",
                ":content-type": "application/octet-stream",
            },
            b"x" * 70_000,
        ),
    ]
    # Both CRCs are the ones botocore checks: the prelude's and the whole message's.
    message = encode_event("PayloadPart", b"hello")
    assert int.from_bytes(message[8:12], "big") == zlib.crc32(message[:8])
    assert int.from_bytes(message[-4:], "big") == zlib.crc32(message[:-4])


@pytest.mark.parametrize(
    ("error", "extra"),
    [
        (
            ModelStreamError("Model took too long.", ErrorCode="ModelInvocationTimeExceeded"),
            "ModelInvocationTimeExceeded",
        ),
        (InternalStreamFailure("The stream broke."), None),
    ],
)
def test_stream_exception_raises_in_boto3_after_the_events(error: ServiceError, extra: str | None) -> None:
    op = service_model("sagemaker-runtime").operation_model("InvokeEndpointWithResponseStream")
    status, headers = RUNTIME.stream_head(op.name, {"ContentType": "text/plain"})
    body = encode_event("PayloadPart", b"partial") + encode_exception(error)
    stream = botocore_parse(op, status, headers, body)["Body"]
    events = iter(stream)
    assert next(events) == {"PayloadPart": {"Bytes": b"partial"}}
    with pytest.raises(EventStreamError) as caught:
        next(events)
    assert caught.value.response["Error"] == {"Code": error.code, "Message": error.message}
    # botocore surfaces Code and Message only; the error shape's other members are in the payload.
    ((headers_, payload),) = _decoded(encode_exception(error))
    assert headers_[":exception-type"] == error.code
    assert json.loads(payload) == {"Message": error.message, **({"ErrorCode": extra} if extra else {})}


def test_unmodeled_error_in_the_stream_still_raises_with_its_code() -> None:
    op = service_model("sagemaker-runtime").operation_model("InvokeEndpointWithResponseStream")
    status, headers = RUNTIME.stream_head(op.name, {})
    error = ModelError('Received server error (500) from primary with message "oops".')
    stream = botocore_parse(op, status, headers, encode_exception(error))["Body"]
    with pytest.raises(EventStreamError) as caught:
        next(iter(stream))
    assert caught.value.response["Error"] == {"Code": "ModelError", "Message": error.message}


def test_oversized_header_value_is_refused() -> None:
    with pytest.raises(ValueError, match="event stream header :event-type is longer than 65535 bytes"):
        encode_message({":event-type": "x" * 70_000}, b"")
