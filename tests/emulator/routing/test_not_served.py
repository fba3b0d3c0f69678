"""Services the local target does not serve answer real boto3 clients and the AWS CLI with an error that
names the service and the operation, in the client's own protocol."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.routing.aws_cli import aws_cli
from tests.emulator_fixtures import EmulatorProcess

pytestmark = pytest.mark.docker  # the emulator's fleet talks to the engine at start


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    response: Any = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"]


def test_application_auto_scaling_is_named(emulator: EmulatorProcess) -> None:
    client = emulator.client("application-autoscaling")
    with pytest.raises(ClientError) as caught:
        client.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId="endpoint/ep/variant/AllTraffic",
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            MinCapacity=1,
            MaxCapacity=2,
        )
    code, message = _error(caught)
    assert code == "UnknownOperationException"
    assert message.startswith(
        "Application Auto Scaling (application-autoscaling) is not served by the local target (dockyard "
        "emulator), so the operation RegisterScalableTarget cannot run here; use AWS itself for it."
    )


def test_cloudwatch_metrics_are_named(emulator: EmulatorProcess) -> None:
    with pytest.raises(ClientError) as caught:
        emulator.client("cloudwatch").put_metric_data(
            Namespace="x", MetricData=[{"MetricName": "m", "Value": 1.0}]
        )
    code, message = _error(caught)
    assert code == "UnknownOperationException"
    assert message.startswith(
        "Amazon CloudWatch (cloudwatch) is not served by the local target (dockyard emulator), so the "
        "operation PutMetricData cannot run here"
    )
    done = aws_cli(emulator, "cloudwatch", "list-metrics", check=False)
    assert done.returncode != 0
    assert "Amazon CloudWatch (cloudwatch) is not served by the local target" in done.stderr
    assert "ListMetrics" in done.stderr


def test_query_and_rest_services_are_named(emulator: EmulatorProcess) -> None:
    with pytest.raises(ClientError) as sns:
        emulator.client("sns").list_topics()
    assert _error(sns)[0] == "InvalidAction"
    assert _error(sns)[1].startswith(
        "Amazon Simple Notification Service (sns) is not served by the local target (dockyard emulator), so "
        "the operation ListTopics cannot run here"
    )
    with pytest.raises(ClientError) as functions:
        emulator.client("lambda").list_functions()
    assert _error(functions)[0] == "UnknownOperationException"
    assert (
        "AWS Lambda (lambda) is not served by the local target (dockyard emulator), so the request GET "
        "/2015-03-31/functions cannot run here" in _error(functions)[1]
    )
