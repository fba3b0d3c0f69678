"""``dockyard push`` to a plain registry: the real engine, the local registry, pulled back by digest."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
from rich.console import Console

from dockyard.cli.push import LayerBars
from dockyard.errors import RegistryError, UsageError
from dockyard.registry.push import (
    ImageName,
    LayerProgress,
    _Engine,
    parse_image_name,
    parse_target,
    push_image,
)
from tests.push_images import TinyImage, delete_manifest, manifest_digest, pull_by_digest, tiny_image

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
DOCKYARD = [sys.executable, "-m", "dockyard.cli"]


@pytest.fixture
def image(docker_client: docker.DockerClient, base_image: str, tmp_path: Path) -> Iterator[TinyImage]:
    with tiny_image(docker_client, base_image, tmp_path / "context", "push") as built:
        yield built


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dockyard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DOCKYARD, *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iris", ImageName(None, "iris", None)),
        ("team/iris:1.0", ImageName(None, "team/iris", "1.0")),
        ("127.0.0.1:5000/team/iris:1.0", ImageName("127.0.0.1:5000", "team/iris", "1.0")),
        ("localhost/iris", ImageName("localhost", "iris", None)),
        (
            "1234.dkr.ecr.eu-west-1.amazonaws.com/a/b:v_2",
            ImageName("1234.dkr.ecr.eu-west-1.amazonaws.com", "a/b", "v_2"),
        ),
        ("sha256:" + "a" * 64, None),
        ("Team/iris", None),
        ("iris@sha256:" + "a" * 64, None),
    ],
)
def test_image_names_split_as_docker_splits_them(text: str, expected: ImageName | None) -> None:
    assert parse_image_name(text) == expected


def test_a_target_must_name_a_registry() -> None:
    with pytest.raises(UsageError) as caught:
        parse_target("team/iris:1.0")
    assert caught.value.message == (
        "'team/iris:1.0' names no registry; put the registry's host first, e.g. 127.0.0.1:5000/team/iris:1.0 "
        "(or docker.io/team/iris:1.0 for Docker Hub)"
    )


def test_a_target_must_be_an_image_reference() -> None:
    with pytest.raises(UsageError) as caught:
        parse_target("127.0.0.1:5000/Iris Model")
    assert caught.value.message == (
        "'127.0.0.1:5000/Iris Model' is not an image reference; expected REGISTRY/REPOSITORY[:TAG] with a "
        "lowercase repository, e.g. 127.0.0.1:5000/iris:1.0"
    )


def test_an_image_without_a_registry_needs_a_target() -> None:
    with pytest.raises(UsageError) as caught:
        push_image("dy-push-test/iris:1.0")
    assert caught.value.message == (
        "'dy-push-test/iris:1.0' names no registry; give a target with --to REGISTRY/REPO[:TAG], or use --ecr"
    )


@pytest.mark.docker
def test_push_then_pull_back_by_digest(
    docker_client: docker.DockerClient, registry: str, image: TinyImage
) -> None:
    events: list[LayerProgress] = []
    screen = io.StringIO()
    bars = LayerBars(Console(file=screen, force_terminal=True, width=120))

    def record(event: LayerProgress) -> None:
        events.append(event)
        bars(event)

    with bars:
        result = push_image(image.tag, f"{registry}/{image.name}", on_progress=record)
    try:
        assert (result.repository, result.tag) == (f"{registry}/{image.name}", image.token)
        assert DIGEST.fullmatch(result.digest)
        assert result.pullable == f"{registry}/{image.name}@{result.digest}"
        assert manifest_digest(registry, image.name, image.token) == result.digest

        # Two layers (the base's and our file's), each followed to its end; ours is new to the registry.
        last = {event.layer: event for event in events}
        assert len(last) == 2
        assert all(event.done for event in last.values())
        assert any(event.status == "Pushing" and event.total for event in events)
        assert [event.status for event in last.values()].count("Pushed") >= 1
        for layer in last:
            assert layer in screen.getvalue()

        # Again, by the registry-qualified name alone: same digest, nothing uploaded.
        again: list[LayerProgress] = []
        assert push_image(result.reference, on_progress=again.append).digest == result.digest
        assert {event.layer: event.status for event in again} == dict.fromkeys(last, "Layer already exists")

        docker_client.images.remove(image.id, force=True)
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(image.id)
        assert pull_by_digest(docker_client, result.pullable) == image.id
    finally:
        delete_manifest(registry, image.name, result.digest)


@pytest.mark.docker
def test_a_registry_that_is_not_there(docker_client: docker.DockerClient, image: TinyImage) -> None:
    address = f"127.0.0.1:{_free_port()}"
    target = f"{address}/dy-push-test/nowhere"
    with pytest.raises(RegistryError) as caught:
        push_image(image.tag, target)
    message = caught.value.message
    assert message.startswith(
        f"pushing {target}:{image.token} failed: cannot reach the registry at {address} ("
    )
    assert f"dial tcp {address}: connect: connection refused" in message
    assert message.endswith("); check that it is running and the address is right")
    assert docker_client.images.list(name=target) == []  # the tag made for the push is gone again


@pytest.mark.docker
def test_a_registry_that_wants_a_login(image: TinyImage, ecr_registry: str) -> None:
    target = f"{ecr_registry}/{image.name}:{image.token}"
    with pytest.raises(RegistryError) as caught:
        push_image(image.tag, target)
    assert caught.value.message == (
        f"pushing {target} failed: the registry at {ecr_registry} refused it (no basic auth credentials); "
        f"log in first with `docker login {ecr_registry}`"
    )


@pytest.mark.docker
def test_a_login_the_registry_refuses(ecr_registry: str) -> None:
    with _Engine() as engine, pytest.raises(RegistryError) as caught:
        engine.login("AWS", "not-the-password", ecr_registry)
    assert caught.value.message == (
        f"logging in to the registry {ecr_registry}: "
        f"login attempt to http://{ecr_registry}/v2/ failed with status: 401 Unauthorized"
    )


@pytest.mark.docker
def test_a_missing_local_image(registry: str) -> None:
    with pytest.raises(UsageError) as caught:
        push_image("dy-push-test/absent:none", f"{registry}/dy-push-test/absent")
    assert caught.value.message == (
        "there is no local image 'dy-push-test/absent:none'; build it first (`dockyard build`) "
        "or check the name with `docker images`"
    )


@pytest.mark.docker
def test_cli_push_prints_the_digest_and_the_reference(registry: str, image: TinyImage) -> None:
    repository = f"{registry}/dy-push-test/cli"
    result = _dockyard("push", image.tag, "--to", f"{repository}:{image.token}")
    assert result.returncode == 0, result.stderr
    digest, reference = result.stdout.splitlines()
    assert DIGEST.fullmatch(digest.removeprefix("digest: "))
    assert reference == f"reference: {repository}@{digest.removeprefix('digest: ')}"
    # Not a terminal: one plain line per layer state, never a bar.
    assert re.search(r"^[0-9a-f]{12}: Pushed$", result.stderr, re.MULTILINE), result.stderr
    assert f"pushed {repository}:{image.token} in " in result.stderr
    delete_manifest(registry, "dy-push-test/cli", digest.removeprefix("digest: "))


@pytest.mark.docker
def test_cli_push_failure_is_one_line(image: TinyImage) -> None:
    address = f"127.0.0.1:{_free_port()}"
    result = _dockyard("push", image.tag, "--to", f"{address}/dy-push-test/nowhere")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: pushing {address}/dy-push-test/nowhere:{image.token} failed: ")
    assert "connection refused" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_push_takes_one_destination() -> None:
    result = _dockyard("push", "dy-push-test/iris", "--ecr", "--to", "127.0.0.1:5000/iris")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: give either --to REGISTRY/REPO[:TAG] or --ecr, not both"
    result = _dockyard("push", "dy-push-test/iris", "--to", "127.0.0.1:5000/iris", "--region", "us-east-1")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --repository and the target options (--target, --region, ...) apply to --ecr only"
    )
