"""Fixtures for tests of dockyard's AWS calls, which never reach real AWS.

- ``moto_server``: moto in server mode on a free 127.0.0.1 port, for the session.
- ``moto_iam``: a second moto server that enforces IAM policies, with one user allowed little.
- ``aws_env``: fake credentials, a region and ``DOCKYARD_AWS_ENDPOINT_URL`` pointing at ``moto_server``;
  no profile or config file is read and the instance metadata service is off.
- ``ecr_registry``: a real registry (CNCF distribution) standing in for ECR's data plane: it accepts
  only the login that moto's ECR token decodes to, so a push there proves the token was used.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
MOTO_ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
FAKE_KEY = "testing"
# moto's ECR token decodes to AWS:<account>-auth-token; the registry's htpasswd holds its bcrypt hash
# (made with Python's crypt module: crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))).
ECR_USERNAME = "AWS"
ECR_PASSWORD = f"{MOTO_ACCOUNT}-auth-token"
ECR_PASSWORD_BCRYPT = "$2b$12$awEnHTpUWV7aMxeId75zTOUFtCLbkz5uD2I9S244KWeczsOn242cK"
# Every variable through which boto3 could find real credentials, a profile or an endpoint.
AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "DOCKYARD_AWS_ENDPOINT_URL",
    "DOCKYARD_ECR_REGISTRY",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Process:
    """A server process on 127.0.0.1 whose output goes to a log file; waits for ``ready_url``."""

    def __init__(
        self, command: list[str], log: Path, ready_url: str, env: dict[str, str] | None = None
    ) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{command[0]} exited with {self.process.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(ready_url, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"{command[0]} did not answer {ready_url} within 60 s:\n{log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _start_moto(log: Path, env: dict[str, str] | None = None) -> tuple[_Process, str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)]
    return _Process(command, log, f"{url}/moto-api/", env), url


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of moto in server mode (all services on one port)."""
    server, url = _start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    yield url
    server.stop()


@dataclass(frozen=True)
class MotoIam:
    url: str
    user_arn: str
    access_key: str  # allowed sts:GetCallerIdentity and ecr:DescribeRepositories, nothing else
    secret_key: str


@pytest.fixture(scope="session")
def moto_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoIam]:
    """moto enforcing IAM: only its first three requests (which create the user) go unauthenticated."""
    server, url = _start_moto(
        tmp_path_factory.mktemp("moto-iam") / "moto.log", {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    )
    try:
        iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id=FAKE_KEY,
            aws_secret_access_key=FAKE_KEY,
        )
        user = iam.create_user(UserName="dy-push-limited")["User"]
        key = iam.create_access_key(UserName="dy-push-limited")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["sts:GetCallerIdentity", "ecr:DescribeRepositories"],
                    "Resource": "*",
                }
            ],
        }
        iam.put_user_policy(
            UserName="dy-push-limited", PolicyName="describe-only", PolicyDocument=json.dumps(policy)
        )
        yield MotoIam(url, user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Fake credentials and region for boto3, API calls to moto; returns moto's URL."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # failures at once, not after retries
    monkeypatch.setenv("DOCKYARD_AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture(scope="session")
def ecr_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry that requires the login moto's ECR token gives."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is missing; run scripts/test-env.sh (it installs it)", pytrace=False)
    root = tmp_path_factory.mktemp("ecr-registry")
    (root / "htpasswd").write_text(f"{ECR_USERNAME}:{ECR_PASSWORD_BCRYPT}\n")
    address = f"127.0.0.1:{_free_port()}"
    (root / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}\n"
        f"auth:\n  htpasswd:\n    realm: dockyard-test\n    path: {root / 'htpasswd'}\n"
    )
    server = _Process(
        [binary, "serve", str(root / "config.yml")], root / "registry.log", f"http://{address}/v2/"
    )
    yield address
    server.stop()
    shutil.rmtree(root / "storage", ignore_errors=True)  # the base image's layers: not worth keeping
