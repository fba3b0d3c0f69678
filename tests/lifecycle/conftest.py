"""Fixtures for the deploy lifecycle: a project, a small image, the aws target on moto, a call recorder.

The aws target talks to moto in server mode (SageMaker, S3, STS, CloudWatch Logs, ECR's API) and pushes
image bytes to a local registry that takes moto's ECR login (tests/aws_fixtures.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from dockyard.lifecycle.target import Target, TargetOptions

PREFIX = "dy-deploy-"  # every image, tag and project these tests make starts with it
ROLE = "arn:aws:iam::123456789012:role/dy-deploy-sagemaker"
SAMPLE = b'{"instances": [[1, 2, 3, 4]]}'


@dataclass(frozen=True)
class Image:
    tag: str
    id: str


@dataclass(frozen=True)
class Project:
    root: Path
    name: str


@dataclass(frozen=True)
class Recorded:
    service: str
    operation: str
    params: dict[str, Any]


class Recorder:
    """Every call botocore sends from a session, with the arguments it was given.

    Real botocore hooks: ``before-parameter-build`` sees the arguments, ``before-call`` (which comes after
    botocore's parameter validation and serialization) marks the call as sent.
    """

    def __init__(self, target: Target) -> None:
        self.calls: list[Recorded] = []
        self._pending: dict[str, Any] = {}
        target.session.events.register("before-parameter-build", self._parameters)
        target.session.events.register("before-call", self._sent)

    def _parameters(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._pending = dict(params)

    def _sent(self, model: Any, **_: Any) -> None:
        self.calls.append(Recorded(model.service_model.service_name, model.name, self._pending))

    def operations(self, *, mutating_only: bool = False) -> list[str]:
        read = ("Describe", "List", "Get", "Head", "Filter", "Invoke")
        return [
            f"{call.service}.{call.operation}"
            for call in self.calls
            if not (mutating_only and call.operation.startswith(read))
        ]

    def params(self, operation: str) -> dict[str, Any]:
        found = [call.params for call in self.calls if call.operation == operation]
        assert len(found) == 1, f"{operation} was called {len(found)} times"
        return found[0]

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture(scope="session")
def deploy_image(
    docker_client: docker.DockerClient, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Image]:
    """A one-file image FROM the test base (never run here: moto does not run containers)."""
    token = uuid.uuid4().hex[:12]
    context = tmp_path_factory.mktemp("deploy-image")
    (context / "token.txt").write_text(token)
    (context / "Dockerfile").write_text(f"FROM {base_image}\nCOPY token.txt /dy-deploy-token.txt\n")
    tag = f"{PREFIX}test/app:{token}"
    image, _ = docker_client.images.build(
        path=str(context), tag=tag, rm=True, forcerm=True, network_mode="none"
    )
    assert image.id is not None
    yield Image(tag, image.id)
    # force: also every tag dockyard added (<project>:<id>, <registry>/<project>:<id>)
    with suppress(docker.errors.NotFound):
        docker_client.images.remove(image.id, force=True)


def write_project(root: Path, name: str | None = None, weights: list[int] | None = None) -> Project:
    name = name or f"{PREFIX}{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "model").mkdir(exist_ok=True)
    (root / "model" / "weights.json").write_text(json.dumps({"weights": weights or [1, 2, 3, 4]}))
    (root / "sample.json").write_bytes(SAMPLE)
    (root / "dockyard.toml").write_text(
        f'[project]\nname = "{name}"\nmodel = "model"\nflavor = "sklearn"\ninstance_type = "ml.m5.large"\n'
        'sample_request = "sample.json"\nenvironment = { LOG_LEVEL = "debug" }\n'
    )
    return Project(root, name)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return write_project(tmp_path / "project")


@pytest.fixture
def aws_target(aws_env: str, ecr_registry: str, monkeypatch: pytest.MonkeyPatch) -> Target:
    """The aws target on moto; image bytes go to the registry that takes moto's ECR login."""
    monkeypatch.setenv("DOCKYARD_ECR_REGISTRY", ecr_registry)
    return TargetOptions("aws", role=ROLE).resolve()


@pytest.fixture
def recorder(aws_target: Target) -> Recorder:
    return Recorder(aws_target)
