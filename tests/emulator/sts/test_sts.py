"""The local STS through real boto3 clients and the AWS CLI against the emulator process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.aws_fixtures import REGION
from tests.emulator.routing.aws_cli import aws_json
from tests.emulator_fixtures import EmulatorProcess

pytestmark = pytest.mark.docker  # the emulator's fleet talks to the engine at start

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/SageMakerExecution"


def test_caller_identity_is_the_configured_account(emulator: EmulatorProcess) -> None:
    identity = emulator.client("sts").get_caller_identity()
    assert (identity["Account"], identity["Arn"], identity["UserId"]) == (
        ACCOUNT,
        f"arn:aws:iam::{ACCOUNT}:root",
        ACCOUNT,
    )
    assert aws_json(emulator, "sts", "get-caller-identity")["Account"] == ACCOUNT


def test_assumed_role_credentials_work_and_say_who_they_are(emulator: EmulatorProcess) -> None:
    answer = emulator.client("sts").assume_role(RoleArn=ROLE, RoleSessionName="notebook", DurationSeconds=900)
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert len(credentials["AccessKeyId"]) == 20
    assert credentials["SessionToken"]
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/SageMakerExecution/notebook"
    assert answer["AssumedRoleUser"]["Arn"] == arn
    assert answer["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )
    identity = session.client("sts", endpoint_url=emulator.url).get_caller_identity()
    assert identity["Arn"] == arn
    assert identity["UserId"] == answer["AssumedRoleUser"]["AssumedRoleId"]
    # The same credentials reach the other services.
    assert "Models" in session.client("sagemaker", endpoint_url=emulator.url).list_models()
    token = emulator.client("sts").get_session_token()["Credentials"]
    assert token["AccessKeyId"].startswith("ASIA")


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: Any = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_sts_refuses_what_it_does_not_honour(emulator: EmulatorProcess) -> None:
    sts = emulator.client("sts")
    with pytest.raises(ClientError) as policy:
        sts.assume_role(RoleArn=ROLE, RoleSessionName="s1", Policy='{"Version": "2012-10-17"}')
    assert _error(policy) == (
        "ValidationError",
        "The local target (dockyard emulator) does not support Policy in AssumeRole yet.",
        400,
    )
    with pytest.raises(ClientError) as other_account:
        sts.assume_role(RoleArn="arn:aws:iam::210987654321:role/x", RoleSessionName="s1")
    assert _error(other_account) == (
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole on resource: "
        f"arn:aws:iam::210987654321:role/x (the local target serves account {ACCOUNT} only)",
        403,
    )
    with pytest.raises(ClientError) as not_an_arn:
        sts.assume_role(RoleArn="arn:aws:s3:::bucket/key-that-is-long", RoleSessionName="s1")
    assert _error(not_an_arn) == ("ValidationError", "arn:aws:s3:::bucket/key-that-is-long is invalid", 400)
    with pytest.raises(ClientError) as unserved:
        sts.decode_authorization_message(EncodedMessage="x")
    assert _error(unserved) == (
        "ValidationError",
        "The operation DecodeAuthorizationMessage of AWS Security Token Service is not supported by the "
        "local target (dockyard emulator); supported: GetCallerIdentity, AssumeRole, GetSessionToken.",
        400,
    )


def test_issued_credentials_carry_the_emulators_secret_when_it_has_one(tmp_path: Path) -> None:
    from dockyard.emulator.context import Caller
    from dockyard.emulator.sts.provider import StsProvider

    ctx = Caller(ACCOUNT, REGION, "req", "AKID")
    checked = StsProvider(tmp_path / "a", secret=lambda: "the-emulators-secret")
    issued = checked.handle(ctx, "AssumeRole", {"RoleArn": ROLE, "RoleSessionName": "s"})["Credentials"]
    assert issued["SecretAccessKey"] == "the-emulators-secret"
    assert checked.credentials.secret_for(issued["AccessKeyId"]) == "the-emulators-secret"
    unchecked = StsProvider(tmp_path / "b")
    random = unchecked.handle(ctx, "GetSessionToken", {})["Credentials"]
    assert len(random["SecretAccessKey"]) == 40
    assert unchecked.credentials.secret_for(random["AccessKeyId"]) == random["SecretAccessKey"]
    assert unchecked.credentials.secret_for("AKIDNOTISSUED") is None
