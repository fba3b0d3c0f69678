"""ECR: the API calls against moto in server mode, the bytes to a local registry that takes ECR's login."""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import docker
import docker.errors
import pytest

from dockyard.errors import RegistryError, UsageError
from dockyard.lifecycle.calls import Aws, AwsError
from dockyard.lifecycle.target import CREDENTIALS_HINT, TargetOptions, resolve_target
from dockyard.registry.ecr import decode_token, ensure_repository, login, validate_repository_name
from dockyard.registry.push import LayerProgress, push_to_ecr
from tests.aws_fixtures import ECR_PASSWORD, ECR_USERNAME, MOTO_ACCOUNT, REGION, MotoIam
from tests.push_images import TinyImage, delete_manifest, manifest_digest, pull_by_digest, tiny_image

NO_REGION = (
    "no AWS region is configured; pass --region (e.g. --region us-east-1), set AWS_REGION, "
    "or set `region` in ~/.aws/config"
)
DOCKYARD = [sys.executable, "-m", "dockyard.cli"]
ECR_HOST = f"{MOTO_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


@pytest.fixture
def image(docker_client: docker.DockerClient, base_image: str, tmp_path: Path) -> Iterator[TinyImage]:
    with tiny_image(docker_client, base_image, tmp_path / "context", "ecr") as built:
        yield built


@pytest.mark.docker
def test_push_to_ecr_creates_the_repository_logs_in_and_pushes(
    aws_env: str, ecr_registry: str, docker_client: docker.DockerClient, image: TinyImage
) -> None:
    name = f"dy-push-test/ecr-{image.token}"
    events: list[LayerProgress] = []
    pushed = push_to_ecr(
        image.tag, _aws(), repository=f"{name}:v1", registry_override=ecr_registry, on_progress=events.append
    )
    auth = (ECR_USERNAME, ECR_PASSWORD)
    try:
        # What ECR got (in moto): the repository, with dockyard's settings and no lifecycle policy.
        ecr = boto3.client("ecr", endpoint_url=aws_env, region_name=REGION)
        described = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        assert described["repositoryUri"] == f"{ECR_HOST}/{name}"
        assert described["imageScanningConfiguration"] == {"scanOnPush": True}
        assert described["imageTagMutability"] == "MUTABLE"
        assert described["encryptionConfiguration"]["encryptionType"] == "AES256"
        tags = ecr.list_tags_for_resource(resourceArn=described["repositoryArn"])["tags"]
        assert tags == [{"Key": "created-by", "Value": "dockyard"}]
        with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
            ecr.get_lifecycle_policy(repositoryName=name)

        repository = pushed.repository
        assert (repository.account, repository.region, repository.name) == (MOTO_ACCOUNT, REGION, name)
        assert (repository.created, repository.scan_on_push) == (True, True)
        assert pushed.ecr_reference == f"{ECR_HOST}/{name}:v1"

        # What the registry got: the bytes under the repository's name, behind the token's login.
        result = pushed.result
        assert result is not None
        assert result.reference == f"{ecr_registry}/{name}:v1"
        assert manifest_digest(ecr_registry, name, "v1", auth=auth) == result.digest
        assert manifest_digest(ecr_registry, name, "v1") is None  # no login, no image: the login was needed
        assert {event.layer for event in events if event.done} == {event.layer for event in events}

        # A second push finds the repository and uploads nothing.
        again = push_to_ecr(image.tag, _aws(), repository=f"{name}:v1", registry_override=ecr_registry)
        assert again.repository.created is False
        assert again.result is not None
        assert again.result.digest == result.digest

        docker_client.images.remove(image.id, force=True)
        assert pull_by_digest(docker_client, result.pullable, auth=auth) == image.id
    finally:
        if pushed.result is not None:
            delete_manifest(ecr_registry, name, pushed.result.digest, auth=auth)


@pytest.mark.docker
def test_cli_push_ecr(
    aws_env: str, ecr_registry: str, image: TinyImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKYARD_ECR_REGISTRY", ecr_registry)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dockyard.cli",
            "push",
            image.tag,
            "--ecr",
            "--target",
            "aws",
            "--region",
            REGION,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"ECR repository {ECR_HOST}/{image.name} (created, scan on push)" in result.stderr
    digest, reference = result.stdout.splitlines()
    assert re.fullmatch(r"digest: sha256:[0-9a-f]{64}", digest)
    assert reference == f"reference: {ecr_registry}/{image.name}@{digest.removeprefix('digest: ')}"
    delete_manifest(
        ecr_registry, image.name, digest.removeprefix("digest: "), auth=(ECR_USERNAME, ECR_PASSWORD)
    )


def _aws(target: str | TargetOptions = "aws") -> Aws:
    return Aws(resolve_target(target))


def test_the_login_comes_from_the_authorization_token(aws_env: str) -> None:
    aws = _aws()
    credentials = login(aws)
    assert (credentials.registry, credentials.username, credentials.password) == (
        ECR_HOST,
        ECR_USERNAME,
        ECR_PASSWORD,
    )
    assert ECR_PASSWORD not in repr(credentials)
    # Recorded at the one AWS boundary, like every other call of the lifecycle.
    assert [call.operation for call in aws.calls] == ["GetCallerIdentity", "GetAuthorizationToken"]


def test_cli_no_region(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = subprocess.run(
        [sys.executable, "-m", "dockyard.cli", "push", "dy-push-test/iris:1", "--ecr", "--target", "aws"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {NO_REGION}"


def test_not_a_region(aws_env: str) -> None:
    with pytest.raises(UsageError) as caught:
        ensure_repository(_aws(TargetOptions("aws", region="us east 1")), "dy-push-test/none")
    assert caught.value.message == "'us east 1' is not an AWS region name; e.g. --region us-east-1"


def test_credentials_that_cannot_be_loaded(
    aws_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[profile dy-push-broken]\ncredential_process = false\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(UsageError) as caught:
        login(_aws(TargetOptions("aws", profile="dy-push-broken")))
    assert caught.value.message.startswith(
        "calling STS (creating its client): the AWS credentials could not be loaded "
        "(Error when retrieving credentials from custom-process: "
    )


def test_no_credentials(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(UsageError) as caught:
        ensure_repository(_aws(), "dy-push-test/none")
    assert caught.value.message == (
        f"calling STS GetCallerIdentity: no AWS credentials were found; {CREDENTIALS_HINT}"
    )


def test_aws_that_is_not_there(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("DOCKYARD_AWS_ENDPOINT_URL", endpoint)
    with pytest.raises(AwsError) as caught:
        ensure_repository(_aws(), "dy-push-test/none")
    assert caught.value.message == (
        f"cannot reach STS at {endpoint}/ to call GetCallerIdentity; check the network and --region"
    )


def test_access_denied_names_the_operation_and_the_permission(
    aws_env: str, moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_iam.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_iam.secret_key)
    monkeypatch.setenv("DOCKYARD_AWS_ENDPOINT_URL", moto_iam.url)
    with pytest.raises(AwsError) as caught:
        ensure_repository(_aws(), "dy-push-test/denied")
    assert caught.value.message == (
        "ECR refused CreateRepository: access denied; the credentials in use lack the IAM permission "
        f"ecr:CreateRepository (User: {moto_iam.user_arn} is not authorized to perform: ecr:CreateRepository)"
    )


def test_rejected_credentials(aws_env: str, moto_iam: MotoIam, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_AWS_ENDPOINT_URL", moto_iam.url)
    with pytest.raises(AwsError) as caught:
        login(_aws())  # aws_env's fake key is unknown to this IAM
    assert caught.value.message.startswith(
        "STS rejected the credentials for GetCallerIdentity (InvalidClientTokenId: "
    )
    assert caught.value.message.endswith(CREDENTIALS_HINT)


def test_a_token_that_is_not_user_and_password() -> None:
    assert decode_token(base64.b64encode(b"AWS:secret:with:colons").decode()) == ("AWS", "secret:with:colons")
    for token in ("not base64!", base64.b64encode(b"no-separator").decode()):
        with pytest.raises(RegistryError) as caught:
            decode_token(token)
        assert caught.value.message == (
            "ECR returned an authorization token that is not base64 of 'user:password'; cannot log in"
        )


@pytest.mark.parametrize("name", ["a", "Team/iris", "iris/", "-iris", "x" * 257])
def test_repository_names_follow_ecr_rules(name: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_repository_name(name)
    assert caught.value.message == (
        f"{name!r} is not a valid ECR repository name; use 2 to 256 lowercase letters, digits and . _ - "
        "in /-separated parts, e.g. team/iris-model"
    )


def test_an_image_id_needs_a_repository_name(aws_env: str) -> None:
    with pytest.raises(UsageError) as caught:
        push_to_ecr("sha256:" + "0" * 64, _aws())
    assert caught.value.message == (
        f"'sha256:{'0' * 64}' is an image id, not a name; "
        "give the ECR repository with --repository NAME[:TAG]"
    )
