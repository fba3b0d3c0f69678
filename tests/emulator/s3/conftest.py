"""An emulator process whose S3 is the only S3 (no DOCKYARD_S3_ENDPOINT_URL), and S3 clients for it.

- ``s3_emulator``: ``python -m dockyard.emulator`` with its own state directory, for this package's tests.
- ``s3``: an unmodified boto3 S3 client (path style) with ``endpoint_url`` = the emulator.
- ``bucket``: a fresh bucket per test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator_fixtures import EmulatorProcess

_names = itertools.count(1)


@pytest.fixture(scope="session")
def s3_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    state_dir = tmp_path_factory.mktemp("s3-emulator") / "state"
    process = EmulatorProcess(state_dir, "")
    for name in ("DOCKYARD_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        process.env.pop(name, None)
    process.start()
    yield process
    process.stop()
    from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

    remove_fleet_containers(state_dir)


@pytest.fixture(scope="session")
def s3(s3_emulator: EmulatorProcess) -> Any:
    return s3_emulator.client("s3", s3={"addressing_style": "path"})


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"dy-test-{next(_names)}"
    s3.create_bucket(Bucket=name)
    return name
