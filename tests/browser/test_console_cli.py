"""`dockyard console` as a user runs it: the running emulator's login link, or a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dockyard.emulator.security import local_credentials
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def dockyard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {}), "NO_COLOR": "1", "COLUMNS": "300", "BROWSER": "true"},
        check=False,
    )


def test_without_an_emulator_it_says_how_to_start_one(tmp_path: Path) -> None:
    answer = dockyard("console", "--print", "--state-dir", str(tmp_path / "none"))
    assert answer.returncode == 1
    assert "no emulator is running, so there is no console to open" in answer.stderr + answer.stdout
    assert "dockyard emulator up --detach" in answer.stderr + answer.stdout


def test_it_prints_the_login_link_that_opens_the_console(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    up = dockyard("emulator", "up", "--detach", "--port", str(port), "--state-dir", str(state))
    assert up.returncode == 0, up.stderr
    try:
        token = local_credentials(state).console_token
        assert f"http://127.0.0.1:{port}/console/?token={token}" in up.stdout  # printed on start
        printed = dockyard("console", "--print", "--state-dir", str(state))
        assert printed.returncode == 0, printed.stderr
        link = printed.stdout.strip()
        assert link == f"http://127.0.0.1:{port}/console/?token={token}"
        with httpx.Client(follow_redirects=True, timeout=30) as browser:
            page = browser.get(link)
            assert page.status_code == 200
            assert "<title>Endpoints · dockyard console</title>" in page.text
    finally:
        down = dockyard("emulator", "down", "--state-dir", str(state))
        assert down.returncode == 0, down.stderr
