"""The local IAM's GetRole through real boto3 clients and the AWS CLI against the emulator process."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.routing.aws_cli import aws_cli, aws_json
from tests.emulator_fixtures import EmulatorProcess

pytestmark = pytest.mark.docker  # the emulator's fleet talks to the engine at start

ACCOUNT = "123456789012"


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: Any = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_iam_get_role_synthesizes_the_role(emulator: EmulatorProcess) -> None:
    role = emulator.client("iam").get_role(RoleName="SageMakerExecution")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
    assert role["RoleId"].startswith("AROA")
    assert len(role["RoleId"]) == 21
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert (
        aws_json(emulator, "iam", "get-role", "--role-name", "SageMakerExecution")["Role"]["RoleId"]
        == (role["RoleId"])
    )
    with pytest.raises(ClientError) as caught:
        emulator.client("iam").list_roles()
    assert _error(caught)[0] == "ValidationError"
    assert "ListRoles of AWS Identity and Access Management is not supported" in _error(caught)[1]
    failed = aws_cli(emulator, "iam", "get-role", "--role-name", "bad name", check=False)
    assert failed.returncode != 0
    assert "Value 'bad name' at 'roleName' failed to satisfy constraint" in failed.stderr
