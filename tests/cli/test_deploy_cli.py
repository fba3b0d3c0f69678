"""The deploy lifecycle's commands: output for people and scripts, one-line errors, exit codes.

The aws target runs against moto in server mode; the commands run in-process through typer's runner.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from rich.console import Console
from typer.testing import CliRunner

from dockyard.cli.deploy import EndpointProgress
from dockyard.cli.main import app
from dockyard.lifecycle.deploy import EndpointState, VariantState
from tests.aws_fixtures import REGION
from tests.lifecycle import conftest as deploy_fixtures
from tests.lifecycle.conftest import ROLE, Image, Project, write_project

# The deploy tests' fixtures, shared with these tests.
aws_target = deploy_fixtures.aws_target
deploy_image = deploy_fixtures.deploy_image
project = deploy_fixtures.project

runner = CliRunner()


def _dockyard(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def endpoint(aws_env: str) -> Iterator[str]:
    """An endpoint made in moto with boto3 directly."""
    sagemaker = boto3.client("sagemaker", endpoint_url=aws_env, region_name=REGION)
    name = f"dy-deploy-cli-{_closed_port()}"
    sagemaker.create_model(ModelName=name, PrimaryContainer={"Image": "img:1"}, ExecutionRoleArn=ROLE)
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    yield name
    # The test may have deleted some of them already.
    with contextlib.suppress(ClientError):
        sagemaker.delete_endpoint(EndpointName=name)
    sagemaker.delete_endpoint_config(EndpointConfigName=name)
    sagemaker.delete_model(ModelName=name)


def test_endpoints_list_describe_delete(aws_env: str, endpoint: str) -> None:
    code, out, _ = _dockyard("endpoints", "list", "--target", "aws", "--output", "json")
    assert code == 0
    listed = {item["EndpointName"]: item for item in json.loads(out)}
    assert listed[endpoint]["EndpointStatus"] == "InService"

    code, out, _ = _dockyard("endpoints", "list", "--target", "aws")
    assert code == 0
    assert "EndpointName" in out
    assert endpoint in out

    code, out, _ = _dockyard("endpoints", "describe", endpoint, "--target", "aws", "--output", "json")
    assert code == 0
    described = json.loads(out)
    assert (described["EndpointName"], described["EndpointConfigName"]) == (endpoint, endpoint)
    assert "ResponseMetadata" not in described

    code, out, _ = _dockyard("endpoints", "delete", endpoint, "--target", "aws", "--wait")
    assert (code, out) == (0, f"deleted endpoint {endpoint}\n")
    code, _, err = _dockyard("endpoints", "describe", endpoint, "--target", "aws")
    assert code == 1
    assert err == (
        "error: SageMaker refused DescribeEndpoint: ValidationException: Could not find endpoint "
        f"'arn:aws:sagemaker:us-east-1:123456789012:endpoint/{endpoint}'.\n"
    )


def test_invoke_prints_the_raw_body(aws_env: str, endpoint: str, tmp_path: Path) -> None:
    (tmp_path / "request.csv").write_text("1,2,3,4\n")
    code, out, _ = _dockyard("invoke", endpoint, "--data", str(tmp_path / "request.csv"), "--target", "aws")
    assert (code, out) == (0, "body")  # moto's fixed answer, as it came: no newline added
    code, out, _ = _dockyard(
        "invoke", endpoint, "--data", str(tmp_path / "request.csv"), "--target", "aws", "--output", "json"
    )
    assert code == 0
    assert json.loads(out)["body"] == "body"
    code, _, err = _dockyard("invoke", endpoint, "--data", str(tmp_path / "absent.json"), "--target", "aws")
    assert (code, err) == (
        2,
        f"error: --data {tmp_path / 'absent.json'}: cannot read it (No such file or directory)\n",
    )


@pytest.mark.docker
def test_deploy_dry_run_prints_the_calls(aws_target: object, project: Project, deploy_image: Image) -> None:
    args = ("deploy", "-C", str(project.root), "--image", deploy_image.tag, "--target", "aws", "--role", ROLE)
    code, out, _ = _dockyard(*args, "--dry-run")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1] == f"dry run: the endpoint {project.name} would be created (nothing was changed)"
    assert any(
        line.startswith("sagemaker.create_endpoint(EndpointName=") and "# not sent: dry run" in line
        for line in lines
    )
    assert any(line.startswith("sts.get_caller_identity()") and line.endswith("# sent") for line in lines)

    code, out, _ = _dockyard(*args, "--dry-run", "--output", "json")
    assert code == 0
    plan = json.loads(out)
    assert plan["dry_run"] is True
    held_back = [call["operation"] for call in plan["calls"] if not call["sent"]]
    assert held_back[-3:] == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]


def test_usage_errors_exit_2_with_one_line(aws_env: str, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    code, _, err = _dockyard("register", "-C", str(project.root), "--target", "aws")
    assert code == 2
    assert err == (
        "error: --target aws needs an execution role for SageMaker to pull the image and the model data: "
        "pass --role arn:aws:iam::<account>:role/<name> or set DOCKYARD_ROLE_ARN\n"
    )
    code, _, err = _dockyard("endpoints", "list", "--target", "nowhere")
    assert (code, err) == (2, "error: --target must be local or aws, got 'nowhere'\n")
    code, _, err = _dockyard("endpoints", "list", "--target", "local", "--profile", "dev")
    assert (code, err) == (
        2,
        "error: --profile applies to --target aws; the local emulator's credentials come from its state "
        "directory\n",
    )
    code, _, err = _dockyard("deploy", "-C", str(project.root), "--variant", "blue:1", "--target", "aws")
    assert (code, err) == (
        2,
        "error: --variant 'blue:1': expected NAME=WEIGHT[@MODEL], "
        "e.g. green=0.9 or blue=0.1@iris-1a2b3c4d5e\n",
    )


def test_unreachable_services_exit_1_with_one_line(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("DOCKYARD_AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    code, _, err = _dockyard("endpoints", "list", "--target", "aws")
    assert (code, err) == (
        1,
        f"error: cannot reach SageMaker at http://127.0.0.1:{port}/ to call ListEndpoints; "
        "check the network and --region\n",
    )
    code, _, err = _dockyard("models", "list", "--emulator-url", f"http://127.0.0.1:{port}")
    assert (code, err) == (
        1,
        f"error: no dockyard emulator answers at http://127.0.0.1:{port}; start one with "
        "`dockyard emulator up --detach` or leave out --emulator-url to let dockyard start one\n",
    )


def _states() -> list[EndpointState]:
    creating = EndpointState(
        "iris", "Creating", "iris-c", None, (VariantState("AllTraffic", 0, 2, 1.0, "Creating"),)
    )
    serving = EndpointState(
        "iris", "InService", "iris-c", None, (VariantState("AllTraffic", 2, 2, 1.0, None),)
    )
    return [creating, creating, serving]


def test_endpoint_progress_is_plain_lines_without_a_terminal() -> None:
    out = io.StringIO()
    with EndpointProgress(Console(file=out, force_terminal=False)) as progress:
        for state in _states():
            progress(state)
    assert out.getvalue() == "iris: Creating; AllTraffic 0/2\niris: InService; AllTraffic 2/2\n"


def test_endpoint_progress_is_a_live_table_on_a_terminal() -> None:
    out = io.StringIO()
    with EndpointProgress(Console(file=out, force_terminal=True, width=100, color_system=None)) as progress:
        for state in _states():
            progress(state)
    text = out.getvalue()
    assert "iris: InService" in text
    assert "instances (current/desired)" in text
    assert "2/2" in text
    assert "\x1b[" in text  # the live display redraws in place
