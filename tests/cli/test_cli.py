"""The dockyard command, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCKYARD = [sys.executable, "-m", "dockyard.cli"]


def _run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DOCKYARD, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False
    )


def test_serve_help_lists_every_option_with_its_environment_variables() -> None:
    result = _run("serve", "--help")
    assert result.returncode == 0
    assert "usage: dockyard serve" in result.stdout
    for flag in ("--model-dir", "--handler", "--port", "--workers", "--timeout", "--max-batch-size"):
        assert flag in result.stdout
    assert "SAGEMAKER_BIND_TO_PORT" in result.stdout
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in result.stdout


def test_serve_rejects_a_bad_option_in_one_line(tmp_path: Path) -> None:
    result = _run("serve", "--workers", "none", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dockyard serve: error: option --workers: expected a positive integer, got 'none'"
    )


def test_serve_with_a_missing_model_directory_fails_to_start(tmp_path: Path) -> None:
    result = _run(
        "serve",
        "--model-dir",
        str(tmp_path / "absent"),
        "--port",
        "0",
        "--metrics-port",
        "0",
        "--startup-timeout",
        "2",
        "--workers",
        "1",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "absent" in result.stderr
    assert "did not load in every worker within the 2 s start-up window" in result.stderr
