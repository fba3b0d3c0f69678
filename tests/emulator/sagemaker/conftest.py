"""Fixtures of the fleet tests on the real Docker engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from dockyard.emulator.sagemaker.reconciler import Reconciler
from tests.emulator.runtime.fleet_kit import Recorder, containers_of, images, reconciler
from tests.fixture_images import remove_fixture_images


@pytest.fixture(scope="session")
def image(docker_client: docker.DockerClient, base_image: str) -> Iterator[Callable[[str], str]]:
    yield images(docker_client, base_image)
    remove_fixture_images(docker_client)


@pytest.fixture
def events() -> Recorder:
    return Recorder()


@pytest.fixture
def fleet(tmp_path: Path, events: Recorder, docker_client: docker.DockerClient) -> Iterator[Reconciler]:
    fleet = reconciler(tmp_path / "state", events)
    yield fleet
    fleet.stop_all()
    fleet.close()
    assert containers_of(docker_client, fleet) == []
