"""scripts/base-image.sh, the tests' and the demo's local base image, when its mirror cannot be reached:
a one-line error naming the mirror, exit status 1, and no image (named or not) left behind."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "base-image.sh"


def _refusing_url() -> str:
    """An http URL on 127.0.0.1 whose port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/debian"


def test_an_unreachable_mirror_fails_naming_it_and_leaves_no_image(
    docker_client: docker.DockerClient,
) -> None:
    image = f"dockyard-test-base:unreachable-{uuid.uuid4().hex[:8]}"
    mirror = _refusing_url()
    images_before = {i.id for i in docker_client.images.list(all=True)}
    env = {**os.environ, "DOCKYARD_TEST_BASE_IMAGE": image, "DOCKYARD_DEBIAN_MIRROR": mirror}

    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600, check=False
    )

    assert result.returncode == 1, result.stdout + result.stderr
    failure = re.search(
        rf"^base-image\.sh: mmdebstrap bookworm from {re.escape(mirror)} into docker import failed "
        r"\(last lines of (/tmp/dockyard-base-image\.\w+\.log) above\)$",
        result.stderr,
        re.MULTILINE,
    )
    assert failure, result.stderr
    log = Path(failure.group(1))
    assert "Could not connect to 127.0.0.1" in log.read_text()  # the log it points at says why
    log.unlink()
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(image)
    assert {i.id for i in docker_client.images.list(all=True)} == images_before
