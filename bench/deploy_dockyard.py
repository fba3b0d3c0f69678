"""The deploy benchmark's rows on dockyard's emulator: plain boto3 (cold and warm), and the SageMaker
Python SDK's own ``Model.deploy`` pointed at the emulator by ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import docker
from botocore.exceptions import BotoCoreError, ClientError

from deploy_common import (
    CLIENT_OPTIONS,
    INSTANCE_TYPE,
    POLL_S,
    PREFIX,
    ROLE,
    Row,
    Workload,
    checked,
    delete_all,
    describe_status,
    wait_in_service,
)
from dockyard.errors import DockyardError
from serving import free_port, wait_for_quiet

BUCKET = "dy-bench-deploy"
DOCKYARD = Path(sys.executable).parent / "dockyard"
# The SDK's own defaults, less its telemetry (a request after each deploy).
SDK_DEFAULTS = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


@contextlib.contextmanager
def emulator(args: argparse.Namespace, scratch: Path, log_dir: Path) -> Iterator[str]:
    """The emulator's URL: --emulator-url, else a background one of our own, stopped afterwards with
    every container it started."""
    if args.emulator_url:
        yield args.emulator_url.rstrip("/")
        return
    from dockyard.emulator.process import LOG_FILE, start_detached
    from dockyard.emulator.security.credentials import save_credentials
    from dockyard.emulator.settings import EmulatorSettings

    state_dir = scratch / "emulator"
    # The emulator checks signatures against its state directory's secret: the bench clients' one.
    save_credentials(state_dir, CLIENT_OPTIONS["aws_secret_access_key"])
    settings = EmulatorSettings(port=free_port(random.Random()), state_dir=state_dir, s3_endpoint_url=None)
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


def upload(url: str, archives: list[Path]) -> list[str]:
    """The archives in the emulator's own S3 (the bucket made when missing)."""
    s3 = boto3.client("s3", endpoint_url=url, **CLIENT_OPTIONS)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=BUCKET)
    for archive in archives:
        s3.upload_file(str(archive), BUCKET, f"{archive.parent.name}/{archive.name}")
    return [f"s3://{BUCKET}/{archive.parent.name}/{archive.name}" for archive in archives]


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


def bench_dockyard(args: argparse.Namespace, work: Workload, url: str) -> list[Row]:
    cold, warm = Row("cold", "dockyard cold"), Row("warm", "dockyard warm")
    try:
        if args.model_data == "s3":
            urls = upload(url, work.cold_archives)
        else:
            urls = [archive.as_uri() for archive in work.cold_archives]
        plan = [(cold, data) for data in urls] + [(warm, urls[-1]) for _ in range(args.runs)]
        print(f"dockyard emulator at {url}, model data {urls[-1]}", flush=True)
        clients = (
            boto3.client("sagemaker", endpoint_url=url, **CLIENT_OPTIONS),
            boto3.client("sagemaker-runtime", endpoint_url=url, **CLIENT_OPTIONS),
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


# ----------------------------------------------------------------------------- the SDK on the emulator


@contextlib.contextmanager
def endpoint_variable(url: str) -> Iterator[None]:
    """AWS_ENDPOINT_URL (and credentials, a region) for this process while the SDK runs in it."""
    values = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def sdk_on_emulator_run(work: Workload, name: str, url: str) -> dict[str, Any]:
    """``Model(...).deploy()`` as users write it, with the model data uploaded by ``upload_data``;
    InService is seen by a poller beside it (every 50 ms), deploy()'s own return is timed too."""
    import sagemaker
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import JSONSerializer

    session = sagemaker.Session(default_bucket=BUCKET, sagemaker_config=SDK_DEFAULTS)
    data = session.upload_data(str(work.sdk_archive), key_prefix=f"sdk/{name}")
    model = Model(image_uri=work.image, model_data=data, role=ROLE, predictor_cls=Predictor, name=name)
    control = boto3.client("sagemaker", endpoint_url=url, **CLIENT_OPTIONS)
    result: dict[str, Any] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with contextlib.suppress(ClientError):
                if describe_status(control, name)[0] == "InService":
                    result["in_service_s"] = time.perf_counter() - start
                    return
            time.sleep(POLL_S)

    start = time.perf_counter()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        predictor = model.deploy(
            initial_instance_count=1,
            instance_type=INSTANCE_TYPE,
            endpoint_name=name,
            serializer=JSONSerializer(),
            deserializer=JSONDeserializer(),
        )
        result["deploy_returned_s"] = time.perf_counter() - start
        result["prediction"] = predictor.predict(json.loads(work.body))
        result["first_prediction_s"] = time.perf_counter() - start
    finally:
        done.set()
        watcher.join()
        started = time.perf_counter()
        delete_all(control, name)
        result["teardown_s"] = time.perf_counter() - started
    return result


def bench_sdk_on_emulator(args: argparse.Namespace, work: Workload, url: str) -> Row:
    row = Row("sdk-emulator", "sdk deploy() on emulator")
    try:  # not imported here: the SDK reads the environment set below when it is first imported
        row.name = f"sdk {importlib.metadata.version('sagemaker')} on emulator"
    except importlib.metadata.PackageNotFoundError:
        row.error = "the sagemaker package is not installed in this venv"
        return row
    try:
        with endpoint_variable(url):
            for index in range(1, args.runs + 1):
                busy = wait_for_quiet(args.quiet_wait)
                result = sdk_on_emulator_run(work, f"{PREFIX}sdk-emulator-{index}", url)
                row.runs.append(checked(row.name, {**result, "busy_before": busy}, work))
    except Exception as exc:  # whatever the SDK raises: the row reports it
        row.error = f"{type(exc).__name__}: {exc}"
    return row
