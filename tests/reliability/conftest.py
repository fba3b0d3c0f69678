"""Fixtures of the fault suite: a private emulator per test (it may be SIGKILLed), and the serving image."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from tests.fixture_images import build_fixture_image, remove_fixture_images
from tests.reliability.harness import Emulator


@pytest.fixture(scope="package")
def serving_image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    """dockyard's own server, reading /opt/ml/model/weights.json."""
    yield build_fixture_image(docker_client, base_image, "dockyard")
    remove_fixture_images(docker_client)


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def start(state_dir: Path | None = None, **env: str) -> Emulator:
        emulator = Emulator(state_dir or tmp_path / "state", env)
        started.append(emulator)
        emulator.start()
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
        emulator.remove_containers()
