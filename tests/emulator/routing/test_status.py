"""``dockyard emulator status`` lists what each service of a running emulator holds."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.emulator_fixtures import EmulatorProcess

pytestmark = pytest.mark.docker


def _status(emulator: EmulatorProcess, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dockyard.cli",
            "emulator",
            "status",
            "--state-dir",
            str(emulator.state_dir),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        check=False,
    )


def test_status_counts_what_each_service_holds(emulator: EmulatorProcess) -> None:
    before = json.loads(_status(emulator, "--output", "json").stdout)["services"]
    name = f"dy-status-{secrets.token_hex(4)}"
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName=name)
    emulator.client("sagemaker").create_model(ModelName=name, PrimaryContainer={"Image": "dy-status/none:1"})
    try:
        after = json.loads(_status(emulator, "--output", "json").stdout)["services"]
        assert after["ecr"]["repositories"] == before["ecr"]["repositories"] + 1
        assert after["sagemaker"]["models"] == before["sagemaker"]["models"] + 1
        assert set(after["sagemaker"]) >= {"endpoints", "endpoint_configs", "models", "transform_jobs"}
        table = _status(emulator)
        assert table.returncode == 0, table.stderr
        assert f"  ecr: {after['ecr']['repositories']} repositories" in table.stdout
        assert f"{after['sagemaker']['models']} models" in table.stdout
    finally:
        ecr.delete_repository(repositoryName=name)
        emulator.client("sagemaker").delete_model(ModelName=name)
