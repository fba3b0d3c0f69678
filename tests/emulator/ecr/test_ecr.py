"""The local ECR through real boto3 clients and the AWS CLI: repositories in the emulator's database,
images in the real Docker engine under their ECR URIs."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError

from tests.aws_fixtures import REGION
from tests.emulator.routing.aws_cli import aws_cli, aws_json
from tests.emulator_fixtures import EmulatorProcess

pytestmark = pytest.mark.docker

ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


@pytest.fixture
def repository(docker_client: docker.DockerClient) -> Iterator[str]:
    """A unique repository name; every tag made under its URI is removed afterwards."""
    name = f"dy-ecr-test/{secrets.token_hex(4)}"
    yield name
    for image in docker_client.images.list(name=f"{REGISTRY}/{name}"):
        for tag in image.tags:
            if tag.startswith(f"{REGISTRY}/{name}:"):
                docker_client.images.remove(tag, force=True)


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    response: Any = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"]


def test_repository_lifecycle_with_engine_images(
    emulator: EmulatorProcess, docker_client: docker.DockerClient, base_image: str, repository: str
) -> None:
    ecr = emulator.client("ecr")
    created = ecr.create_repository(repositoryName=repository, tags=[{"Key": "team", "Value": "ml"}])
    uri = f"{REGISTRY}/{repository}"
    assert created["repository"]["repositoryUri"] == uri
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"
    assert created["repository"]["repositoryArn"] == arn
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []

    base = docker_client.images.get(base_image)
    base.tag(uri, "v1")
    base.tag(uri, "latest")
    [detail] = ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert sorted(detail["imageTags"]) == ["latest", "v1"]
    assert detail["imageDigest"] == base.id
    assert detail["imageSizeInBytes"] == base.attrs["Size"]
    assert detail["imagePushedAt"].tzinfo is not None
    listed = ecr.list_images(repositoryName=repository)["imageIds"]
    assert sorted(i["imageTag"] for i in listed) == ["latest", "v1"]
    assert ecr.list_images(repositoryName=repository, filter={"tagStatus": "UNTAGGED"})["imageIds"] == []
    [by_tag] = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "v1"}])["imageDetails"]
    assert by_tag["imageDigest"] == base.id

    with pytest.raises(ClientError) as missing_image:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "v9"}])
    assert _error(missing_image) == (
        "ImageNotFoundException",
        f"The image with imageId {{imageDigest:'null', imageTag:'v9'}} does not exist within the repository "
        f"with name '{repository}' in the registry with id '{ACCOUNT}'",
    )
    with pytest.raises(ClientError) as not_empty:
        ecr.delete_repository(repositoryName=repository)
    assert _error(not_empty) == (
        "RepositoryNotEmptyException",
        f"The repository with name '{repository}' in registry with id '{ACCOUNT}' cannot be deleted because "
        "it still contains images",
    )

    deleted = ecr.batch_delete_image(
        repositoryName=repository, imageIds=[{"imageTag": "latest"}, {"imageTag": "nope"}]
    )
    assert deleted["imageIds"] == [{"imageDigest": base.id, "imageTag": "latest"}]
    assert deleted["failures"] == [
        {
            "imageId": {"imageTag": "nope"},
            "failureCode": "ImageNotFound",
            "failureReason": "Requested image not found",
        }
    ]
    assert [t for t in docker_client.images.get(base_image).tags if t.startswith(uri)] == [f"{uri}:v1"]

    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "ml"}]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "stage", "Value": "dev"}])
    ecr.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "stage", "Value": "dev"}]

    ecr.delete_repository(repositoryName=repository, force=True)
    assert [t for t in docker_client.images.get(base_image).tags if t.startswith(uri)] == []
    with pytest.raises(ClientError) as gone:
        ecr.describe_repositories(repositoryNames=[repository])
    assert _error(gone) == (
        "RepositoryNotFoundException",
        f"The repository with name '{repository}' does not exist in the registry with id '{ACCOUNT}'",
    )


def test_errors_in_ecrs_shapes(emulator: EmulatorProcess, repository: str) -> None:
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName=repository)
    with pytest.raises(ClientError) as exists:
        ecr.create_repository(repositoryName=repository)
    assert _error(exists) == (
        "RepositoryAlreadyExistsException",
        f"The repository with name '{repository}' already exists in the registry with id '{ACCOUNT}'",
    )
    with pytest.raises(ClientError) as bad_name:
        ecr.create_repository(repositoryName="Not Valid")
    code, message = _error(bad_name)
    assert code == "InvalidParameterException"
    assert message.startswith("1 validation error detected: Value 'Not Valid' at 'repositoryName' failed to")
    with pytest.raises(ClientError) as immutable:
        ecr.create_repository(repositoryName=f"{repository}-b", imageTagMutability="IMMUTABLE")
    assert _error(immutable) == (
        "InvalidParameterException",
        "The local target (dockyard emulator) does not support imageTagMutability in CreateRepository yet.",
    )
    with pytest.raises(ClientError) as unserved:
        ecr.get_lifecycle_policy(repositoryName=repository)
    assert _error(unserved)[0] == "InvalidParameterException"
    assert _error(unserved)[1].startswith(
        "The operation GetLifecyclePolicy of Amazon Elastic Container Registry is not supported by the local "
        "target (dockyard emulator)"
    )
    ecr.delete_repository(repositoryName=repository)


def test_aws_cli_and_pagination_and_token(emulator: EmulatorProcess, repository: str) -> None:
    names = [f"{repository}/{index}" for index in range(3)]
    for name in names:
        aws_cli(emulator, "ecr", "create-repository", "--repository-name", name)
    listed = aws_json(emulator, "ecr", "describe-repositories", "--page-size", "2")["repositories"]
    assert [r["repositoryName"] for r in listed if r["repositoryName"] in names] == names
    assert {r["repositoryUri"] for r in listed if r["repositoryName"] in names} == {
        f"{REGISTRY}/{name}" for name in names
    }
    ecr = emulator.client("ecr")
    pages = list(ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 1}))
    assert [
        r["repositoryName"] for p in pages for r in p["repositories"] if r["repositoryName"] in names
    ] == names
    [data] = ecr.get_authorization_token()["authorizationData"]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    assert password
    assert data["proxyEndpoint"] == f"https://{REGISTRY}"
    for name in names:
        ecr.delete_repository(repositoryName=name)


def test_repositories_survive_a_restart(emulator: EmulatorProcess, repository: str) -> None:
    ecr = emulator.client("ecr")
    created = ecr.create_repository(repositoryName=repository)["repository"]
    emulator.restart()
    [found] = emulator.client("ecr").describe_repositories(repositoryNames=[repository])["repositories"]
    assert found == created
    emulator.client("ecr").delete_repository(repositoryName=repository)
