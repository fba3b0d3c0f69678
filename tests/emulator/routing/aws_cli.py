"""The AWS CLI (awscli v1 from PyPI, in this virtualenv) against the emulator, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.aws_fixtures import AWS_VARIABLES, FAKE_KEY, REGION
from tests.emulator_fixtures import EmulatorProcess

AWS = Path(sys.executable).parent / "aws"


def aws_cli(emulator: EmulatorProcess, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``aws ARGS --endpoint-url EMULATOR --output json`` with fake credentials and no config file."""
    env = {k: v for k, v in os.environ.items() if k not in AWS_VARIABLES}
    env.update(
        AWS_ACCESS_KEY_ID=FAKE_KEY,
        AWS_SECRET_ACCESS_KEY=FAKE_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    command = [str(AWS), *args, "--endpoint-url", emulator.url, "--output", "json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


def aws_json(emulator: EmulatorProcess, *args: str) -> Any:
    return json.loads(aws_cli(emulator, *args).stdout or "{}")
