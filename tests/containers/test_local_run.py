"""`dockyard run` and LocalContainer: images started as SageMaker starts them, on the real engine."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.archive import pack
from dockyard.cli.run import default_port
from dockyard.containers.local_run import LocalContainer, RunSpec
from dockyard.errors import ArchiveError, ContainerError, UsageError
from tests.fixture_images import (
    PREDICTION,
    PREFIX,
    SAMPLE,
    leftovers,
)

pytestmark = pytest.mark.docker

GIB = 1024**3
DOCKYARD = [sys.executable, "-m", "dockyard.cli"]


def unique(kind: str) -> str:
    return f"{PREFIX}{kind}-{secrets.token_hex(3)}"


def test_runs_as_sagemaker_does_and_cleans_up(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str], model_dir: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "model.tar.gz"
    pack(model_dir, archive)
    spec = RunSpec(
        image=fixture_image("dockyard"),
        model=archive,
        environment={"DY_CHECK_VALUE": "42"},
        instance_type="ml.c5.large",
        name=unique("run"),
    )
    with LocalContainer(spec) as box:
        box.wait_ready(60)
        answer = httpx.post(f"{box.url}/invocations", content=SAMPLE, headers={"Content-Type": "text/csv"})
        assert (answer.status_code, answer.text) == (200, PREDICTION)

        attrs = docker_client.api.inspect_container(box.name)
        host = attrs["HostConfig"]
        ncpu = docker_client.info()["NCPU"]
        assert host["NanoCpus"] == min(2, ncpu) * 1_000_000_000  # ml.c5.large: 2 vCPUs, 4 GiB
        assert host["Memory"] == 4 * GIB
        assert host["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"
        assert attrs["Config"]["Cmd"] == ["serve"]
        assert "DY_CHECK_VALUE=42" in attrs["Config"]["Env"]
        [mount] = [m for m in attrs["Mounts"] if m["Destination"] == "/opt/ml/model"]
        assert mount["RW"] is False
        unpacked = Path(mount["Source"])
        assert (unpacked / "weights.json").is_file()  # the archive, unpacked into a temporary directory

        container = docker_client.containers.get(box.name)
        code, output = container.exec_run(["python3", "-c", "open('/opt/ml/model/new.txt', 'w')"])
        assert code != 0
        assert b"Read-only file system" in output
    assert not unpacked.exists()
    assert leftovers(docker_client, box.name) == []


def test_limits_come_from_the_instance_type_capped_at_the_engine_cpus(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str]
) -> None:
    ncpu = docker_client.info()["NCPU"]
    box = LocalContainer(RunSpec(fixture_image("crash"), instance_type="ml.m5.4xlarge"))  # 16 vCPUs, 64 GiB
    assert box.limits.nano_cpus == min(16, ncpu) * 1_000_000_000
    assert box.limits.memory == 64 * GIB
    assert box.limits.capped == (ncpu < 16)
    with pytest.raises(UsageError) as caught:
        LocalContainer(RunSpec(fixture_image("crash"), instance_type="ml.m5.huge"))
    assert caught.value.message.startswith("'ml.m5.huge' is not a SageMaker hosting instance type; ")


def test_missing_image() -> None:
    with pytest.raises(ContainerError) as caught:
        LocalContainer(RunSpec("dy-check-test/missing:none"))
    assert caught.value.message == (
        "image dy-check-test/missing:none is not in the local Docker engine; build it with `dockyard build` "
        "or pull it (`docker pull dy-check-test/missing:none`)"
    )


def test_container_exiting_during_startup(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str]
) -> None:
    image = fixture_image("crash")
    with LocalContainer(RunSpec(image, name=unique("crash"))) as box, pytest.raises(ContainerError) as caught:
        box.wait_ready(30)
    assert caught.value.message == (
        f"the container of {image} exited with code 1 during startup; its last log lines:\n"
        "fatal: cannot load the model: /opt/ml/model/weights.bin is missing"
    )
    assert leftovers(docker_client, box.name) == []


@pytest.mark.parametrize(
    ("image", "environment", "empty_model", "message"),
    [
        pytest.param(
            "no-ping",
            {},
            False,
            "GET /ping answered 404 Not Found within 3 s: the server on port 8080 has no /ping route",
            id="404",
        ),
        pytest.param(
            "wrong-port",
            {},
            False,
            "nothing answered on port 8080 within 3 s; the container is running: "
            "does its server listen on 0.0.0.0:8080?",
            id="wrong-port",
        ),
        pytest.param(
            "byoc",
            {},
            True,
            "GET /ping answered 503, not 200, within 3 s: the server never reported itself ready",
            id="503",
        ),
        pytest.param(
            "faulty",
            {"FAULTS": "stuck-ping"},
            False,
            "GET /ping did not answer within 2 s (SageMaker's limit) within 3 s",
            id="slow",
        ),
    ],
)
def test_ping_not_200_within_the_window(
    fixture_image: Callable[[str], str],
    model_dir: Path,
    tmp_path: Path,
    image: str,
    environment: dict[str, str],
    empty_model: bool,
    message: str,
) -> None:
    spec = RunSpec(
        fixture_image(image),
        model=tmp_path if empty_model else model_dir,
        environment=environment,
        name=unique(image),
    )
    with LocalContainer(spec) as box, pytest.raises(ContainerError) as caught:
        box.wait_ready(3)
    assert caught.value.message == message


def test_model_errors(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str], tmp_path: Path
) -> None:
    image = fixture_image("crash")
    with pytest.raises(UsageError) as caught, LocalContainer(RunSpec(image, model=tmp_path / "absent")):
        pass
    assert (
        caught.value.message
        == f"model {tmp_path / 'absent'} does not exist; give a model directory or a model.tar.gz"
    )

    (tmp_path / "model.bin").write_bytes(b"weights")
    with pytest.raises(UsageError) as caught, LocalContainer(RunSpec(image, model=tmp_path / "model.bin")):
        pass
    assert (
        caught.value.message == f"model {tmp_path / 'model.bin'} is neither a directory nor a .tar.gz archive"
    )

    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        entry = tarfile.TarInfo("../escape.txt")
        entry.size = 3
        tar.addfile(entry, io.BytesIO(b"bad"))
    name = unique("evil")
    before = set(os.listdir("/tmp"))
    with pytest.raises(ArchiveError), LocalContainer(RunSpec(image, model=evil, name=name)):
        pass
    assert not {entry for entry in set(os.listdir("/tmp")) - before if entry.startswith("dockyard-model-")}
    assert leftovers(docker_client, name) == []


def test_default_port_is_8080_unless_taken() -> None:
    with socket.socket() as holder:
        with contextlib.suppress(OSError):  # taken by something else already: the same situation
            holder.bind(("127.0.0.1", 8080))
        assert default_port() == 0


# ---- the command ------------------------------------------------------------------------------------


def start_cli(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen([*DOCKYARD, *args], stdout=stdout, stderr=stderr, cwd=tmp_path)
    return process, out, err


def wait_for(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text()
        if text in content:
            return content
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in {path.name} (exit {process.poll()}):\n{path.read_text()}")


def test_cli_serves_streams_logs_and_ctrl_c_removes_the_container(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str], model_dir: Path, tmp_path: Path
) -> None:
    name = unique("cli")
    args = ["run", fixture_image("dockyard"), "--model", str(model_dir), "--name", name, "--port", "0"]
    process, out, err = start_cli([*args, "--env", "DOCKYARD_LOG_LEVEL=debug"], tmp_path)
    try:
        stderr = wait_for(err, "Ctrl-C stops it", process)
        url = stderr.split("Ready in ")[1].split(": ")[1].split(" ")[0]
        assert url.startswith("http://127.0.0.1:")
        answer = httpx.post(f"{url}/invocations", content=SAMPLE, headers={"Content-Type": "text/csv"})
        assert answer.text == PREDICTION
        wait_for(out, '"path":"/invocations"', process)  # the container's access log, streamed
        assert docker_client.containers.get(name).attrs["HostConfig"]["Memory"] == 8 * GIB  # ml.m5.large
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=45) == 130
    finally:
        if process.poll() is None:
            process.kill()
    stderr = err.read_text()
    assert f"Stopping {name} (SIGTERM, then SIGKILL after 30 s; Ctrl-C again kills it now)" in stderr
    assert f"Removed {name}" in stderr
    assert leftovers(docker_client, name) == []


def test_cli_reports_a_container_that_exits_after_ready(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str], tmp_path: Path
) -> None:
    name = unique("dies")
    image = fixture_image("faulty")
    process, _, err = start_cli(
        ["run", image, "--name", name, "--port", "0", "-e", "FAULTS=die-on-large-body"], tmp_path
    )
    try:
        stderr = wait_for(err, "Ctrl-C stops it", process)
        url = stderr.split("Ready in ")[1].split(": ")[1].split(" ")[0]
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{url}/invocations", content=bytes(7_000_000), headers={"Content-Type": "text/csv"})
        assert process.wait(timeout=30) == 1
    finally:
        if process.poll() is None:
            process.kill()
    stderr = err.read_text()
    assert (
        f"error: the container of {image} exited with code 3 after it was ready; its last log lines:"
        in stderr
    )
    assert "a large body: dying" in stderr
    assert leftovers(docker_client, name) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["dy-check-test/missing:none"],
            1,
            "error: image dy-check-test/missing:none is not in the local Docker engine",
        ),
        (
            ["dy-check-test/missing:none", "--env", "NOEQUALS"],
            2,
            "error: --env 'NOEQUALS': expected KEY=VALUE",
        ),
    ],
)
def test_cli_errors(args: list[str], code: int, message: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [*DOCKYARD, "run", *args], check=False, capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.returncode == code, result.stderr
    assert message in " ".join(result.stderr.split())
