"""A full disk is S3's InternalError with a sentence, and nothing half-written stays.

The emulator runs in its own user and mount namespace (``unshare -rm``, no privileges needed) with a
3 MiB tmpfs as its S3 directory, so the disk really fills up.
"""

from __future__ import annotations

import os
import shutil
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
from botocore.exceptions import ClientError

from dockyard.emulator.security.credentials import SECRET_ENV, save_credentials
from tests.aws_fixtures import FAKE_KEY, REGION, _free_port

MIB = 1024 * 1024


@pytest.fixture
def small_disk_emulator(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    unshare = shutil.which("unshare")
    assert unshare is not None, "util-linux's unshare is needed for this test"
    state = tmp_path / "state"
    (state / "s3").mkdir(parents=True)
    save_credentials(state, FAKE_KEY)  # the secret the emulator checks signatures against
    port = _free_port()
    script = (
        f"mount -t tmpfs -o size=3m dockyard-test {state / 's3'} && "
        f"exec {sys.executable} -m dockyard.emulator --port {port} --state-dir {state}"
    )
    unwanted = ("DOCKYARD_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", SECRET_ENV)
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    log = (tmp_path / "emulator.log").open("wb")
    process = subprocess.Popen(
        [unshare, "-rm", "sh", "-c", script], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "emulator.log").read_text()
        try:
            if httpx.get(f"{url}/_dockyard/status", timeout=2).json().get("ready"):
                break
        except (httpx.TransportError, ValueError):
            time.sleep(0.2)
    yield url, state
    process.terminate()
    process.wait(timeout=45)
    log.close()


def test_a_full_disk_is_a_clear_error_and_keeps_nothing(small_disk_emulator: tuple[str, Path]) -> None:
    url, state = small_disk_emulator
    s3: Any = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="dy-full")
    s3.put_object(Bucket="dy-full", Key="small", Body=b"fits")
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="dy-full", Key="big", Body=os.urandom(4 * MIB))
    assert caught.value.response["Error"]["Code"] == "InternalError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # The state directory as the emulator sees it (the tmpfs is mounted in its own namespace).
    assert caught.value.response["Error"]["Message"] == (
        f"The emulator's state directory ({state / 's3'}) has no space left: the data could not be stored "
        "and nothing of it was kept. Free some space and retry."
    )
    assert [item["Key"] for item in s3.list_objects_v2(Bucket="dy-full")["Contents"]] == ["small"]
    # The space is back: nothing of the failed upload stayed, and a file that fits still goes in.
    s3.put_object(Bucket="dy-full", Key="after", Body=os.urandom(2 * MIB))
    assert len(s3.get_object(Bucket="dy-full", Key="after")["Body"].read()) == 2 * MIB
