"""dockyard logs: the emulator's per-instance files (local) and CloudWatch Logs (aws, on moto)."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest

from dockyard.errors import DockyardError
from dockyard.lifecycle.logs import LogLine, log_group, logs
from dockyard.lifecycle.target import Target
from tests.aws_fixtures import REGION


def _local_target(state_dir: Path) -> Target:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    return Target("local", REGION, "http://127.0.0.1:7474", session, state_dir=state_dir)


def test_local_logs_per_instance_and_follow(tmp_path: Path) -> None:
    directory = tmp_path / "logs" / "123456789012" / REGION / "iris"
    (directory / "AllTraffic").mkdir(parents=True)
    first = directory / "AllTraffic" / "i-1.log"
    first.write_text("loading model\nready\npartial")
    target = _local_target(tmp_path)

    assert list(logs("iris", target=target)) == [
        LogLine("AllTraffic/i-1", "loading model"),
        LogLine("AllTraffic/i-1", "ready"),
    ]

    followed = logs("iris", follow=True, poll_interval=0.01, target=target)
    assert [next(followed).message, next(followed).message] == ["loading model", "ready"]
    with first.open("a") as file:
        file.write(" line\n")
    (directory / "blue").mkdir()
    (directory / "blue" / "i-2.log").write_text("started\n")
    assert {next(followed), next(followed)} == {
        LogLine("AllTraffic/i-1", "partial line"),
        LogLine("blue/i-2", "started"),
    }
    followed.close()

    with pytest.raises(DockyardError) as caught:
        logs("absent", target=target)
    assert caught.value.message == (
        f"the endpoint absent has no logs in {tmp_path / 'logs' / '*' / REGION / 'absent'}; "
        "is it deployed on this emulator? (`dockyard endpoints list`)"
    )


def test_cloudwatch_logs(aws_env: str) -> None:
    name = f"dy-deploy-logs-{int(time.time() * 1000)}"
    client = boto3.client("logs", endpoint_url=aws_env, region_name=REGION)
    client.create_log_group(logGroupName=log_group(name))
    client.create_log_stream(logGroupName=log_group(name), logStreamName="AllTraffic/i-0abc")
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

    with pytest.raises(DockyardError) as caught:
        logs("dy-deploy-never", target="aws")
    assert caught.value.message == (
        "there is no CloudWatch log group /aws/sagemaker/Endpoints/dy-deploy-never: the endpoint "
        "dy-deploy-never does not exist in this region, or has not logged yet"
    )
