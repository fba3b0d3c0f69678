"""The deploy benchmark's row for the SageMaker Python SDK's local mode (``instance_type="local"``),
run by bench/peers/sagemaker_local_deploy.py in the SDK's own venv."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import docker.errors

from deploy_common import PREFIX, Row, Workload, checked
from serving import clean_env, free_port, wait_for_quiet

BENCH = Path(__file__).resolve().parent
PEER_PYTHON = BENCH / ".peers" / "sagemaker-sdk" / "bin" / "python"
SDK_SCRIPT = BENCH / "peers" / "sagemaker_local_deploy.py"
SDK_NAME_PREFIX = f"{PREFIX}sdk-"
SDK_NETWORK = "sagemaker-local"  # the network the SDK's compose file declares, by that name
SDK_RUN_DEADLINE_S = 200.0  # the SDK's own /ping loop gives up after 120 s; teardown waits on compose


def sdk_python() -> Path | None:
    """The SDK's own venv (bench/setup.sh), else this one when it has the SDK (the same pinned release
    in the dev environment)."""
    if PEER_PYTHON.exists():
        return PEER_PYTHON
    return Path(sys.executable) if importlib.util.find_spec("sagemaker") is not None else None


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
    python = sdk_python()
    if python is None:
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
        str(python),
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
