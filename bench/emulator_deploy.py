"""Deploy benchmark: CreateEndpoint -> InService for one built image, dockyard's emulator beside the
SageMaker Python SDK's local mode, in one run on one machine.

    bash bench/setup.sh      # the SDK's venv (bench/.peers/sagemaker-sdk) and Debian's docker-compose
    .venv/bin/python bench/emulator_deploy.py [--runs 3] [--only dockyard sdk] [--image TAG] [--keep-image]

- **image**: the scikit-learn project of bench/image.py built once with `dockyard build` (or --image);
  its model goes to model.tar.gz through dockyard.archive, given to both as a file:// URL
  (dockyard: s3:// from moto in server mode on 127.0.0.1 instead, with --model-data s3).
- **dockyard**: a background emulator (dockyard.emulator.process, private port and state directory, or
  --emulator-url), driven by plain boto3: CreateModel, CreateEndpointConfig, then CreateEndpoint timed
  until DescribeEndpoint says InService (polled every 50 ms), then one InvokeEndpoint. *Cold* runs
  each get a model archive never seen before; *warm* runs reuse one already deployed, so its data is
  unpacked. Each run deletes its endpoint, config and model.
- **sdk**: bench/peers/sagemaker_local_deploy.py in the SDK's venv: `Model(...).deploy(instance_type=
  "local")` timed to InService (its local CreateEndpoint returns) and to deploy()'s own return, then
  one prediction, then delete_endpoint/delete_model.

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
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
import docker
import docker.errors
import httpx
import joblib
import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from dockyard.archive import pack
from dockyard.config import load_config
from dockyard.errors import DockyardError
from dockyard.image.project import build_project

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))  # the sibling benchmarks, whose project writer and helpers are reused
from image import DEFAULT_BASE, Recorder, _cleanup, _write_project  # noqa: E402
from serving import clean_env, free_port, wait_for_quiet  # noqa: E402

RESULTS = BENCH / "results"
SDK_PYTHON = BENCH / ".peers" / "sagemaker-sdk" / "bin" / "python"
SDK_SCRIPT = BENCH / "peers" / "sagemaker_local_deploy.py"
PREFIX = "dy-bench-"
IMAGE_TAG = f"{PREFIX}deploy-sklearn:latest"
SDK_NAME_PREFIX = f"{PREFIX}sdk-"
SDK_NETWORK = "sagemaker-local"  # the network the SDK's compose file declares, by that name
ROLE = "arn:aws:iam::123456789012:role/dockyard-bench"
INSTANCE_TYPE = "ml.m5.large"
TARGET_S = 3.0
POLL_S = 0.05
DEPLOY_DEADLINE_S = 120.0
DELETE_DEADLINE_S = 60.0
BUCKET = "dy-bench-deploy"
DOCKYARD = Path(sys.executable).parent / "dockyard"
MOTO_SERVER = Path(sys.executable).parent / "moto_server"
CLIENT_OPTIONS: dict[str, Any] = {
    "region_name": "us-east-1",
    "aws_access_key_id": "x",
    "aws_secret_access_key": "x",
}
SDK_RUN_DEADLINE_S = 200.0  # the SDK's own /ping loop gives up after 120 s; teardown waits on compose


@dataclass
class Workload:
    image: str
    body: bytes
    expected: Any
    cold_archives: list[Path]
    sdk_archive: Path


@dataclass
class Row:
    kind: str  # cold, warm (dockyard) or sdk
    name: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def median(self, key: str) -> float | None:
        values = [run[key] for run in self.runs if key in run]
        return statistics.median(values) if values and len(values) == len(self.runs) else None


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


# ----------------------------------------------------------------------------- dockyard


@contextlib.contextmanager
def moto_s3(log_dir: Path) -> Iterator[str]:
    """moto in server mode on 127.0.0.1 as the S3 that s3:// model data comes from."""
    url = f"http://127.0.0.1:{free_port(random.Random())}"
    with (log_dir / "moto.log").open("wb") as log:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", url.rsplit(":", 1)[1]],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto did not start; see {log_dir / 'moto.log'}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def upload(s3_url: str, archives: list[Path]) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=s3_url, **CLIENT_OPTIONS)
    s3.create_bucket(Bucket=BUCKET)
    for archive in archives:
        s3.upload_file(str(archive), BUCKET, f"{archive.parent.name}/{archive.name}")
    return [f"s3://{BUCKET}/{archive.parent.name}/{archive.name}" for archive in archives]


@contextlib.contextmanager
def emulator(args: argparse.Namespace, scratch: Path, log_dir: Path, s3_url: str | None) -> Iterator[str]:
    """The emulator's URL: --emulator-url, else a background one of our own, stopped afterwards with
    every container it started."""
    if args.emulator_url:
        yield args.emulator_url.rstrip("/")
        return
    from dockyard.emulator.process import LOG_FILE, start_detached
    from dockyard.emulator.settings import EmulatorSettings

    state_dir = scratch / "emulator"
    settings = EmulatorSettings(
        port=free_port(random.Random()),
        state_dir=state_dir,
        s3_endpoint_url=s3_url,
        allow_paths=(scratch,),  # the file:// model archives are written there
    )
    try:
        yield start_detached(settings).url
    finally:
        subprocess.run(
            [str(DOCKYARD), "emulator", "down", "--state-dir", str(state_dir), "--stop-endpoints"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        with contextlib.suppress(OSError):
            shutil.copy(state_dir / LOG_FILE, log_dir / "emulator.log")


def _describe_status(client: Any, name: str) -> tuple[str | None, str]:
    """The endpoint's status and failure reason; (None, "") once it is gone."""
    try:
        described = client.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ValidationException":
            return None, ""
        raise
    return described["EndpointStatus"], described.get("FailureReason", "")


def wait_in_service(client: Any, name: str) -> None:
    deadline = time.monotonic() + DEPLOY_DEADLINE_S
    while True:
        status, reason = _describe_status(client, name)
        if status == "InService":
            return
        if status in (None, "Failed", "OutOfService"):
            raise RuntimeError(f"endpoint {name} went {status or 'missing'}: {reason}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"endpoint {name} still {status} after {DEPLOY_DEADLINE_S:g} s")
        time.sleep(POLL_S)


def delete_all(client: Any, name: str) -> None:
    """Delete the endpoint (waiting until it is gone), its config and its model; each may be missing."""
    with contextlib.suppress(ClientError):
        client.delete_endpoint(EndpointName=name)
    deadline = time.monotonic() + DELETE_DEADLINE_S
    while _describe_status(client, name)[0] is not None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"endpoint {name} not deleted after {DELETE_DEADLINE_S:g} s")
        time.sleep(POLL_S)
    with contextlib.suppress(ClientError):
        client.delete_endpoint_config(EndpointConfigName=name)
    with contextlib.suppress(ClientError):
        client.delete_model(ModelName=name)


def dockyard_run(clients: tuple[Any, Any], work: Workload, name: str, model_data_url: str) -> dict[str, Any]:
    control, runtime = clients
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": INSTANCE_TYPE,
    }
    result: dict[str, Any] = {}
    try:
        control.create_model(
            ModelName=name,
            PrimaryContainer={"Image": work.image, "ModelDataUrl": model_data_url},
            ExecutionRoleArn=ROLE,
        )
        control.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
        result["started_at"] = time.time()  # epoch, to line up with `docker events`
        start = time.perf_counter()
        control.create_endpoint(EndpointName=name, EndpointConfigName=name)
        wait_in_service(control, name)
        result["in_service_s"] = time.perf_counter() - start
        response = runtime.invoke_endpoint(
            EndpointName=name, Body=work.body, ContentType="application/json", Accept="application/json"
        )
        result["prediction"] = json.loads(response["Body"].read())
        result["first_prediction_s"] = time.perf_counter() - start
    finally:
        started = time.perf_counter()
        delete_all(control, name)
        result["teardown_s"] = time.perf_counter() - started
    return result


def emulator_credentials(url: str) -> dict[str, str]:
    """The credentials the emulator at ``url`` checks signatures against (from its state directory)."""
    from dockyard.lifecycle.target import emulator_credentials

    credentials = emulator_credentials(url)
    return {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
    }


def bench_dockyard(args: argparse.Namespace, work: Workload, scratch: Path, log_dir: Path) -> list[Row]:
    cold, warm = Row("cold", "dockyard cold"), Row("warm", "dockyard warm")
    try:
        with contextlib.ExitStack() as stack:
            s3_url = stack.enter_context(moto_s3(log_dir)) if args.model_data == "s3" else None
            urls = upload(s3_url, work.cold_archives) if s3_url else [a.as_uri() for a in work.cold_archives]
            plan = [(cold, url) for url in urls] + [(warm, urls[-1]) for _ in range(args.runs)]
            url = stack.enter_context(emulator(args, scratch, log_dir, s3_url))
            print(f"dockyard emulator at {url}, model data {urls[-1]}", flush=True)
            signing = {**CLIENT_OPTIONS, **emulator_credentials(url)}
            clients = (
                boto3.client("sagemaker", endpoint_url=url, **signing),
                boto3.client("sagemaker-runtime", endpoint_url=url, **signing),
            )
            for index, (row, model_data_url) in enumerate(plan, start=1):
                busy = wait_for_quiet(args.quiet_wait)
                result = dockyard_run(clients, work, f"{PREFIX}{index}", model_data_url)
                result["busy_before"] = busy
                row.runs.append(checked(row.name, result, work))
    except (DockyardError, RuntimeError, ClientError, BotoCoreError, ValueError) as exc:
        reason = getattr(exc, "message", None) or str(exc)
        for row in (cold, warm):
            if len(row.runs) < args.runs:
                row.error = reason
    left = endpoint_containers()
    if left:
        print(f"warning: the emulator left containers of this run: {', '.join(left)}", file=sys.stderr)
    return [cold, warm]


def endpoint_containers() -> list[str]:
    """Containers of this benchmark's endpoints (by the emulator's endpoint label) that still exist."""
    client = docker.from_env()
    try:
        found = client.containers.list(all=True, filters={"label": "dockyard.endpoint"})
        return [str(c.name) for c in found if c.labels.get("dockyard.endpoint", "").startswith(PREFIX)]
    finally:
        client.close()


def checked(name: str, result: dict[str, Any], work: Workload) -> dict[str, Any]:
    if result.get("prediction") != work.expected:
        raise ValueError(f"{name}: wrong answer {result.get('prediction')!r}, expected {work.expected!r}")
    returned = (
        f", deploy() returned {result['deploy_returned_s']:.2f} s" if "deploy_returned_s" in result else ""
    )
    print(
        f"  {name}: InService {result['in_service_s']:.2f} s{returned}, first prediction "
        f"{result['first_prediction_s']:.2f} s, teardown {result['teardown_s']:.2f} s",
        flush=True,
    )
    return result


# ----------------------------------------------------------------------------- SDK local mode


def sdk_leftovers(client: docker.DockerClient, had_network: bool) -> None:
    """Remove what compose leaves: the stopped containers, and the network when this run made it."""
    for container in client.containers.list(all=True, filters={"name": SDK_NAME_PREFIX}):
        if (container.name or "").startswith(SDK_NAME_PREFIX):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
    if not had_network:
        for network in client.networks.list(names=[SDK_NETWORK]):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()


def bench_sdk(args: argparse.Namespace, work: Workload, scratch: Path, log_dir: Path) -> Row:
    row = Row("sdk", "sdk local mode")
    if not SDK_PYTHON.exists():
        row.error = "bench/.peers/sagemaker-sdk is missing (run bash bench/setup.sh)"
        return row
    if shutil.which("docker-compose") is None:
        row.error = "docker-compose is missing (run bash bench/setup.sh)"
        return row
    home, root, out = scratch / "sdk-home", scratch / "sdk-root", scratch / "sdk-result.json"
    home.mkdir()
    root.mkdir()
    env = clean_env(
        {
            "HOME": str(home),  # no ~/.sagemaker/config.yaml or SDK defaults from this machine's user
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            # Nothing should call AWS; if something did, it would fail here at once, not leave the machine.
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        }
    )
    command = [
        str(SDK_PYTHON),
        str(SDK_SCRIPT),
        *("--image", work.image, "--model-data", str(work.sdk_archive)),
        *("--port", str(free_port(random.Random())), "--runs", str(args.runs)),
        *("--body", work.body.decode(), "--name-prefix", SDK_NAME_PREFIX),
        *("--container-root", str(root), "--out", str(out)),
    ]
    client = docker.from_env()
    had_network = bool(client.networks.list(names=[SDK_NETWORK]))
    busy = wait_for_quiet(args.quiet_wait)
    try:
        with (log_dir / "sdk.log").open("wb") as log:
            subprocess.run(  # our own script, in the peer's venv
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=SDK_RUN_DEADLINE_S * args.runs,
                check=False,
            )
        report = json.loads(out.read_text()) if out.exists() else None
    except subprocess.TimeoutExpired:
        report = None
        row.error = f"timed out after {SDK_RUN_DEADLINE_S * args.runs:g} s"
    finally:
        sdk_leftovers(client, had_network)
        client.close()
    if report is None:
        row.error = row.error or f"no result; see {log_dir / 'sdk.log'}"
        return row
    row.name = f"sdk local mode {report['sagemaker']}"
    for result in report["runs"]:
        if "error" in result:
            row.error = f"run {result['run']}: {result['error']}"
            break
        try:
            row.runs.append(checked(row.name, {**result, "busy_before": busy}, work))
        except ValueError as exc:
            row.error = str(exc)
            break
    return row


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
    parser.add_argument("--only", nargs="+", choices=("dockyard", "sdk"), default=["dockyard", "sdk"])
    parser.add_argument("--image", help="an image built from bench/image.py's project (skips the build)")
    parser.add_argument("--keep-image", action="store_true", help=f"keep {IMAGE_TAG} for a later --image")
    parser.add_argument("--base-image", default=DEFAULT_BASE, help=f"default {DEFAULT_BASE}")
    parser.add_argument("--network", default="host", help="network for the build's RUN steps (default host)")
    parser.add_argument("--emulator-url", help="use this running emulator instead of starting one")
    parser.add_argument(
        "--model-data",
        choices=("file", "s3"),
        default="file",
        help="dockyard's ModelDataUrl: file:// (default) or s3:// from moto in server mode on 127.0.0.1",
    )
    parser.add_argument("--quiet-wait", type=float, default=20.0, help="max s to wait for idle CPUs per run")
    args = parser.parse_args()
    if args.emulator_url and args.model_data == "s3":
        parser.error("--model-data s3 needs an emulator of our own (it must know moto's address)")

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
        if "dockyard" in args.only:
            print("dockyard: cold runs, then warm runs ...", flush=True)
            rows += bench_dockyard(args, work, scratch, log_dir)
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
