"""The real emulator process as users meet it: the AWS CLI and boto3's default chain with the lines
`dockyard emulator env` prints, a user's real AWS secret refused, the CLI's own commands with zero
setup, and the attacks of a web page (the DNS-rebinding request, a cross-origin text/plain POST) refused."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockyard.emulator.security.credentials import SECRET_ENV
from tests.conftest import free_port
from tests.emulator.security.echo_server import SecuredServer

pytestmark = pytest.mark.docker  # the emulator's fleet talks to the engine at start

AWS = Path(sys.executable).parent / "aws"


def _clean_env(home: Path) -> dict[str, str]:
    """A user with no AWS configuration at all: no credentials, profile or endpoint anywhere."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "DOCKYARD_"))}
    env.update(HOME=str(home), NO_COLOR="1", COLUMNS="200", PYTHONPATH=os.environ.get("PYTHONPATH", ""))
    return env


def _run(command: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def _exports(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = value
    return found


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    home = tmp_path_factory.mktemp("home")
    state = home / "state"
    env = _clean_env(home)
    port = free_port()
    dockyard = [sys.executable, "-m", "dockyard.cli"]
    up = _run([*dockyard, "emulator", "up", "--detach", "--port", str(port), "--state-dir", str(state)], env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert 'eval "$(dockyard emulator env)"' in up.stdout
    assert f"http://127.0.0.1:{port}/console/?token=" in up.stdout
    try:
        yield f"http://127.0.0.1:{port}", env, state
    finally:
        _run([*dockyard, "emulator", "down", "--state-dir", str(state), "--stop-endpoints"], env)


def test_the_secret_is_made_once_and_only_its_owner_can_read_it(
    running: tuple[str, dict[str, str], Path],
) -> None:
    _, _, state = running
    credentials = state / "credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert credentials.read_text().startswith(
        "[dockyard]\naws_access_key_id = dockyard\naws_secret_access_key = "
    )


def test_the_aws_cli_works_with_the_exported_lines_and_not_without(
    running: tuple[str, dict[str, str], Path],
) -> None:
    url, env, state = running
    printed = _run([sys.executable, "-m", "dockyard.cli", "emulator", "env", "--state-dir", str(state)], env)
    assert printed.returncode == 0, printed.stderr
    exports = _exports(printed.stdout)
    assert exports["AWS_ENDPOINT_URL"] == url
    assert exports["AWS_ACCESS_KEY_ID"] == "dockyard"
    assert exports["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "unset AWS_SESSION_TOKEN AWS_PROFILE" in printed.stdout
    listed = _run([str(AWS), "sagemaker", "list-endpoints"], {**env, **exports})
    assert listed.returncode == 0, listed.stderr
    assert '"Endpoints": []' in listed.stdout
    # A user whose environment holds real AWS credentials: their secret is not the emulator's.
    real = {**env, **exports, "AWS_ACCESS_KEY_ID": "AKIAREALUSER", "AWS_SECRET_ACCESS_KEY": "real-secret"}
    refused = _run([str(AWS), "sagemaker", "list-endpoints"], real)
    assert refused.returncode != 0
    assert (
        "(InvalidSignatureException) when calling the ListEndpoints operation: The request signature we "
        in (refused.stderr)
    )
    # boto3's default chain, as a user's script picks it up from the environment.
    script = "import boto3; print(boto3.client('sagemaker').list_endpoints()['Endpoints'])"
    chained = _run([sys.executable, "-c", script], {**env, **exports})
    assert (chained.returncode, chained.stdout.strip()) == (0, "[]"), chained.stderr


def test_the_cli_own_commands_need_no_setup(running: tuple[str, dict[str, str], Path]) -> None:
    url, env, _ = running
    listed = _run(
        [
            sys.executable,
            "-m",
            "dockyard.cli",
            "endpoints",
            "list",
            "--emulator-url",
            url,
            "--output",
            "json",
        ],
        env,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stdout.strip() == "[]"


def test_the_rebinding_request_of_the_issue_is_refused(running: tuple[str, dict[str, str], Path]) -> None:
    url, _, _ = running
    port = url.rsplit(":", 1)[1]
    answer = subprocess.run(
        [
            "curl", "-s", "-i", "-X", "POST", f"{url}/",
            "-H", f"Host: attacker.example:{port}",
            "-H", "Origin: http://attacker.example",
            "-H", "Content-Type: application/x-amz-json-1.1",
            "-H", "X-Amz-Target: SageMaker.ListEndpoints",
            "-d", "{}",
        ],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    assert answer.startswith("HTTP/1.1 403 Forbidden")
    assert '"__type":"AccessDeniedException"' in answer
    assert "start the emulator with --allow-host attacker.example" in answer
    # With the right Host but no signature it is still refused.
    unsigned = httpx.post(
        f"{url}/",
        headers={"X-Amz-Target": "SageMaker.ListEndpoints", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"


def test_a_cross_origin_text_plain_post_to_invocations_is_refused(
    running: tuple[str, dict[str, str], Path],
) -> None:
    url, _, _ = running
    answer = httpx.post(
        f"{url}/endpoints/anything/invocations",
        headers={
            "Content-Type": "text/plain",
            "Origin": "http://attacker.example",
            "Sec-Fetch-Site": "cross-site",
        },
        content=b"1,2,3",
    )
    assert answer.status_code == 403
    assert answer.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert not [name for name in answer.headers if name.startswith("access-control-")]


def test_the_aws_cli_s3_commands_sign_as_the_middleware_checks(tmp_path: Path) -> None:
    # S3 itself is another service of the emulator; here the middleware stands before a stand-in.
    with SecuredServer() as server:
        from tests.emulator.security.echo_server import REGION, SECRET

        env = {
            **_clean_env(tmp_path),
            "AWS_ENDPOINT_URL": server.url,
            "AWS_ACCESS_KEY_ID": "dockyard",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": REGION,
        }
        listed = _run([str(AWS), "s3", "ls"], env)
        assert listed.returncode == 0, listed.stderr
        assert "dy-bucket" in listed.stdout
        source = tmp_path / "model.bin"
        source.write_bytes(os.urandom(1 << 16))
        copied = _run([str(AWS), "s3", "cp", str(source), "s3://dy-bucket/models/model.bin"], env)
        assert copied.returncode == 0, copied.stderr
        assert server.app.seen[-1].body == source.read_bytes()
        wrong = _run([str(AWS), "s3", "ls"], {**env, "AWS_SECRET_ACCESS_KEY": "real-secret"})
        assert wrong.returncode != 0
        assert "SignatureDoesNotMatch" in wrong.stderr


def test_the_console_link_carries_the_token_the_emulator_accepts(
    running: tuple[str, dict[str, str], Path],
) -> None:
    url, env, state = running
    printed = _run(
        [sys.executable, "-m", "dockyard.cli", "emulator", "console", "--state-dir", str(state)], env
    )
    link = printed.stdout.strip()
    assert link.startswith(f"{url}/console/?token=")
    login = httpx.get(link)
    assert login.status_code == 303
    assert login.headers["location"] == "/console/"
    assert httpx.get(f"{url}/console/?token=wrong").status_code == 403


def test_an_explicit_secret_overrides_the_state_directory(tmp_path: Path) -> None:
    env = {**_clean_env(tmp_path), SECRET_ENV: "from-the-environment"}
    printed = _run(
        [sys.executable, "-m", "dockyard.cli", "emulator", "env", "--state-dir", str(tmp_path / "s")], env
    )
    assert _exports(printed.stdout)["AWS_SECRET_ACCESS_KEY"] == "from-the-environment"
    assert not (tmp_path / "s" / "credentials").exists()
