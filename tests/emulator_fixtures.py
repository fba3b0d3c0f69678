"""A real emulator process for tests, and boto3 clients pointed at it.

- ``emulator``: ``python -m dockyard.emulator`` on a free 127.0.0.1 port with its own state directory,
  S3 resolved through the session's moto server; restartable (the restart test needs the same state).
  At the end of the session every container it started is removed.
- ``sagemaker_client`` / ``runtime_client``: unmodified boto3 clients with ``endpoint_url`` = the emulator.
  The emulator is started with ``FAKE_KEY`` as its secret, so ``client()`` (any service) and
  ``signed_request()`` (raw HTTP) sign as it requires.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from dockyard.emulator.security.credentials import SECRET_ENV, save_credentials
from tests.aws_fixtures import FAKE_KEY, REGION, _free_port


class EmulatorProcess:
    def __init__(self, state_dir: Path, s3_endpoint_url: str, allow_paths: tuple[Path, ...] = ()) -> None:
        self.state_dir = state_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = state_dir.parent / "emulator-test.log"
        # The emulator checks SigV4 signatures against its state directory's secret: FAKE_KEY here, so
        # every client of the tests signs with it, and dockyard's CLI finds it where users' does.
        save_credentials(state_dir, FAKE_KEY)
        self.env = {
            **{name: value for name, value in os.environ.items() if name != SECRET_ENV},
            "DOCKYARD_S3_ENDPOINT_URL": s3_endpoint_url,
            "PYTHONUNBUFFERED": "1",
        }
        self.allow_paths = allow_paths
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "dockyard.emulator",
            "--port",
            str(self.port),
            "--state-dir",
            str(self.state_dir),
        ]
        for path in self.allow_paths:
            command += ["--allow-path", str(path)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the emulator exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                answer = httpx.get(f"{self.url}/_dockyard/status", timeout=2).json()
                if answer.get("ready"):
                    return
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.2)
        pytest.fail(f"the emulator did not become ready within 60 s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def signed_request(
        self,
        method: str,
        path: str,
        *,
        service: str = "sagemaker",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        region: str = REGION,
    ) -> httpx.Response:
        """A raw HTTP request signed as botocore signs (SigV4 with the emulator's secret)."""
        from botocore.auth import S3SigV4Auth, SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method, self.url + path, data=body, headers=headers or {})
        signer = S3SigV4Auth if service == "s3" else SigV4Auth
        signer(Credentials(FAKE_KEY, FAKE_KEY), service, region).add_auth(request)
        return httpx.request(method, self.url + path, headers=dict(request.headers.items()), content=body)

    def client(self, service: str, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=FAKE_KEY,
            aws_secret_access_key=FAKE_KEY,
            config=Config(retries={"max_attempts": 1}, **config),
        )


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[EmulatorProcess]:
    state_dir = tmp_path_factory.mktemp("emulator") / "state"
    # The tests write their file:// model archives under pytest's temporary root.
    process = EmulatorProcess(state_dir, moto_server, allow_paths=(tmp_path_factory.getbasetemp(),))
    process.start()
    yield process
    process.stop()
    from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

    remove_fleet_containers(state_dir)


@pytest.fixture(scope="session")
def sagemaker_client(emulator: EmulatorProcess) -> Any:
    return emulator.client("sagemaker")


@pytest.fixture(scope="session")
def runtime_client(emulator: EmulatorProcess) -> Any:
    return emulator.client("sagemaker-runtime", read_timeout=90)


@contextlib.contextmanager
def own_emulator(root: Path, moto_server: str) -> Iterator[EmulatorProcess]:
    """An emulator of one test module's own (state under ``root``, file:// model data from there), for
    tests that restart it or fill it; stopped at the end with every container it started."""
    process = EmulatorProcess(root / "state", moto_server, allow_paths=(root,))
    process.start()
    try:
        yield process
    finally:
        process.stop()
        from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

        remove_fleet_containers(process.state_dir)


def aim_aws_environment_at(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The environment `dockyard emulator env` prints, for code that builds its own clients (the SDK):
    the emulator's URL and accepted credentials, and no AWS variable or config file of this machine."""
    from tests.aws_fixtures import AWS_VARIABLES

    for variable in AWS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
