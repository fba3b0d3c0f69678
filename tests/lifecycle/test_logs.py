"""dockyard logs: CloudWatch Logs on both targets (here moto, standing for AWS and the emulator)."""

from __future__ import annotations

import time

import boto3
import pytest

from dockyard.errors import DockyardError
from dockyard.lifecycle.logs import log_group, logs
from tests.aws_fixtures import REGION


def test_cloudwatch_logs_and_follow(aws_env: str) -> None:
    name = f"dy-deploy-logs-{int(time.time() * 1000)}"
    client = boto3.client("logs", endpoint_url=aws_env, region_name=REGION)
    client.create_log_group(logGroupName=log_group(name))
    for stream in ("AllTraffic/i-0abc", "blue/i-0def"):
        client.create_log_stream(logGroupName=log_group(name), logStreamName=stream)
    now = int(time.time() * 1000)
    client.put_log_events(
        logGroupName=log_group(name),
        logStreamName="AllTraffic/i-0abc",
        logEvents=[
            {"timestamp": now, "message": "ready"},
            {"timestamp": now + 1, "message": "200 /invocations"},
        ],
    )
    lines = list(logs(name, target="aws"))
    assert [(line.source, line.message) for line in lines] == [
        ("AllTraffic/i-0abc", "ready"),
        ("AllTraffic/i-0abc", "200 /invocations"),
    ]
    assert lines[0].timestamp == now / 1000

    # Following: what is new comes once, from every stream, including a line in the same millisecond.
    followed = logs(name, follow=True, poll_interval=0.01, target="aws")
    assert [next(followed).message, next(followed).message] == ["ready", "200 /invocations"]
    client.put_log_events(
        logGroupName=log_group(name),
        logStreamName="blue/i-0def",
        logEvents=[
            {"timestamp": now + 1, "message": "same millisecond"},
            {"timestamp": now + 5, "message": "later"},
        ],
    )
    assert [(line.source, line.message) for line in (next(followed), next(followed))] == [
        ("blue/i-0def", "same millisecond"),
        ("blue/i-0def", "later"),
    ]
    followed.close()

    with pytest.raises(DockyardError) as caught:
        logs("dy-deploy-never", target="aws")
    assert caught.value.message == (
        "there is no CloudWatch log group /aws/sagemaker/Endpoints/dy-deploy-never: the endpoint "
        "dy-deploy-never does not exist in this region, or has not logged yet"
    )
