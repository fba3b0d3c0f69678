"""What the deploy benchmark's rows share: the workload, a row of runs, the answer check, the names."""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

PREFIX = "dy-bench-"
ROLE = "arn:aws:iam::123456789012:role/dockyard-bench"
INSTANCE_TYPE = "ml.m5.large"
POLL_S = 0.05
DEPLOY_DEADLINE_S = 120.0
DELETE_DEADLINE_S = 60.0
CLIENT_OPTIONS: dict[str, Any] = {
    "region_name": "us-east-1",
    "aws_access_key_id": "x",
    "aws_secret_access_key": "x",
}


@dataclass
class Workload:
    image: str
    body: bytes
    expected: Any
    cold_archives: list[Path]
    sdk_archive: Path


@dataclass
class Row:
    kind: str  # cold, warm (dockyard), sdk (local mode) or sdk-emulator
    name: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def median(self, key: str) -> float | None:
        values = [run[key] for run in self.runs if key in run]
        return statistics.median(values) if values and len(values) == len(self.runs) else None


def checked(name: str, result: dict[str, Any], work: Workload) -> dict[str, Any]:
    if result.get("prediction") != work.expected:
        raise ValueError(f"{name}: wrong answer {result.get('prediction')!r}, expected {work.expected!r}")
    returned = (
        f", deploy() returned {result['deploy_returned_s']:.2f} s" if "deploy_returned_s" in result else ""
    )
    print(
        f"  {name}: InService {result['in_service_s']:.2f} s{returned}, first prediction "
        f"{result['first_prediction_s']:.2f} s, teardown {result['teardown_s']:.2f} s",
        flush=True,
    )
    return result


def describe_status(client: Any, name: str) -> tuple[str | None, str]:
    """The endpoint's status and failure reason; (None, "") once it is gone."""
    try:
        described = client.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ValidationException":
            return None, ""
        raise
    return described["EndpointStatus"], described.get("FailureReason", "")


def wait_in_service(client: Any, name: str) -> None:
    deadline = time.monotonic() + DEPLOY_DEADLINE_S
    while True:
        status, reason = describe_status(client, name)
        if status == "InService":
            return
        if status in (None, "Failed", "OutOfService"):
            raise RuntimeError(f"endpoint {name} went {status or 'missing'}: {reason}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"endpoint {name} still {status} after {DEPLOY_DEADLINE_S:g} s")
        time.sleep(POLL_S)


def delete_all(client: Any, name: str) -> None:
    """Delete the endpoint (waiting until it is gone), its config and its model; each may be missing."""
    with contextlib.suppress(ClientError):
        client.delete_endpoint(EndpointName=name)
    deadline = time.monotonic() + DELETE_DEADLINE_S
    while describe_status(client, name)[0] is not None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"endpoint {name} not deleted after {DELETE_DEADLINE_S:g} s")
        time.sleep(POLL_S)
    with contextlib.suppress(ClientError):
        client.delete_endpoint_config(EndpointConfigName=name)
    with contextlib.suppress(ClientError):
        client.delete_model(ModelName=name)
