"""Deploy benchmark: CreateEndpoint -> InService for one built image, dockyard's emulator beside the
SageMaker Python SDK's local mode, in one run on one machine.

    bash bench/setup.sh      # the SDK's venv (bench/.peers/sagemaker-sdk) and Debian's docker-compose
    .venv/bin/python bench/emulator_deploy.py [--runs 3] [--only dockyard sdk-emulator sdk] [--image TAG]

- **image**: the scikit-learn project of bench/image.py built once with `dockyard build` (or --image);
  its model goes to model.tar.gz through dockyard.archive, given to dockyard as a file:// URL (with
  --model-data s3, uploaded to the emulator's own S3 first) and to the SDK's local mode as a file.
- **dockyard** (bench/deploy_dockyard.py): a background emulator (private port and state directory, or
  --emulator-url), driven by plain boto3: CreateModel, CreateEndpointConfig, then CreateEndpoint timed
  until DescribeEndpoint says InService (polled every 50 ms), then one InvokeEndpoint. *Cold* runs
  each get a model archive never seen before; *warm* runs reuse one already deployed, so its data is
  unpacked. Each run deletes its endpoint, config and model.
- **sdk-emulator** (same module): the SDK (this venv's) as users run it against the emulator, with only
  AWS_ENDPOINT_URL set: `Session(default_bucket=...).upload_data(...)`, then
  `Model(...).deploy(instance_type="ml.m5.large")` timed to InService (a 50 ms poller beside it) and to
  deploy()'s own return, then one prediction. deploy() cannot return in under 30 s: the SDK's
  wait_for_endpoint sleeps its 30 s poll before its first DescribeEndpoint, on any target.
- **sdk** (bench/deploy_sdk_local.py): bench/peers/sagemaker_local_deploy.py in the SDK's venv:
  `Model(...).deploy(instance_type="local")` timed to InService (its local CreateEndpoint returns) and
  to deploy()'s own return (the same 30 s floor), then one prediction, then delete_endpoint/delete_model.

Every run's prediction must equal the model's own in-process answer, else the row FAILED. Medians of
--runs runs; the target is dockyard's cold median <= 3 s. Results go to bench/results/ as JSON, the SDK's
and the emulator's output to bench/results/deploy-logs-<time>/. Exit status 1 when a row failed or the
target is missed. Images and containers made here start with dy-bench-.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import joblib
import numpy as np

from dockyard.archive import pack
from dockyard.config import load_config
from dockyard.errors import DockyardError
from dockyard.image.project import build_project

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))  # the sibling benchmarks, whose project writer and helpers are reused
from deploy_common import PREFIX, Row, Workload  # noqa: E402
from deploy_dockyard import bench_dockyard, bench_sdk_on_emulator, emulator  # noqa: E402
from deploy_sdk_local import bench_sdk  # noqa: E402
from image import DEFAULT_BASE, Recorder, _cleanup, _write_project  # noqa: E402

RESULTS = BENCH / "results"
IMAGE_TAG = f"{PREFIX}deploy-sklearn:latest"
TARGET_S = 3.0
ROWS = ("dockyard", "sdk-emulator", "sdk")


def make_workload(scratch: Path, args: argparse.Namespace, recorder: Recorder) -> Workload:
    """The project of bench/image.py, its image (built unless --image) and one archive per use."""
    project = scratch / "project"
    _write_project(project, args.base_image, args.network)
    image = args.image
    if image is None:
        print(f"building {IMAGE_TAG} from {args.base_image} with dockyard build ...", flush=True)
        built = build_project(load_config(project), tags=[IMAGE_TAG], progress=recorder).image
        print(f"built in {built.seconds:.1f} s ({built.size / 1e6:.0f} MB)")
        image = IMAGE_TAG
    model = joblib.load(project / "model" / "model.joblib")
    row = [round(float(v), 6) for v in np.random.default_rng(11).normal(size=10)]
    cold = []
    for index in range(1, args.runs + 1):
        # A file that changes the archive's bytes, so no cache (by path or content) can know it.
        (project / "model" / "bench-run.txt").write_text(f"cold run {index}\n")
        cold.append(pack(project / "model", scratch / "data" / f"cold-{index}" / "model.tar.gz").path)
    # The SDK unpacks the archive beside itself and mounts that folder: it gets a folder of its own.
    sdk = pack(project / "model", scratch / "data" / "sdk" / "model.tar.gz").path
    return Workload(image, json.dumps([row]).encode(), model.predict([row]).tolist(), cold, sdk)


# ----------------------------------------------------------------------------- report


def print_table(rows: list[Row]) -> None:
    print(f"\n{'row':<26}{'runs':>5}{'InService s (median)':>22}{'min':>7}{'max':>7}{'+1st prediction':>17}")
    for row in rows:
        if row.error is not None or not row.runs:
            print(f"{row.name:<26}  FAILED: {row.error}")
            continue
        values = [run["in_service_s"] for run in row.runs]
        print(
            f"{row.name:<26}{len(values):>5}{row.median('in_service_s') or 0:>22.2f}{min(values):>7.2f}"
            f"{max(values):>7.2f}{row.median('first_prediction_s') or 0:>17.2f}"
        )
        if row.median("deploy_returned_s") is not None:
            print(
                f"{'':<26}deploy() itself returned after {row.median('deploy_returned_s'):.2f} s "
                "(its wait_for_endpoint sleeps 30 s before the first DescribeEndpoint)"
            )


def summary(rows: list[Row]) -> tuple[list[str], bool]:
    """The ratio lines and the target line, and whether everything passed."""
    by_kind = {row.kind: row for row in rows if row.error is None and row.runs}
    lines = []
    sdk = by_kind.get("sdk")
    for kind in ("cold", "warm"):
        row = by_kind.get(kind)
        if row is None or sdk is None:
            continue
        ours, theirs = row.median("in_service_s") or 0.0, sdk.median("in_service_s") or 0.0
        returned = sdk.median("deploy_returned_s") or 0.0
        lines.append(
            f"SDK local mode / dockyard {kind}: to InService {theirs / ours:.1f}x ({theirs:.2f} s vs "
            f"{ours:.2f} s); to deploy()'s return {returned / ours:.1f}x ({returned:.2f} s)"
        )
    on_emulator = by_kind.get("sdk-emulator")
    if on_emulator is not None and sdk is not None:
        ours = on_emulator.median("deploy_returned_s") or 0.0
        theirs = sdk.median("deploy_returned_s") or 0.0
        ready, ready_local = on_emulator.median("in_service_s") or 0.0, sdk.median("in_service_s") or 0.0
        lines.append(
            f"SDK deploy() wall time: on the emulator {ours:.2f} s vs local mode {theirs:.2f} s "
            f"(InService {ready:.2f} s vs {ready_local:.2f} s); the SDK's own 30 s poll is the floor of both"
        )
    ok = all(row.error is None for row in rows)
    cold = by_kind.get("cold")
    if cold is not None:
        median = cold.median("in_service_s") or 0.0
        passed = median <= TARGET_S
        ok = ok and passed
        lines.append(
            f"target: dockyard CreateEndpoint -> InService <= {TARGET_S:g} s "
            f"(cold median {median:.2f} s): {'PASS' if passed else 'FAIL'}"
        )
    return lines, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per row (default 3)")
    parser.add_argument("--only", nargs="+", choices=ROWS, default=list(ROWS))
    parser.add_argument("--image", help="an image built from bench/image.py's project (skips the build)")
    parser.add_argument("--keep-image", action="store_true", help=f"keep {IMAGE_TAG} for a later --image")
    parser.add_argument("--base-image", default=DEFAULT_BASE, help=f"default {DEFAULT_BASE}")
    parser.add_argument("--network", default="host", help="network for the build's RUN steps (default host)")
    parser.add_argument("--emulator-url", help="use this running emulator instead of starting one")
    parser.add_argument(
        "--model-data",
        choices=("file", "s3"),
        default="file",
        help="dockyard's ModelDataUrl: file:// (default) or s3:// from the emulator's own S3",
    )
    parser.add_argument("--quiet-wait", type=float, default=20.0, help="max s to wait for idle CPUs per run")
    args = parser.parse_args()

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS / f"deploy-logs-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    recorder = Recorder()
    made = [] if args.image or args.keep_image else [IMAGE_TAG]
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix=PREFIX) as tmp,
        _cleanup(False, made, recorder),
    ):
        scratch = Path(tmp)
        try:
            work = make_workload(scratch, args, recorder)
        except DockyardError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        print(f"image {work.image}; {args.runs} runs per row; request {work.body.decode()}", flush=True)
        if {"dockyard", "sdk-emulator"} & set(args.only):
            with contextlib.ExitStack() as stack:
                try:
                    url = stack.enter_context(emulator(args, scratch, log_dir))
                except DockyardError as exc:
                    print(f"error: {exc.message}", file=sys.stderr)
                    return 1
                if "dockyard" in args.only:
                    print("dockyard: cold runs, then warm runs ...", flush=True)
                    rows += bench_dockyard(args, work, url)
                if "sdk-emulator" in args.only:
                    print("SageMaker SDK deploy() on the emulator (AWS_ENDPOINT_URL) ...", flush=True)
                    rows.append(bench_sdk_on_emulator(args, work, url))
        if "sdk" in args.only:
            print("SageMaker SDK local mode ...", flush=True)
            rows.append(bench_sdk(args, work, scratch, log_dir))
    print_table(rows)
    lines, ok = summary(rows)
    print("\n" + "\n".join(lines))
    result = {
        "measured_at": stamp,
        "image": work.image,
        "runs_per_row": args.runs,
        "cpus": os.cpu_count(),
        "rows": [asdict(row) | {"median_in_service_s": row.median("in_service_s")} for row in rows],
        "summary": lines,
        "passed": ok,
    }
    path = RESULTS / f"emulator-deploy-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {path.relative_to(BENCH.parent)}; logs: {log_dir.relative_to(BENCH.parent)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
