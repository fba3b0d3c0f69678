"""Fixtures for tests that need the real Docker engine, the local registry and the test base image.

They are set up by scripts/test-env.sh (which .ci/run runs through scripts/test.sh). A missing piece
fails the test with a message saying how to provide it: these tests never skip, in CI or elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from tests.fixture_images import build_fixture_image, remove_fixture_images, write_model

BASE_IMAGE = os.environ.get("DOCKYARD_TEST_BASE_IMAGE", "dockyard-test-base:bookworm")
REGISTRY = os.environ.get("DOCKYARD_TEST_REGISTRY", "127.0.0.1:5000")
SETUP_HINT = "run scripts/test-env.sh (it starts dockerd and the registry and builds the base image)"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"the Docker engine is not reachable ({exc}); {SETUP_HINT}", pytrace=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"the test base image {BASE_IMAGE} is missing; {SETUP_HINT}", pytrace=False)
    return BASE_IMAGE


@pytest.fixture(scope="session")
def registry() -> str:
    try:
        response = httpx.get(f"http://{REGISTRY}/v2/", timeout=5)
    except httpx.TransportError as exc:
        pytest.fail(f"no registry answers at {REGISTRY} ({exc}); {SETUP_HINT}", pytrace=False)
    if response.status_code != 200:
        pytest.fail(f"{REGISTRY}/v2/ answered {response.status_code}; {SETUP_HINT}", pytrace=False)
    return REGISTRY


@pytest.fixture(scope="session")
def fixture_image(docker_client: docker.DockerClient, base_image: str) -> Iterator[Callable[[str], str]]:
    """The fixture images (tests/fixtures/images), built on first use and removed at the session's end."""
    yield lambda name: build_fixture_image(docker_client, base_image, name)
    remove_fixture_images(docker_client)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory for the fixture images to mount."""
    return write_model(tmp_path_factory.mktemp("model"))
