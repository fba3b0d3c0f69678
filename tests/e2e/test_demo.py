"""`dockyard demo`, the README's first command, end to end on a private emulator and state directory:
it asserts only on what this run made, never on what a user's own demo left on the engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from dockyard.emulator.sagemaker.instances import LABEL_EMULATOR, emulator_id
from tests.conftest import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_demo_deploys_to_the_local_sagemaker_and_predicts(
    tmp_path: Path, base_image: str, docker_client: docker.DockerClient
) -> None:
    env = {
        **os.environ,
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
        "DOCKYARD_EMULATOR_PORT": str(free_port()),
        "DOCKYARD_DEMO_BASE_IMAGE": base_image,
        "DOCKYARD_DEMO_NETWORK_MODE": "host",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    env.pop("DOCKYARD_EMULATOR_URL", None)
    dockyard = [sys.executable, "-m", "dockyard.cli"]
    try:
        result = subprocess.run(
            [*dockyard, "demo"], capture_output=True, text=True, timeout=900, env=env, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        # Iris rows of class 0 (setosa) and 2 (virginica), through the endpoint's container.
        assert re.search(r"Prediction: \{\"predictions\": ?\[0, ?2\]\}", out), out
        arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/dockyard-demo"
        assert f"dockyard-demo InService · {arn}" in out
        # The printed boto3 code runs as printed, against the endpoint the demo left running.
        snippet = out[out.index("import boto3") : out.index("Done.")]
        ran = subprocess.run(
            [sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60, env=env, check=False
        )
        assert ran.returncode == 0, ran.stderr
        assert re.fullmatch(r"\{\"predictions\": ?\[0, ?2\]\}\s*", ran.stdout), ran.stdout

        again = subprocess.run(
            [*dockyard, "demo"], capture_output=True, text=True, timeout=600, env=env, check=False
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert "endpoint dockyard-demo: up to date, InService" in again.stdout
    finally:
        subprocess.run([*dockyard, "emulator", "down", "--stop-endpoints"], env=env, timeout=120, check=False)
    # Only this run's containers (its state directory's emulator label): a demo the user ran earlier on
    # the same engine has containers of the same endpoint name, and they are none of this test's business.
    mine = [f"{LABEL_EMULATOR}={emulator_id(tmp_path / 'state')}", "dockyard.endpoint=dockyard-demo"]
    assert docker_client.containers.list(all=True, filters={"label": mine}) == []
