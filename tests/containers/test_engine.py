"""What dockyard says when the Docker engine does not answer: one sentence naming the engine and why."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.containers.engine import docker_errors, engine_problem
from dockyard.errors import EngineUnavailable

# The docker SDK leaves the socket of a failed unix-socket connect unclosed; it is reported when collected,
# which the fixture makes happen inside the test that caused it.
pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture
def absent_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[docker.DockerClient]:
    url = f"unix://{tmp_path / 'absent.sock'}"
    monkeypatch.setenv("DOCKER_HOST", url)
    # A pinned API version: the SDK would otherwise ask the (absent) engine for it on construction.
    client = docker.DockerClient(base_url=url, version="1.43", timeout=5)
    yield client
    client.close()
    gc.collect()


def test_a_lost_connection_is_an_engine_error(tmp_path: Path, absent_engine: docker.DockerClient) -> None:
    with pytest.raises(EngineUnavailable) as caught, docker_errors("inspecting dy-x"):
        absent_engine.api.inspect_container("dy-x")
    assert caught.value.message == (
        f"inspecting dy-x: the Docker engine at unix://{tmp_path / 'absent.sock'} does not answer: "
        "no such file or directory"
    )


def test_engine_problem(tmp_path: Path, absent_engine: docker.DockerClient) -> None:
    assert engine_problem(absent_engine) == (
        f"The Docker engine at unix://{tmp_path / 'absent.sock'} does not answer: no such file or directory"
    )


def test_engine_problem_without_a_client(tmp_path: Path, absent_engine: docker.DockerClient) -> None:
    assert engine_problem() == (
        f"The Docker engine at unix://{tmp_path / 'absent.sock'} does not answer: no such file or directory"
    )
    gc.collect()


@pytest.mark.docker
def test_an_answering_engine_has_no_problem(docker_client: docker.DockerClient) -> None:
    assert engine_problem(docker_client) is None
