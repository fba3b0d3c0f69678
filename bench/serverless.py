"""Serverless cold start vs a warm request, as a user of the local target sees them through boto3.

    .venv/bin/python bench/serverless.py [--rounds 3] [--warm 20] [--image IMAGE] [--memory 2048]

An emulator process of its own (its own S3 and state directory) serves one serverless endpoint
(``ServerlessConfig`` MemorySizeInMB ``--memory``, MaxConcurrency 1) of a dockyard image: by default
the test suite's ``dockyard`` fixture image, built from the test base image (a dot product over the
model's weights.json). Each round: one ``invoke_endpoint`` with no container running (the cold start:
container start, model load, /ping healthy, the request), then ``--warm`` requests to the running
container; then the round waits for the idle period (``DOCKYARD_SERVERLESS_IDLE_SECONDS``, set low
here) to scale the endpoint to zero. The cold start and the warm median are printed side by side, and
written to bench/results/serverless-<time>.json. Everything made is removed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test suite's image and emulator helpers

from tests.emulator_fixtures import EmulatorProcess  # noqa: E402
from tests.fixture_images import build_fixture_image, remove_fixture_images  # noqa: E402

from dockyard.archive import pack  # noqa: E402
from dockyard.emulator.serverless import IDLE_ENV  # noqa: E402

BASE_IMAGE = os.environ.get("DOCKYARD_TEST_BASE_IMAGE", "dockyard-test-base:bookworm")
IDLE_SECONDS = 3.0
BUCKET = "bench-serverless"
ROLE = "arn:aws:iam::123456789012:role/Bench"


def _running(client: docker.DockerClient, endpoint: str) -> int:
    return len(client.containers.list(filters={"label": f"dockyard.endpoint={endpoint}"}))


def _timed_invoke(runtime: Any, endpoint: str) -> float:
    started = time.perf_counter()
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=b"1,2,3,4\n")
    answer["Body"].read()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=20, help="warm requests per round")
    parser.add_argument("--memory", type=int, default=2048, help="MemorySizeInMB")
    parser.add_argument("--image", help="a dockyard image (default: the test suite's fixture image)")
    args = parser.parse_args()

    client = docker.from_env()
    image = args.image or build_fixture_image(client, BASE_IMAGE, "dockyard")
    with tempfile.TemporaryDirectory(prefix="bench-serverless-") as tmp:
        root = Path(tmp)
        emulator = EmulatorProcess(root / "state", "")
        emulator.env[IDLE_ENV] = str(IDLE_SECONDS)
        emulator.start()
        name = f"bench-sls-{uuid.uuid4().hex[:6]}"
        try:
            rows = _measure(emulator, client, image, name, root, args)
        finally:
            emulator.stop()
            from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

            remove_fleet_containers(root / "state")
            if args.image is None:
                remove_fixture_images(client)
    cold = [row["cold_s"] for row in rows]
    warm = [row["warm_median_s"] for row in rows]
    print(f"\nserverless endpoint, MemorySizeInMB {args.memory}, image {image}")
    print(f"{'round':>5}  {'cold start (s)':>14}  {'warm p50 (ms)':>13}  {'cold / warm':>11}")
    for index, row in enumerate(rows, 1):
        ratio = row["cold_s"] / row["warm_median_s"]
        print(f"{index:>5}  {row['cold_s']:>14.2f}  {row['warm_median_s'] * 1000:>13.1f}  {ratio:>11.0f}x")
    print(
        f"median: cold start {statistics.median(cold):.2f} s, warm request "
        f"{statistics.median(warm) * 1000:.1f} ms"
    )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results / f"serverless-{stamp}.json"
    out.write_text(json.dumps({"memory_mb": args.memory, "image": image, "rounds": rows}, indent=2))
    print(f"written to {out}")


def _measure(
    emulator: EmulatorProcess,
    client: docker.DockerClient,
    image: str,
    name: str,
    root: Path,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    model = root / "model"
    model.mkdir()
    (model / "weights.json").write_text(json.dumps({"weights": [1, 2, 3, 4]}))
    pack(model, root / "model.tar.gz")
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(root / "model.tar.gz"), BUCKET, "model.tar.gz")
    sagemaker = emulator.client("sagemaker")
    runtime = emulator.client("sagemaker-runtime", read_timeout=120)
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"},
    )
    config = {"MemorySizeInMB": args.memory, "MaxConcurrency": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "ServerlessConfig": config}],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
        time.sleep(0.2)
    rows: list[dict[str, Any]] = []
    try:
        for _ in range(args.rounds):
            deadline = time.monotonic() + IDLE_SECONDS + 30
            while _running(client, name) and time.monotonic() < deadline:
                time.sleep(0.2)  # scaled to zero: the next request is a cold start
            cold = _timed_invoke(runtime, name)
            warm = [_timed_invoke(runtime, name) for _ in range(args.warm)]
            rows.append({"cold_s": cold, "warm_median_s": statistics.median(warm), "warm_s": warm})
    finally:
        sagemaker.delete_endpoint(EndpointName=name)
    return rows


if __name__ == "__main__":
    main()
