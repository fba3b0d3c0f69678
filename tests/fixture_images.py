"""The images of tests/fixtures/images/<name>, built for `run` and `check` tests.

Each is built at most once per test session from the test base image (a cache shared by the test
modules, whose session fixtures call :func:`build_fixture_image`), and removed when the session ends.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import tempfile
from pathlib import Path

import docker
import docker.errors
import pytest

from dockyard.image.runtime_wheel import write_runtime_wheel

FIXTURES = Path(__file__).parent / "fixtures" / "images"
PREFIX = "dy-check-"  # every container and image these tests make starts with it
REPOSITORY = "dy-check-test"
SAMPLE = b"1,2,3,4\n"
PREDICTION = "30.0\n"  # SAMPLE · WEIGHTS
WEIGHTS = [1, 2, 3, 4]
# Tags of this session only: another test session on the same engine removes its own when it ends.
SESSION = f"s{secrets.token_hex(4)}"

_built: dict[str, str] = {}


def build_fixture_image(client: docker.DockerClient, base_image: str, name: str) -> str:
    if name in _built:
        return _built[name]
    tag = f"{REPOSITORY}/{name}:{SESSION}"
    with tempfile.TemporaryDirectory(prefix=PREFIX) as tmp:
        context = Path(tmp) / name
        shutil.copytree(FIXTURES / name, context)
        if name == "dockyard":
            write_runtime_wheel(context / "wheels")
        try:
            client.images.build(
                path=str(context),
                tag=tag,
                buildargs={"BASE_IMAGE": base_image},
                network_mode="host",
                rm=True,
                forcerm=True,
            )
        except docker.errors.BuildError as exc:
            output = "".join(str(line.get("stream") or line.get("error") or "") for line in exc.build_log)
            pytest.fail(f"building the fixture image {name} failed: {exc}\n{output[-3000:]}", pytrace=False)
    _built[name] = tag
    return tag


def remove_fixture_images(client: docker.DockerClient) -> None:
    """Remove every fixture image built in this session (the test modules' session fixtures call it)."""
    for tag in list(_built.values()):
        with contextlib.suppress(docker.errors.NotFound):
            client.images.remove(tag, force=True)
    _built.clear()


def write_model(directory: Path) -> Path:
    """The fixture images' model: weights for a dot product."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "weights.json").write_text(json.dumps({"weights": WEIGHTS}))
    return directory


def leftovers(client: docker.DockerClient, name: str) -> list[str]:
    """Containers and images whose name starts with ``name`` (what a test should have removed)."""
    containers = [c.name for c in client.containers.list(all=True, filters={"name": name})]
    images = [tag for image in client.images.list() for tag in image.tags if tag.startswith(name)]
    return [*containers, *images]


def leftovers_of(client: docker.DockerClient, image: str) -> list[str]:
    """Containers and temporary images that dockyard made from ``image`` and left behind."""
    label = {"label": f"dockyard.image={image}"}
    containers = [c.name for c in client.containers.list(all=True, filters=label)]
    return [*containers, *(i.id for i in client.images.list(filters=label))]
