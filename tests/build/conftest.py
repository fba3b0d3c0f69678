"""Fixtures shared by the run and check tests: the fixture images and a model to mount."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from tests.build.fixture_images import build_fixture_image, remove_fixture_images, write_model


@pytest.fixture(scope="session")
def fixture_image(docker_client: docker.DockerClient, base_image: str) -> Iterator[Callable[[str], str]]:
    yield lambda name: build_fixture_image(docker_client, base_image, name)
    remove_fixture_images(docker_client)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("model"))
