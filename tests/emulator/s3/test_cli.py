"""The AWS CLI (v1) against the emulator with only AWS_ENDPOINT_URL set; objects survive a restart."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.aws_fixtures import AWS_VARIABLES, FAKE_KEY
from tests.emulator_fixtures import EmulatorProcess

AWS = Path(sys.executable).parent / "aws"


def aws(emulator: EmulatorProcess, tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in AWS_VARIABLES}
    env.update(
        AWS_ENDPOINT_URL=emulator.url,
        AWS_ACCESS_KEY_ID=FAKE_KEY,
        AWS_SECRET_ACCESS_KEY=FAKE_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
    )
    quiet = ["--only-show-errors"] if args[:2] in (("s3", "cp"), ("s3", "rm")) else []
    done = subprocess.run(
        [str(AWS), *args, *quiet],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_cli_copies_a_50_mb_file_up_multipart_and_back(
    s3_emulator: EmulatorProcess, s3: Any, tmp_path: Path
) -> None:
    source = tmp_path / "model.tar.gz"
    with source.open("wb") as out:
        for _ in range(50):
            out.write(os.urandom(1024 * 1024))
    assert aws(s3_emulator, tmp_path, "s3", "mb", "s3://dy-cli").strip() == "make_bucket: dy-cli"
    aws(s3_emulator, tmp_path, "s3", "cp", str(source), "s3://dy-cli/models/model.tar.gz")
    head = s3.head_object(Bucket="dy-cli", Key="models/model.tar.gz")
    assert head["ContentLength"] == 50 * 1024 * 1024
    assert head["ETag"].endswith('-7"')  # s3transfer's 8 MiB parts: it went up as a multipart upload
    assert "dy-cli" in aws(s3_emulator, tmp_path, "s3", "ls").split()
    listing = aws(s3_emulator, tmp_path, "s3", "ls", "s3://dy-cli/models/")
    assert listing.split()[-2:] == [str(50 * 1024 * 1024), "model.tar.gz"]
    back = tmp_path / "back.tar.gz"
    aws(s3_emulator, tmp_path, "s3", "cp", "s3://dy-cli/models/model.tar.gz", str(back))
    assert filecmp.cmp(source, back, shallow=False)

    s3_emulator.restart()  # the object, its metadata and its bucket are on disk
    again = tmp_path / "again.tar.gz"
    aws(s3_emulator, tmp_path, "s3", "cp", "s3://dy-cli/models/model.tar.gz", str(again))
    assert filecmp.cmp(source, again, shallow=False)
    assert s3.head_object(Bucket="dy-cli", Key="models/model.tar.gz")["ETag"] == head["ETag"]

    aws(s3_emulator, tmp_path, "s3", "rm", "s3://dy-cli/models/model.tar.gz")
    assert aws(s3_emulator, tmp_path, "s3", "ls", "s3://dy-cli/").strip() == ""
    aws(s3_emulator, tmp_path, "s3", "rb", "s3://dy-cli")
    assert "dy-cli" not in aws(s3_emulator, tmp_path, "s3", "ls")


def test_a_restart_sweeps_files_nothing_refers_to(s3_emulator: EmulatorProcess, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="kept", Body=b"kept bytes")
    stray = s3_emulator.state_dir / "s3" / "blobs" / "ab" / ("ab" + "0" * 30)
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"left by a crash between the rename and the commit")
    leftover = s3_emulator.state_dir / "s3" / "incoming" / "upload-interrupted"
    leftover.write_bytes(b"half a body")
    s3_emulator.restart()
    assert not stray.exists()
    assert not leftover.exists()
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"kept bytes"
