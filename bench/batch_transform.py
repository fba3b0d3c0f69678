"""Batch transform benchmark: 100,000 CSV rows through a batch transform job on dockyard's emulator,
against a plain loop of InvokeEndpoint calls (one row each) on the same model, in one run.

    .venv/bin/python bench/batch_transform.py [--rows 100000] [--loop-rows 2000] [--base-image IMAGE]

- **model**: the tests' ``dockyard`` fixture image (dockyard's own server, a linear model over four
  columns), built from the test base image, its model.tar.gz in the emulator's own S3.
- **emulator**: a background one with a private port and state directory, driven by plain boto3.
- **batch**: CreateTransformJob over one object of --rows rows (SplitType Line, BatchStrategy
  MultiRecord, MaxPayloadInMB 6, one ml.m5.large instance), timed from CreateTransformJob to Completed
  (DescribeTransformJob polled every 100 ms), container start included; the .out object is checked
  row by row against the model's answers.
- **loop**: an endpoint on the same image and model, then --loop-rows InvokeEndpoint calls, one row
  each, one after another (what a script without batch transform does); rows/s extrapolates to --rows.

Prints rows/s of each and the ratio batch ÷ loop. Exit status 1 when an answer is wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import docker

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))  # the tests' fixture image
from tests.fixture_images import build_fixture_image, remove_fixture_images, write_model  # noqa: E402

from deploy_common import CLIENT_OPTIONS  # noqa: E402
from dockyard.archive import pack  # noqa: E402
from serving import free_port  # noqa: E402

DOCKYARD = Path(sys.executable).parent / "dockyard"
BUCKET = "dy-bench-batch"
ROLE = "arn:aws:iam::123456789012:role/dy-bench"


def rows_csv(count: int) -> tuple[bytes, list[float]]:
    """``count`` rows of four small integers, and the model's answer for each (weights 1, 2, 3, 4)."""
    rng = random.Random(7)
    rows = [[rng.randint(0, 9) for _ in range(4)] for _ in range(count)]
    body = "".join(",".join(map(str, row)) + "\n" for row in rows).encode()
    return body, [float(sum(w * x for w, x in zip((1, 2, 3, 4), row, strict=True))) for row in rows]


def wait_job(sm: Any, name: str) -> str:
    while True:
        status = str(sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"])
        if status in ("Completed", "Failed", "Stopped"):
            return status
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--loop-rows", type=int, default=2000)
    parser.add_argument("--base-image", default="dockyard-test-base:bookworm")
    args = parser.parse_args()

    from dockyard.emulator.process import start_detached
    from dockyard.emulator.security.credentials import save_credentials
    from dockyard.emulator.settings import EmulatorSettings

    client = docker.from_env()
    print("building the fixture image ...", flush=True)
    image = build_fixture_image(client, args.base_image, "dockyard")
    with tempfile.TemporaryDirectory(prefix="dy-bench-batch-") as tmp:
        scratch = Path(tmp)
        state_dir = scratch / "emulator"
        save_credentials(state_dir, CLIENT_OPTIONS["aws_secret_access_key"])
        settings = EmulatorSettings(
            port=free_port(random.Random()), state_dir=state_dir, s3_endpoint_url=None
        )
        url = start_detached(settings).url
        try:
            return run(url, image, scratch, args)
        finally:
            subprocess.run(
                [str(DOCKYARD), "emulator", "down", "--state-dir", str(state_dir), "--stop-endpoints"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            remove_fixture_images(client)


def run(url: str, image: str, scratch: Path, args: argparse.Namespace) -> int:
    sm, s3, runtime = (
        boto3.client(s, endpoint_url=url, **CLIENT_OPTIONS) for s in ("sagemaker", "s3", "sagemaker-runtime")
    )
    archive = scratch / "model.tar.gz"
    pack(write_model(scratch / "model"), archive)
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(archive), BUCKET, "model.tar.gz")
    body, expected = rows_csv(args.rows)
    s3.put_object(Bucket=BUCKET, Key="input/rows.csv", Body=body)
    sm.create_model(
        ModelName="dy-bench-batch",
        PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )

    started = time.perf_counter()
    sm.create_transform_job(
        TransformJobName="dy-bench-batch",
        ModelName="dy-bench-batch",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=6,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/input/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/output", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    status = wait_job(sm, "dy-bench-batch")
    batch_seconds = time.perf_counter() - started
    if status != "Completed":
        print(
            f"FAILED: the job ended {status}: {sm.describe_transform_job(TransformJobName='dy-bench-batch')}"
        )
        return 1
    output = s3.get_object(Bucket=BUCKET, Key="output/rows.csv.out")["Body"].read().decode().split()
    if [float(value) for value in output] != expected:
        print("FAILED: the batch transform's answers differ from the model's")
        return 1

    sm.create_endpoint_config(
        EndpointConfigName="dy-bench-batch",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "dy-bench-batch",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName="dy-bench-batch", EndpointConfigName="dy-bench-batch")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="dy-bench-batch", WaiterConfig={"Delay": 1})
    lines = body.splitlines(keepends=True)[: args.loop_rows]
    started = time.perf_counter()
    for line, want in zip(lines, expected, strict=False):
        answer = runtime.invoke_endpoint(EndpointName="dy-bench-batch", Body=line, ContentType="text/csv")
        if float(answer["Body"].read()) != want:
            print("FAILED: InvokeEndpoint's answer differs from the model's")
            return 1
    loop_seconds = time.perf_counter() - started
    with contextlib.suppress(Exception):
        sm.delete_endpoint(EndpointName="dy-bench-batch")

    batch_rate = args.rows / batch_seconds
    loop_rate = len(lines) / loop_seconds
    print(
        f"batch transform: {args.rows} rows in {batch_seconds:.2f} s (container start included): "
        f"{batch_rate:,.0f} rows/s"
    )
    print(
        f"InvokeEndpoint loop: {len(lines)} rows in {loop_seconds:.2f} s: {loop_rate:,.0f} rows/s "
        f"({args.rows / loop_rate:.0f} s for {args.rows} rows)"
    )
    print(f"batch ÷ loop throughput: {batch_rate / loop_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
