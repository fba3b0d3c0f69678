"""`dockyard emulator up --detach | status | down` as a user runs them, in real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.docker


def dockyard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {}), "NO_COLOR": "1", "COLUMNS": "200"},
        check=False,
    )


def test_up_detached_status_and_down(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    up = dockyard("emulator", "up", "--detach", "--port", str(port), "--state-dir", str(state))
    assert up.returncode == 0, up.stderr
    assert f"emulator running at http://127.0.0.1:{port}" in up.stdout
    try:
        status = dockyard("emulator", "status", "--state-dir", str(state), "--output", "json")
        assert status.returncode == 0, status.stderr
        found = json.loads(status.stdout)
        assert found["url"] == f"http://127.0.0.1:{port}"
        assert found["ready"] is True
        assert httpx.get(f"{found['url']}/_dockyard/status", timeout=5).json()["pid"] == found["pid"]
        assert found["model_data"] == {
            "held_directories": 0,
            "held_bytes": 0,
            "collected_directories": 0,
            "collected_bytes": 0,
        }
        table = dockyard("emulator", "status", "--state-dir", str(state))
        assert "model data: 0 unpacked model(s), 0 B held; 0 unused collected (0 B freed)" in table.stdout

        # Starting again on the same state directory finds the running one instead of a second.
        again = dockyard("emulator", "up", "--detach", "--port", str(port), "--state-dir", str(state))
        assert again.returncode == 0, again.stderr
        assert f"pid {found['pid']}" in again.stdout

        # Another state directory on the same port: the error names the emulator that holds it.
        elsewhere = str(tmp_path / "b")
        other = dockyard("emulator", "up", "--detach", "--port", str(port), "--state-dir", elsewhere)
        assert other.returncode == 2
        assert f"another dockyard emulator (pid {found['pid']}, state {state}) holds it" in other.stderr
    finally:
        down = dockyard("emulator", "down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    assert "emulator stopped" in down.stdout
    gone = dockyard("emulator", "status", "--state-dir", str(state))
    assert gone.returncode == 1
    assert "no emulator is running" in gone.stdout
    assert dockyard("emulator", "down", "--state-dir", str(state)).stdout.strip() == "no emulator was running"


def test_port_taken_by_another_program(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = dockyard("emulator", "up", "--detach", "--port", str(port), "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "another program holds it" in result.stderr
    assert "--port" in result.stderr


def test_ensure_running_with_a_url_nobody_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.emulator.process import ensure_running
    from dockyard.errors import DockyardError

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DOCKYARD_EMULATOR_URL", url)
    with pytest.raises(DockyardError, match=f"no dockyard emulator answers at {url}"):
        ensure_running()


def test_an_emulator_that_cannot_start_says_why(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "emulator.db").mkdir(parents=True)  # where its SQLite database must go
    result = dockyard("emulator", "up", "--detach", "--port", str(free_port()), "--state-dir", str(state))
    assert result.returncode == 1
    assert "the emulator exited with code" in result.stderr
    assert "while starting" in result.stderr
    assert str(state / "emulator.log") in result.stderr
    # The log's last lines carry the cause, naming the file.
    assert f"cannot open the emulator's database {state / 'emulator.db'}" in result.stderr
