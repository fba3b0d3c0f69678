"""The router benchmark's setups: one endpoint with one container, and what serves its
``POST /endpoints/bench/invocations``, each a :class:`Setup`.

- :func:`with_server`: the emulator process itself (``python -m dockyard.emulator``), the endpoint
  made through boto3;
- :func:`with_asgi_app`: the fleet in this process, and the runtime behind :class:`RuntimeApp`
  either in a thread of this process or, with ``routers`` > 1, in that many forked router processes
  on one shared socket (router_app.py).

A setup also says how much CPU whatever serves the emulator URL has used so far (from /proc), and
which process a profiler should attach to.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import docker
import httpx
import uvicorn
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_process import cpu_seconds as proc_cpu_seconds
from local_process import free_port

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the test suite's fleet helpers

from tests.emulator.runtime.fleet_kit import (  # noqa: E402
    Recorder,
    deployment,
    model_archive,
    reconciler,
    variant,
)

from asgi_thread import serve_in_thread  # noqa: E402
from dockyard.emulator.context import Caller  # noqa: E402
from dockyard.emulator.route_table import CaptureSettings  # noqa: E402
from dockyard.emulator.runtime.capture import CaptureWriter  # noqa: E402
from dockyard.emulator.runtime.invoke import Runtime  # noqa: E402
from dockyard.emulator.s3.local_objects import LocalObjects  # noqa: E402
from dockyard.emulator.s3.service import S3Service  # noqa: E402
from dockyard.emulator.sagemaker.instances import LABEL_EMULATOR, LABEL_ENDPOINT, emulator_id  # noqa: E402
from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers  # noqa: E402
from dockyard.emulator.security.credentials import save_credentials  # noqa: E402
from router_app import RuntimeApp, serve_in_processes  # noqa: E402

# With --split-cores: the container on one core, the emulator and wrk on the other (see main()).
CLIENT_CORES: list[str] = []


@dataclass
class Setup:
    direct_url: str
    emulator_url: str
    cpu_seconds: Callable[[], float]  # CPU used so far by whatever serves emulator_url (and the fleet)
    close: Callable[[], None]
    capture: Callable[[bool], None] | None = None  # switches data capture on the endpoint on or off
    profile_pid: int | None = None  # the process that serves emulator_url (one of them, if several)
    # Headers every request to emulator_url carries: the emulator refuses unsigned requests, and wrk
    # repeats one request, so one SigV4 signature (valid for the server's 15-minute skew) serves a run.
    sign: Callable[[str, dict[str, str]], dict[str, str]] | None = None


def with_server(work: Path, image: str, environment: dict[str, str]) -> Setup:
    """The emulator itself (``python -m dockyard.emulator``), the endpoint made through boto3."""
    port = free_port()
    state = work / "state"
    log = (work / "emulator.log").open("wb")
    command = [sys.executable, "-m", "dockyard.emulator", "--port", str(port), "--state-dir", str(state)]
    command += ["--allow-path", str(work)]  # the model archive is written there
    save_credentials(state, "bench")  # the secret the clients here sign with
    if CLIENT_CORES:
        command = ["taskset", "-c", CLIENT_CORES[0], *command]
    process = subprocess.Popen(
        [*command, "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def close() -> None:
        process.terminate()
        process.wait(timeout=60)
        log.close()
        remove_fleet_containers(state)

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/_dockyard/status", timeout=2).json().get("ready"):
                    break
            except (httpx.TransportError, ValueError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the emulator did not start: see {work / 'emulator.log'}")
            time.sleep(0.2)
        sagemaker = boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        sagemaker.create_model(
            ModelName="bench",
            PrimaryContainer={
                "Image": image,
                "ModelDataUrl": model_archive(work).as_uri(),
                "Environment": environment,
            },
            ExecutionRoleArn="arn:aws:iam::123456789012:role/bench",
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName="bench",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "bench",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.c5.large",
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
        while (status := sagemaker.describe_endpoint(EndpointName="bench"))["EndpointStatus"] != "InService":
            if status["EndpointStatus"] == "Failed" or time.monotonic() > deadline + 120:
                raise SystemExit(f"the endpoint did not come up: {status.get('FailureReason')}")
            time.sleep(0.2)
        labels = [f"{LABEL_EMULATOR}={emulator_id(state)}", f"{LABEL_ENDPOINT}=bench"]
        engine = docker.from_env()
        try:
            [instance] = engine.api.containers(filters={"label": labels})
            if CLIENT_CORES:
                engine.api.update_container(instance["Id"], cpuset_cpus=CLIENT_CORES[1])
            ports = engine.api.inspect_container(instance["Id"])["NetworkSettings"]["Ports"]
        finally:
            engine.close()
        direct = f"http://127.0.0.1:{ports['8080/tcp'][0]['HostPort']}/invocations"
    except BaseException:
        close()
        raise
    emulator = f"{url}/endpoints/bench/invocations"
    return Setup(
        direct,
        emulator,
        lambda: proc_cpu_seconds(process.pid),
        close,
        profile_pid=process.pid,
        sign=lambda body, headers: signed(emulator, body, headers),
    )


def signed(url: str, body: str, headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus what SigV4 adds for POSTing ``body`` to ``url`` as the bench's caller."""
    request = AWSRequest(method="POST", url=url, data=body.encode(), headers=headers)
    SigV4Auth(Credentials("bench", "bench"), "sagemaker", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def with_asgi_app(work: Path, image: str, environment: dict[str, str], routers: int = 1) -> Setup:
    """The fleet and the runtime in this process, behind :class:`RuntimeApp` on uvicorn; with
    ``routers`` > 1, the fleet here and the runtime in that many forked router processes (their CPU
    counted with this process's; data capture is not wired into them)."""
    events = Recorder()
    fleet = reconciler(work / "state", events)
    server: uvicorn.Server | None = None
    stop_routers: Callable[[], None] | None = None
    # Data capture into a local S3 of this process, as the emulator wires it.
    s3 = S3Service(work / "s3-state")
    s3.handle(Caller(), "CreateBucket", {"Bucket": "bench-capture"})
    objects = LocalObjects(work / "s3-state")
    writer = CaptureWriter(objects.write)
    writer.start()
    settings = CaptureSettings("s3://bench-capture/captured", 100, True, True, True, ("text/csv",))

    def close() -> None:
        if server is not None:
            server.should_exit = True
            time.sleep(0.5)
        if stop_routers is not None:
            stop_routers()
        fleet.stop_all()
        fleet.close()
        writer.close()
        print(f"  data capture: {writer.status()}")
        objects.close()
        s3.close()

    def capture(on: bool) -> None:
        route = fleet.router.get(Caller().key("bench"))
        assert route is not None
        fleet.router.set(dataclasses.replace(route, capture=settings if on else None))

    try:
        model = model_archive(work).as_uri()
        fleet.deploy(deployment("bench", variant(image, model_url=model, environment=environment)))
        event = events.wait("bench", timeout=120)
        if event.kind != "succeeded":
            raise SystemExit(f"the endpoint did not come up: {event.reason}")
        [view] = fleet.view(Caller().key("bench"))
        if routers == 1:
            port = free_port()
            runtime = Runtime(fleet.router, lambda _: "InService", fleet.report_unreachable, capture=writer)
            server = serve_in_thread(RuntimeApp(runtime), port)
        else:  # the route table as it is now, copied by fork: routes do not change during the bench
            port, pids, stop_routers = serve_in_processes(fleet.router, routers)
    except BaseException:
        close()
        raise
    direct = f"{view.instances[0].url}/invocations"
    emulator = f"http://127.0.0.1:{port}/endpoints/bench/invocations"
    if routers == 1:
        return Setup(direct, emulator, time.process_time, close, capture, profile_pid=os.getpid())

    def cpu_seconds() -> float:
        return time.process_time() + sum(proc_cpu_seconds(pid) for pid in pids)

    return Setup(direct, emulator, cpu_seconds, close, profile_pid=pids[0])
