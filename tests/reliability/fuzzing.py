"""Fuzzing the live emulator: every operation it implements with values generated from its input shape
(through boto3, signed, client-side validation off), and raw bodies mutated from valid ones (signed with
SigV4 by hand). Every answer must be a well-formed SageMaker success or error: never a 5xx, a body that
is not the protocol's, a dropped connection or a hang.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import httpx
from botocore import xform_name
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.emulator.aws.service_models import service_model
from tests.reliability.harness import KEY, REGION, Emulator
from tests.reliability.shapes import for_shape, mutated

Figures = dict[str, Any]
_SUPPORTED = re.compile(r"Supported: (.*)\.$")


class Tally:
    def __init__(self) -> None:
        self.sent = 0
        self.unsent = 0  # values botocore itself could not serialize
        self.statuses: Counter[int] = Counter()
        self.codes: Counter[str] = Counter()

    def as_dict(self) -> Figures:
        return {
            "requests": self.sent,
            "not_serializable": self.unsent,
            "statuses": dict(sorted(self.statuses.items())),
            "server_errors": sum(n for status, n in self.statuses.items() if status >= 500),
            "codes": dict(self.codes.most_common()),
        }


def supported_operations(emulator: Emulator) -> list[str]:
    """What the emulator says it implements (its answer to an operation it does not)."""
    response = signed_post(emulator, "SageMaker.ListTrainingJobs", b"{}")
    message = str(response.json().get("message") or response.json().get("Message"))
    found = _SUPPORTED.search(message)
    assert found is not None, message
    return found.group(1).split(", ")


def fuzz_operations(emulator: Emulator, examples: int) -> Figures:
    """Generated parameters for every control-plane operation and both runtime operations."""
    tally = Tally()
    for service, operations in (
        ("sagemaker", supported_operations(emulator)),
        ("sagemaker-runtime", ["InvokeEndpoint", "InvokeEndpointWithResponseStream"]),
    ):
        client = emulator.client(service, parameter_validation=False, read_timeout=20)
        client.meta.events.register("before-send", lambda **_: _count(tally))
        model = service_model(service)
        for operation in operations:
            _fuzz_one(client, model.operation_model(operation), examples, tally, service == "sagemaker")
    return tally.as_dict()


def _count(tally: Tally) -> None:
    tally.sent += 1


def _fuzz_one(client: Any, operation: Any, examples: int, tally: Tally, wrong: bool) -> None:
    method = getattr(client, xform_name(operation.name))

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(params=for_shape(operation.input_shape, wrong=wrong))
    def run(params: dict[str, Any]) -> None:
        sent = tally.sent
        failed: dict[str, Any] | None = None
        try:
            answer = method(**params)
            body = answer.get("Body")
            if hasattr(body, "read"):
                body.read()
            elif body is not None:
                for _event in body:  # an event stream
                    pass
            tally.statuses[answer["ResponseMetadata"]["HTTPStatusCode"]] += 1
        except ClientError as exc:
            failed = exc.response
        except (ReadTimeoutError, ConnectionClosedError, EndpointConnectionError) as exc:
            raise AssertionError(f"{operation.name} did not answer: {exc}") from None
        except HTTPClientError as exc:
            if "Invalid header" not in str(exc):  # urllib3 refused to send a header with a CR or LF
                raise AssertionError(f"{operation.name} did not answer: {exc}") from None
            tally.unsent += 1
            return
        except Exception:  # botocore could not serialize the value: nothing was sent
            if tally.sent != sent:
                raise
            tally.unsent += 1
            return
        if failed is not None:
            status = int(failed["ResponseMetadata"]["HTTPStatusCode"])
            error = failed.get("Error", {})
            tally.statuses[status] += 1
            tally.codes[str(error.get("Code"))] += 1
            assert status < 500, f"{operation.name} answered {status}: {error}"
            # botocore falls back on the HTTP status as the code when the body does not name one.
            assert error.get("Code"), failed
            assert not str(error["Code"]).isdigit(), failed
            assert isinstance(error.get("Message"), str), failed

    run()


def fuzz_raw_bodies(emulator: Emulator, examples: int) -> Figures:
    """Mutations of a valid body for every control-plane operation, signed and sent as they are."""
    tally = Tally()
    model = service_model("sagemaker")
    for operation in supported_operations(emulator):
        seed = json.dumps(_example(model.operation_model(operation).input_shape)).encode()

        @settings(
            max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(
            body=mutated(seed), target=st.sampled_from([f"SageMaker.{operation}"] * 4 + ["SageMaker.", "x"])
        )
        def run(body: bytes, target: str) -> None:
            response = signed_post(emulator, target, body)
            tally.sent += 1
            tally.statuses[response.status_code] += 1
            assert response.status_code < 500, (response.status_code, response.text[:500])
            answer = response.json()  # every answer is JSON, errors included
            if response.status_code >= 400:
                tally.codes[str(answer.get("__type"))] += 1
                assert answer.get("__type"), answer
                assert isinstance(answer.get("message", answer.get("Message")), str), answer
            assert response.headers.get("x-amzn-requestid")

        run()
    return tally.as_dict()


def signed_post(emulator: Emulator, target: str, body: bytes) -> httpx.Response:
    request = AWSRequest(
        method="POST",
        url=f"{emulator.url}/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(KEY, KEY), "sagemaker", REGION).add_auth(request)
    return httpx.post(f"{emulator.url}/", content=body, headers=dict(request.headers.items()), timeout=20)


def _example(shape: Any) -> dict[str, Any]:
    """A body with every required member present (a string where the shape takes anything)."""
    return {name: _value(shape.members[name]) for name in shape.required_members}


def _value(shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _example(shape)
    if kind == "list":
        return [_value(shape.member)]
    if kind == "map":
        return {"k": _value(shape.value)}
    if kind in ("integer", "long"):
        return 1
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return True
    enum = getattr(shape, "enum", None)
    return enum[0] if enum else "dy-fuzz"
