"""Every way a deploy-lifecycle call can go wrong before or at AWS, each as one sentence."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import boto3
import pytest

from dockyard.errors import UsageError
from dockyard.lifecycle.calls import Aws, AwsError
from dockyard.lifecycle.deploy import deploy, parse_variant
from dockyard.lifecycle.invoke import invoke
from dockyard.lifecycle.register import approve_package, content_name
from dockyard.lifecycle.resources import delete_resource, describe_resource, list_resources
from dockyard.lifecycle.target import NO_REGION, Target, TargetOptions, resolve_target
from tests.aws_fixtures import REGION, MotoIam
from tests.lifecycle.conftest import Project

CREDENTIALS_HINT = (
    "configure them with `aws configure`, the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment "
    "variables, or --profile (for an SSO profile, run `aws sso login` first)"
)


def _iam_target(moto_iam: MotoIam, key: str, secret: str) -> Target:
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION)
    return Target("aws", REGION, moto_iam.url, session)


def test_credentials_and_region_problems(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_target(TargetOptions("aws", profile="dy-deploy-absent"))
    assert caught.value.message == (
        "The config profile (dy-deploy-absent) could not be found; check --profile (or AWS_PROFILE) "
        "against ~/.aws/config"
    )
    with pytest.raises(UsageError) as caught:
        resolve_target(TargetOptions("aws", emulator_url="http://127.0.0.1:7474"))
    assert caught.value.message == "--emulator-url applies to --target local"

    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(UsageError) as caught:
        resolve_target("aws")
    assert caught.value.message == NO_REGION

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(UsageError) as caught:
        list_resources("endpoints", target=TargetOptions("aws", region=REGION))
    assert caught.value.message == (
        f"calling SageMaker ListEndpoints: no AWS credentials were found; {CREDENTIALS_HINT}"
    )


def test_access_denied_and_rejected_credentials(moto_iam: MotoIam) -> None:
    limited = _iam_target(moto_iam, moto_iam.access_key, moto_iam.secret_key)
    with pytest.raises(AwsError) as caught:
        list_resources("endpoints", target=limited)
    assert caught.value.message == (
        "SageMaker refused ListEndpoints: access denied; the credentials in use lack the IAM permission "
        f"sagemaker:ListEndpoints (User: {moto_iam.user_arn} is not authorized to perform: "
        "sagemaker:ListEndpoints)"
    )
    stranger = _iam_target(moto_iam, "AKIADYDEPLOYUNKNOWN", "nothing")
    with pytest.raises(AwsError) as caught:
        list_resources("models", target=stranger)
    assert caught.value.message == (
        "SageMaker rejected the credentials for ListModels (InvalidClientTokenId: The security token "
        f"included in the request is invalid.); {CREDENTIALS_HINT}"
    )


def test_botocore_validation_is_a_usage_error(aws_env: str) -> None:
    aws = Aws(resolve_target("aws"), dry_run=True)
    with pytest.raises(UsageError) as caught:
        aws.call("sagemaker", "create_endpoint", EndpointName="dy-deploy-x")
    assert caught.value.message == (
        'CreateEndpoint would be refused: Missing required parameter in input: "EndpointConfigName"'
    )
    assert aws.calls == []


def test_argument_errors(aws_env: str, project: Project) -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: parse_variant("blue=heavy"), "--variant 'blue=heavy': expected NAME=WEIGHT[@MODEL], "),
        (
            lambda: deploy(project.root, instance_count=0, target="aws"),
            "--instance-count must be at least 1, got 0",
        ),
        (
            lambda: deploy(project.root, endpoint_name="no_underscores", target="aws"),
            "'no_underscores' is not a valid endpoint name: up to 63 letters, digits and hyphens",
        ),
        (
            lambda: deploy(project.root, variants=["a=1", "a=2"], target="aws"),
            "each --variant needs its own name",
        ),
        (
            lambda: approve_package("g/1", approval_status="Maybe", target="aws"),
            "--approval-status must be one of Approved, Rejected, PendingManualApproval, got 'Maybe'",
        ),
        (
            lambda: approve_package("just-a-name", target="aws"),
            "'just-a-name' is neither a model package ARN nor GROUP/VERSION (e.g. iris/3)",
        ),
        (
            lambda: list_resources("volumes", target="aws"),
            "unknown resource kind 'volumes'; expected one of ",
        ),
        (lambda: list_resources("models", group="g", target="aws"), "--group applies to packages only"),
        (
            lambda: invoke("e", b"x" * 6_291_457, target="aws"),
            "the request body is 6291457 bytes; InvokeEndpoint takes at most 6291456 (6 MiB)",
        ),
    ]
    for call, message in cases:
        with pytest.raises(UsageError) as caught:
            call()
        assert caught.value.message.startswith(message), caught.value.message


def test_missing_resources_are_the_services_own_errors(aws_env: str) -> None:
    with pytest.raises(AwsError) as caught:
        describe_resource("configs", "dy-deploy-none", target="aws")
    assert caught.value.message == (
        "SageMaker refused DescribeEndpointConfig: ValidationException: Could not find endpoint "
        "configuration 'arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/dy-deploy-none'."
    )
    with pytest.raises(AwsError) as caught:
        delete_resource("models", "dy-deploy-none", target="aws")
    assert caught.value.message.startswith("SageMaker refused DeleteModel: ValidationException: ")


def test_content_names_fit_sagemaker() -> None:
    long = content_name("a" * 80, "x")
    assert len(long) == 63
    assert long == content_name("a" * 80, "x")
    assert long != content_name("a" * 80, "y")


def test_importing_dockyard_stays_light_and_deploy_is_callable() -> None:
    code = (
        "import sys, dockyard, dockyard.serving.app\n"
        "assert 'boto3' not in sys.modules and 'docker' not in sys.modules, 'heavy import'\n"
        "assert callable(dockyard.deploy) and callable(dockyard.register) and callable(dockyard.invoke)\n"
        "import dockyard.lifecycle.calls\n"
        "assert callable(dockyard.deploy), 'the package replaced the function'\n"
        "print(sorted(dockyard.__all__))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "'deploy'" in result.stdout
