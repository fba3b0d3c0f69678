"""The local target's own half: the same S3 and ECR calls as aws, the image tagged in the engine the
emulator runs (and pushed only to a registry given). The API calls go to moto here, standing for the
emulator's own S3, ECR and STS; against the real emulator they are the end-to-end tests'."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import docker
import pytest

from dockyard.archive import pack
from dockyard.lifecycle.deploy import deploy
from dockyard.lifecycle.register import register
from dockyard.lifecycle.target import Target
from tests.aws_fixtures import MOTO_ACCOUNT, REGION
from tests.lifecycle.conftest import Image, Project, Recorder
from tests.push_images import delete_manifest, manifest_digest

ECR_HOST = f"{MOTO_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
BUCKET = f"dockyard-{MOTO_ACCOUNT}-{REGION}"


@pytest.fixture
def local_target(aws_env: str) -> Target:
    session = boto3.session.Session(
        aws_access_key_id="dockyard", aws_secret_access_key="dockyard", region_name=REGION
    )
    return Target("local", REGION, aws_env, session)


@pytest.mark.docker
def test_local_model_data_in_s3_and_the_image_under_its_ecr_uri(
    local_target: Target,
    project: Project,
    deploy_image: Image,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    recorder = Recorder(local_target)
    uploads: list[tuple[int, int]] = []
    result = deploy(
        project.root,
        image=deploy_image.tag,
        target=local_target,
        on_upload=lambda sent, total: uploads.append((sent, total)),
    )
    registration = result.registration
    assert registration is not None
    short = deploy_image.id[7:19]
    # Exactly as on AWS: an ECR URI (tagged in this engine, since the emulator runs containers here) ...
    assert registration.image == f"{ECR_HOST}/{project.name}:{short}"
    assert docker_client.images.get(registration.image).id == deploy_image.id
    ecr = boto3.client("ecr", endpoint_url=local_target.endpoint_url, region_name=REGION)
    described = ecr.describe_repositories(repositoryNames=[project.name])["repositories"][0]
    assert described["repositoryUri"] == f"{ECR_HOST}/{project.name}"
    # ... and the model data in S3, uploaded through boto3's managed transfer with its progress.
    archive = pack(project.root / "model", tmp_path / "expected.tar.gz")
    key = f"dockyard/{project.name}/{archive.sha256[:16]}/model.tar.gz"
    assert registration.model_data_url == f"s3://{BUCKET}/{key}"
    s3 = boto3.client("s3", endpoint_url=local_target.endpoint_url, region_name=REGION)
    assert hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).hexdigest() == archive.sha256
    assert uploads[-1] == (archive.size, archive.size)
    # No role on the local target unless one is given; no image push (the engine is the emulator's).
    assert recorder.params("CreateModel") == {
        "ModelName": registration.model_name,
        "PrimaryContainer": {
            "Image": registration.image,
            "ModelDataUrl": registration.model_data_url,
            "Environment": {"LOG_LEVEL": "debug"},
        },
        "Tags": [{"Key": "created-by", "Value": "dockyard"}],
    }
    assert "ecr.GetAuthorizationToken" not in recorder.operations()
    assert result.action == "created"
    docker_client.images.remove(registration.image)


@pytest.mark.docker
def test_local_push_to_a_registry(
    local_target: Target,
    project: Project,
    deploy_image: Image,
    registry: str,
    docker_client: docker.DockerClient,
) -> None:
    result = register(project.root, image=deploy_image.tag, registry=registry, target=local_target)
    short = deploy_image.id[7:19]
    assert result.image == f"{ECR_HOST}/{project.name}:{short}"
    digest = manifest_digest(registry, project.name, short)
    assert digest is not None
    delete_manifest(registry, project.name, digest)
    docker_client.images.remove(result.image)
