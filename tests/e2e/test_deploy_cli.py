"""The deploy lifecycle through the CLI, as a user runs it: real engine, real emulator (started by the CLI
itself on a private port and state directory), real images built from a project.

init → deploy → invoke → update (blue/green to a new model) → invoke answers with the new model → delete;
register → approve → deploy from the model registry; and the error paths, each with its message.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.cli.demo import write_project
from tests.conftest import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DOCKYARD = [sys.executable, "-m", "dockyard.cli"]


class Cli:
    def __init__(self, state_dir: Path, port: int) -> None:
        self.env = {
            **os.environ,
            "DOCKYARD_STATE_DIR": str(state_dir),
            "DOCKYARD_EMULATOR_PORT": str(port),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        for name in ("DOCKYARD_EMULATOR_URL", "DOCKYARD_TARGET"):
            self.env.pop(name, None)

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*DOCKYARD, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
            check=False,
        )

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, f"dockyard {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    runner = Cli(tmp_path_factory.mktemp("deploy-cli") / "state", free_port())
    yield runner
    runner("emulator", "down", "--stop-endpoints", timeout=120)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, base_image: str) -> Path:
    return write_project(tmp_path_factory.mktemp("project") / "iris", base_image, "host")


def retrain_reversed(project: Path) -> None:
    """A new model version whose classes are numbered the other way round (2 - y)."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    joblib.dump(
        LogisticRegression(max_iter=500).fit(features, 2 - labels), project / "model" / "model.joblib"
    )


def predictions(text: str) -> list[int]:
    return list(json.loads(text)["predictions"])


def test_deploy_invoke_update_delete(cli: Cli, project: Path, tmp_path: Path) -> None:
    project = Path(shutil.copytree(project, tmp_path / "iris"))  # this test changes the model
    out = cli.ok("deploy", "-C", str(project), "-n", "e2e-cli")  # also starts the emulator
    assert "InService" in out
    assert '{"predictions":[0,2]}' in out  # the sample request, as a smoke test
    assert "up to date" in cli.ok("deploy", "-C", str(project), "-n", "e2e-cli")

    sample = str(project / "sample.json")
    assert predictions(cli.ok("invoke", "e2e-cli", "--data", sample)) == [0, 2]
    first_config = json.loads(cli.ok("endpoints", "describe", "e2e-cli", "-o", "json"))["EndpointConfigName"]

    retrain_reversed(project)
    out = cli.ok("deploy", "-C", str(project), "-n", "e2e-cli")
    assert "updated" in out
    assert predictions(cli.ok("invoke", "e2e-cli", "--data", sample)) == [2, 0]
    described = json.loads(cli.ok("endpoints", "describe", "e2e-cli", "-o", "json"))
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] != first_config

    logs = cli.ok("logs", "e2e-cli")
    assert logs.strip(), "the endpoint's containers wrote no log line"

    cli.ok("endpoints", "delete", "e2e-cli")
    gone = cli("endpoints", "describe", "e2e-cli")
    assert gone.returncode == 1
    assert "Could not find endpoint" in gone.stderr


def test_register_approve_deploy_from_the_registry(cli: Cli, project: Path) -> None:
    cli.ok("register", "-C", str(project), "--package-group", "e2e-group")
    refused = cli("deploy", "-C", str(project), "-n", "e2e-pkg", "--model-package", "e2e-group/1")
    assert refused.returncode == 1
    assert "PendingManualApproval" in refused.stderr

    cli.ok("packages", "approve", "e2e-group/1")
    out = cli.ok("deploy", "-C", str(project), "-n", "e2e-pkg", "--model-package", "e2e-group/1")
    assert "InService" in out
    assert predictions(cli.ok("invoke", "e2e-pkg", "--data", str(project / "sample.json"))) == [0, 2]
    cli.ok("endpoints", "delete", "e2e-pkg")


def test_bad_project_file(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "dockyard.toml").write_text('[project]\nname = "ok"\ninstance_type = 5\n')
    result = cli("deploy", "-C", str(tmp_path))
    assert result.returncode == 2
    assert "dockyard.toml" in result.stderr
    assert "instance_type" in result.stderr


def test_no_docker_engine(cli: Cli, project: Path, tmp_path: Path) -> None:
    socket_path = tmp_path / "no-engine.sock"
    result = cli("deploy", "-C", str(project), env={"DOCKER_HOST": f"unix://{socket_path}"})
    assert result.returncode == 1
    assert str(socket_path) in result.stderr


def test_emulator_cannot_start(project: Path, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        runner = Cli(tmp_path / "state", holder.getsockname()[1])
        result = runner("invoke", "anything", "--data", str(project / "sample.json"))
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1" in result.stderr
    assert "another program holds it" in result.stderr


def test_image_build_fails(cli: Cli, tmp_path: Path, base_image: str) -> None:
    broken = write_project(tmp_path / "broken-build", base_image, "host")
    (broken / "requirements.txt").write_text("dockyard-no-such-package-anywhere==0.0.1\n")
    result = cli("deploy", "-C", str(broken), "-n", "e2e-broken-build")
    assert result.returncode == 1
    assert "dockyard-no-such-package-anywhere" in result.stderr
    assert "step" in result.stderr.lower()


def test_endpoint_fails_its_health_checks(cli: Cli, tmp_path: Path, base_image: str) -> None:
    broken = write_project(tmp_path / "broken-model", base_image, "host")
    (broken / "model" / "model.joblib").write_bytes(b"not a model")
    with (broken / "dockyard.toml").open("a") as config:
        config.write("\n[serve]\nstartup_timeout = 3\n")  # the server gives up at once, not after 600 s
    result = cli("deploy", "-C", str(broken), "-n", "e2e-broken-model")
    assert result.returncode == 1
    assert "Failed" in result.stderr
    assert "model.joblib" in result.stderr  # the container's last log lines say why
    cli.ok("endpoints", "delete", "e2e-broken-model")
