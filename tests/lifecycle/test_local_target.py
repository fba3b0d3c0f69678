"""The local target's own half (model data as file://, the image as a local tag or a registry push),
driven through the same code as aws. The API calls go to moto here; against the real emulator they are
the lead's end-to-end tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import docker
import pytest

from dockyard.lifecycle.deploy import deploy
from dockyard.lifecycle.register import register
from dockyard.lifecycle.target import Target
from tests.aws_fixtures import REGION
from tests.lifecycle.conftest import Image, Project, Recorder
from tests.push_images import delete_manifest, manifest_digest


@pytest.fixture
def local_target(aws_env: str, tmp_path: Path) -> Target:
    session = boto3.session.Session(
        aws_access_key_id="dockyard", aws_secret_access_key="dockyard", region_name=REGION
    )
    return Target("local", REGION, aws_env, session, state_dir=tmp_path / "state")


@pytest.mark.docker
def test_local_model_data_and_image_tag(
    local_target: Target, project: Project, deploy_image: Image, docker_client: docker.DockerClient
) -> None:
    recorder = Recorder(local_target)
    result = deploy(project.root, image=deploy_image.tag, target=local_target)
    registration = result.registration
    assert registration is not None
    short = deploy_image.id[7:19]
    assert registration.image == f"{project.name}:{short}"
    assert docker_client.images.get(registration.image).id == deploy_image.id
    assert registration.model_data_url.startswith(
        f"file://{local_target.state_dir}/model-data/{project.name}/"
    )
    stored = Path(registration.model_data_url.removeprefix("file://"))
    assert hashlib.sha256(stored.read_bytes()).hexdigest()[:16] == stored.parent.name
    # No role on the local target unless one is given; no S3, STS or ECR call at all.
    assert recorder.params("CreateModel") == {
        "ModelName": registration.model_name,
        "PrimaryContainer": {
            "Image": registration.image,
            "ModelDataUrl": registration.model_data_url,
            "Environment": {"LOG_LEVEL": "debug"},
        },
        "Tags": [{"Key": "created-by", "Value": "dockyard"}],
    }
    assert {call.service for call in recorder.calls} == {"sagemaker", "sagemaker-runtime"}
    assert result.action == "created"


@pytest.mark.docker
def test_local_push_to_a_registry(
    local_target: Target, project: Project, deploy_image: Image, registry: str
) -> None:
    result = register(project.root, image=deploy_image.tag, registry=registry, target=local_target)
    short = deploy_image.id[7:19]
    assert result.image == f"{registry}/{project.name}:{short}"
    digest = manifest_digest(registry, project.name, short)
    assert digest is not None
    delete_manifest(registry, project.name, digest)
