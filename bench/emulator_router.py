"""Router overhead: InvokeEndpoint through the emulator's runtime vs the container's own /invocations.

    .venv/bin/python bench/emulator_router.py [--duration 10] [--rounds 2] [--image IMAGE]

One endpoint with one instance of a dockyard image (by default the test suite's ``dockyard`` fixture
image, built from the test base image; a dot product over /opt/ml/model/weights.json) is deployed
by the fleet (:class:`Reconciler`). The same CSV row is then sent with ``wrk`` at concurrency 1 and
32, alternately

- **direct**: to the container's ``/invocations`` on its published 127.0.0.1 port;
- **emulator**: to ``POST /endpoints/bench/invocations`` of a minimal ASGI app (uvicorn, uvloop,
  httptools, in this process) that does what the emulator's server does on that path: parse the
  request, call :meth:`Runtime.invoke`, write the result.

Targets (issue 4): at most 1 ms added at p50, and at least 80 % of direct throughput at c=32.

``--capture`` (with ``--via asgi``) adds a third target, **capture**: the same endpoint with data
capture on at 100 % (every request's record queued and written by the background writer into a local
S3 in this process); target: at most 0.3 ms added at p50 over **emulator** (capture off).
wrk, the emulator and the container share this machine's cores: figures are relative, not
capacities. Results go to bench/results/emulator-router-<time>.json. Everything made is removed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
import docker
import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test suite's image helpers

from tests.emulator.runtime.fleet_kit import (  # noqa: E402
    Recorder,
    deployment,
    model_archive,
    reconciler,
    variant,
)
from tests.fixture_images import build_fixture_image, remove_fixture_images  # noqa: E402

from dockyard.emulator.context import Caller  # noqa: E402
from dockyard.emulator.errors import ServiceError  # noqa: E402
from dockyard.emulator.route_table import CaptureSettings  # noqa: E402
from dockyard.emulator.runtime.capture import Captured, CaptureWriter  # noqa: E402
from dockyard.emulator.runtime.invoke import Runtime  # noqa: E402
from dockyard.emulator.s3.local_objects import LocalObjects  # noqa: E402
from dockyard.emulator.s3.service import S3Service  # noqa: E402
from dockyard.emulator.sagemaker.instances import LABEL_EMULATOR, LABEL_ENDPOINT, emulator_id  # noqa: E402
from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers  # noqa: E402
from dockyard.emulator.security.credentials import save_credentials  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BASE_IMAGE = os.environ.get("DOCKYARD_TEST_BASE_IMAGE", "dockyard-test-base:bookworm")
BODY = "1,2,3,4\n"
EXPECTED = "30.0\n"
P50_TARGET_MS = 1.0
CAPTURE_P50_TARGET_MS = 0.3
THROUGHPUT_TARGET = 0.80
LUA = """wrk.method = "POST"
wrk.body = "1,2,3,4\\n"
wrk.headers["Content-Type"] = "text/csv"
wrk.headers["Accept"] = "text/csv"
"""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class RuntimeApp:
    """The emulator server's runtime path, reduced to what InvokeEndpoint needs."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await self.runtime.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = dict(scope["headers"])
        params: dict[str, Any] = {"EndpointName": scope["path"].split("/")[2], "Body": body}
        for member, header in (("ContentType", b"content-type"), ("Accept", b"accept")):
            if header in headers:
                params[member] = headers[header].decode()
        try:
            result = await self.runtime.invoke(Caller(), params)
            status, payload = 200, result["Body"]
            out = [
                (b"content-type", str(result.get("ContentType", "")).encode()),
                (b"x-amzn-invoked-production-variant", result["InvokedProductionVariant"].encode()),
            ]
        except ServiceError as error:
            status, payload = error.status, json.dumps({"message": error.message}).encode()
            out = [(b"x-amzn-errortype", error.code.encode())]
        out.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": payload})


@dataclass(frozen=True)
class Result:
    target: str
    concurrency: int
    round: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    emulator_cpu_us_per_request: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(text: str, percentile: str) -> float:
    found = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if found is None:
        raise SystemExit(f"wrk output has no {percentile}% latency:\n{text}")
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


# With --split-cores: the container on one core, the emulator and wrk on the other (see main()).
CLIENT_CORES: list[str] = []


def run_wrk(url: str, concurrency: int, duration: int, script: Path) -> tuple[float, float, float, int]:
    command = ["wrk", f"-t{min(concurrency, 2)}", f"-c{concurrency}", f"-d{duration}s", "--latency"]
    if CLIENT_CORES:
        command = ["taskset", "-c", CLIENT_CORES[0], *command]
    done = subprocess.run(
        [*command, "-s", str(script), url], capture_output=True, text=True, timeout=duration + 60, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stderr.strip()[-500:]}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if rate is None:
        raise SystemExit(f"cannot parse wrk output:\n{done.stdout}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", done.stdout))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", done.stdout))
    return float(rate.group(1)), _ms(done.stdout, "50"), _ms(done.stdout, "99"), errors


def serve_in_thread(app: RuntimeApp, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="emulator", daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the emulator app did not start within 30 s")
        time.sleep(0.05)
    return server


@dataclass
class Setup:
    direct_url: str
    emulator_url: str
    cpu_seconds: Callable[[], float]  # CPU used so far by whatever serves emulator_url (and the fleet)
    close: Callable[[], None]
    capture: Callable[[bool], None] | None = None  # switches data capture on the endpoint on or off


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


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
    return Setup(direct, f"{url}/endpoints/bench/invocations", lambda: proc_cpu_seconds(process.pid), close)


def with_asgi_app(work: Path, image: str, environment: dict[str, str]) -> Setup:
    """The fleet and the runtime in this process, behind :class:`RuntimeApp` on uvicorn."""
    events = Recorder()
    fleet = reconciler(work / "state", events)
    server: uvicorn.Server | None = None
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
        port = free_port()
        runtime = Runtime(fleet.router, lambda _: "InService", fleet.report_unreachable, capture=writer)
        server = serve_in_thread(RuntimeApp(runtime), port)
    except BaseException:
        close()
        raise
    emulator = f"http://127.0.0.1:{port}/endpoints/bench/invocations"
    return Setup(f"{view.instances[0].url}/invocations", emulator, time.process_time, close, capture)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="direct/emulator alternations per concurrency")
    parser.add_argument("--image", help="a dockyard image whose model is weights.json (default: build one)")
    parser.add_argument("--workers", default="2", help="SAGEMAKER_MODEL_SERVER_WORKERS in the container")
    parser.add_argument(
        "--via", choices=("server", "asgi"), default="server", help="the emulator process, or a minimal app"
    )
    parser.add_argument(
        "--capture", action="store_true", help="also measure with data capture on at 100 %% (--via asgi)"
    )
    parser.add_argument(
        "--split-cores",
        action="store_true",
        help="pin the container to core 1 and the emulator and wrk to core 0, as on SageMaker, where the "
        "router never shares the instance's CPUs (needs 2 cores; --via server only)",
    )
    args = parser.parse_args()
    if args.split_cores:
        CLIENT_CORES[:] = ["0", "1"]
    if args.capture and args.via != "asgi":
        parser.error("--capture needs --via asgi (it switches capture on the in-process route)")

    client = docker.from_env(timeout=300)
    work = Path(tempfile.mkdtemp(prefix="dy-fleet-bench-"))
    image = args.image or build_fixture_image(client, BASE_IMAGE, "dockyard")
    environment = {"SAGEMAKER_MODEL_SERVER_WORKERS": args.workers}
    results: list[Result] = []
    setup: Setup | None = None
    try:
        setup = (with_server if args.via == "server" else with_asgi_app)(work, image, environment)
        for url in (setup.direct_url, setup.emulator_url):  # same answer both ways, before any load
            answer = httpx.post(url, content=BODY, headers={"Content-Type": "text/csv"}, timeout=10)
            if answer.text != EXPECTED:
                raise SystemExit(f"{url} answered {answer.status_code} {answer.text!r}, not {EXPECTED!r}")
        script = work / "post.lua"
        script.write_text(LUA)
        for url in (setup.direct_url, setup.emulator_url):
            run_wrk(url, 8, 2, script)  # warm-up: connections, caches
        for concurrency in (1, 32):
            for round_ in range(1, args.rounds + 1):
                targets = [("direct", setup.direct_url), ("emulator", setup.emulator_url)]
                if args.capture:  # alternately before and after "emulator": neither gets the warmer slot
                    targets.insert(1 + round_ % 2, ("capture", setup.emulator_url))
                for target, url in targets:
                    if setup.capture is not None:
                        setup.capture(target == "capture")
                    cpu = setup.cpu_seconds()
                    rate, p50, p99, errors = run_wrk(url, concurrency, args.duration, script)
                    # The emulator's CPU (server, runtime, fleet monitor, log pumps) per request.
                    cpu_us = (setup.cpu_seconds() - cpu) / max(rate * args.duration, 1) * 1e6
                    results.append(Result(target, concurrency, round_, rate, p50, p99, errors, cpu_us))
                    print(
                        f"  c={concurrency:<2} round {round_} {target:8} {rate:9.0f} req/s  "
                        f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  errors {errors}  "
                        f"emulator CPU {cpu_us:5.0f} us/request",
                        flush=True,
                    )
    finally:
        if setup is not None:
            setup.close()
        if args.image is None:
            remove_fixture_images(client)
        shutil.rmtree(work, ignore_errors=True)
    if args.capture:
        print(f"  data capture's work on the request path: {capture_path_us():.2f} us per request")
    return report(results, args)


def capture_path_us(count: int = 200_000) -> float:
    """What capture adds to a request, timed alone (the load runs above are too noisy for a fraction
    of a millisecond on a shared machine): the sampling draw and the hand-over to the queue."""
    writer = CaptureWriter(lambda bucket, key, data: None, capacity=count + 1)
    settings = CaptureSettings("s3://b/p", 100, True, True, True, ("text/csv",))
    body, answer = BODY.encode(), EXPECTED.encode()
    started = time.perf_counter()
    for _ in range(count):
        if CaptureWriter.sampled(settings):
            writer.offer(
                Captured(
                    "bench",
                    "AllTraffic",
                    settings,
                    time.time(),
                    "text/csv",
                    body,
                    "text/csv",
                    answer,
                    None,
                    None,
                )
            )
    elapsed = time.perf_counter() - started
    writer.flush()
    return elapsed / count * 1e6


def report(results: list[Result], args: argparse.Namespace) -> int:
    summary: dict[str, Any] = {}
    missed = False
    print(f"\nmedians over {args.rounds} rounds of {args.duration} s ({os.cpu_count()} cores shared by all):")
    print(f"{'c':>3} {'target':9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu us/req':>10}")
    for concurrency in (1, 32):
        row: dict[str, dict[str, float]] = {}
        for target in ("direct", "emulator", "capture"):
            mine = [r for r in results if r.target == target and r.concurrency == concurrency]
            if not mine:
                continue
            row[target] = {
                "requests_per_s": statistics.median(r.requests_per_s for r in mine),
                "p50_ms": statistics.median(r.p50_ms for r in mine),
                "p99_ms": statistics.median(r.p99_ms for r in mine),
                "errors": sum(r.errors for r in mine),
                "emulator_cpu_us_per_request": statistics.median(r.emulator_cpu_us_per_request for r in mine),
            }
            print(
                f"{concurrency:>3} {target:9} {row[target]['requests_per_s']:9.0f} "
                f"{row[target]['p50_ms']:8.2f} {row[target]['p99_ms']:8.2f} "
                f"{row[target]['emulator_cpu_us_per_request']:10.0f}"
            )
        added = row["emulator"]["p50_ms"] - row["direct"]["p50_ms"]
        ratio = row["emulator"]["requests_per_s"] / row["direct"]["requests_per_s"]
        row["ratios"] = {"p50_added_ms": added, "throughput_ratio": ratio}
        print(f"    emulator vs direct: p50 +{added:.2f} ms, throughput {ratio:.0%}")
        if "capture" in row:
            by_capture = row["capture"]["p50_ms"] - row["emulator"]["p50_ms"]
            row["ratios"]["capture_p50_added_ms"] = by_capture
            row["ratios"]["capture_throughput_ratio"] = (
                row["capture"]["requests_per_s"] / row["emulator"]["requests_per_s"]
            )
            print(f"    capture on vs off: p50 {by_capture:+.3f} ms (target <= {CAPTURE_P50_TARGET_MS} ms)")
            if concurrency == 1 and by_capture > CAPTURE_P50_TARGET_MS:
                missed = True
        if concurrency == 1 and added > P50_TARGET_MS:
            missed = True
        if concurrency == 32 and ratio < THROUGHPUT_TARGET:
            missed = True
        summary[f"c{concurrency}"] = row
    print(
        f"targets: p50 added <= {P50_TARGET_MS} ms at c=1; throughput >= {THROUGHPUT_TARGET:.0%} at c=32: "
        f"{'MISSED' if missed else 'met'}"
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"emulator-router-{stamp}.json"
    path.write_text(json.dumps({"summary": summary, "runs": [asdict(r) for r in results]}, indent=2))
    print(f"results: {path}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
