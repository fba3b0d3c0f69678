"""The whole image pipeline through the CLI, as a user runs it: init → package → build → run → a
prediction → check → push → pull back by digest. Real engine, real registry, no shortcuts."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import httpx
import joblib
import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]

DOCKYARD = [sys.executable, "-m", "dockyard.cli"]


def dockyard(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*DOCKYARD, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def image_tag(docker_client: docker.DockerClient, registry: str) -> Iterator[str]:
    tag = f"dy-e2e-{uuid.uuid4().hex[:8]}/iris:1"
    yield tag
    for name in (tag, f"{registry}/{tag}"):
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(name, force=True)


def test_model_to_pushed_image_through_the_cli(
    tmp_path: Path, base_image: str, registry: str, image_tag: str, docker_client: docker.DockerClient
) -> None:
    project = tmp_path / "iris"
    dockyard("init", str(project), "--flavor", "sklearn", cwd=tmp_path)

    # The data scientist's part: a trained model, its pinned requirements, a sample request.
    features = np.random.default_rng(3).normal(size=(200, 4))
    model = LogisticRegression().fit(features, (features[:, 0] - features[:, 2] > 0).astype(int))
    joblib.dump(model, project / "model" / "model.joblib")
    (project / "requirements.txt").write_text(f"scikit-learn=={sklearn.__version__}\njoblib\n")
    rows = features[:3].round(4).tolist()
    (project / "sample.json").write_text(json.dumps({"instances": rows}))
    expected = {"predictions": model.predict(np.array(rows)).tolist()}

    packed = dockyard("package", cwd=project)
    assert "sha256" in packed.stdout
    archive = project / "model.tar.gz"
    assert archive.is_file()

    dockyard("build", "--tag", image_tag, "--base-image", base_image, "--network", "host", cwd=project)

    # `dockyard run` stays in the foreground until interrupted, like a user's terminal.
    runner = subprocess.Popen(
        [*DOCKYARD, "run", image_tag, "--model", str(archive), "--port", "0"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _wait_for_url(runner)
        response = httpx.post(f"{url}/invocations", json={"instances": rows}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json() == expected
    finally:
        runner.send_signal(signal.SIGINT)
        runner.wait(timeout=60)
        assert runner.stderr is not None
        runner.stderr.close()
    assert runner.returncode == 130
    assert not docker_client.containers.list(all=True, filters={"ancestor": image_tag})

    checked = dockyard("check", image_tag, "--model", str(archive), "--sample", "sample.json", cwd=project)
    assert "FAIL" not in checked.stdout

    pushed = dockyard("push", image_tag, "--to", f"{registry}/{image_tag}", cwd=project)
    reference = re.search(r"^reference: (\S+@sha256:[0-9a-f]{64})$", pushed.stdout, re.MULTILINE)
    assert reference is not None, pushed.stdout
    local_id = docker_client.images.get(image_tag).id
    docker_client.images.remove(f"{registry}/{image_tag}", force=True)
    pulled = docker_client.images.pull(reference.group(1))
    assert pulled.id == local_id


def _wait_for_url(runner: subprocess.Popen[str], timeout: float = 180) -> str:
    assert runner.stderr is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = runner.stderr.readline()
        if not line:
            if runner.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(r"Ready in [\d.]+ s: (http://127\.0\.0\.1:\d+)", line)
        if match:
            return match.group(1)
    raise AssertionError("dockyard run never printed its URL:\n" + "".join(seen))
