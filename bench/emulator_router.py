"""Router overhead: InvokeEndpoint through the emulator's runtime vs the container's own /invocations.

    .venv/bin/python bench/emulator_router.py [--duration 10] [--rounds 2] [--image IMAGE]
        [--via server|asgi] [--routers N] [--capture] [--split-cores] [--profile PATH]

One endpoint with one instance of a dockyard image (by default the test suite's ``dockyard`` fixture
image, built from the test base image; a dot product over /opt/ml/model/weights.json) is deployed
by the fleet (:class:`Reconciler`). The same CSV row is then sent with ``wrk`` at concurrency 1 and
32, alternately

- **direct**: to the container's ``/invocations`` on its published 127.0.0.1 port;
- **emulator**: to ``POST /endpoints/bench/invocations`` of the emulator process (``--via server``,
  the default), or (``--via asgi``) of a minimal ASGI app (uvicorn, uvloop, httptools, in this
  process) that does what the emulator's server does on that path: parse the request, call
  :meth:`Runtime.invoke`, write the result.

Targets (issue 4): at most 1 ms added at p50, and at least 80 % of direct throughput at c=32.

``--routers N`` (with ``--via asgi``) serves the app from N forked router processes sharing one
listening socket instead of a thread of this process, each with its own runtime and event loop: what
a router process per core gives. Their CPU is counted with this process's.

``--capture`` (with ``--via asgi``, one router) adds a third target, **capture**: the same endpoint
with data capture on at 100 % (every request's record queued and written by the background writer into
a local S3 in this process); target: at most 0.3 ms added at p50 over **emulator** (capture off).

``--profile PATH`` runs ``py-spy record`` on the process serving the emulator URL (one router, if
several) during an extra c=32 **emulator** run, left out of the results: a speedscope file (under
bench/results/ for a relative PATH) and the top functions by own samples, printed.

wrk, the emulator and the container share this machine's cores: figures are relative, not
capacities. Results go to bench/results/emulator-router-<time>.json. Everything made is removed.
The setups are in router_setups.py (the app and its router processes in router_app.py), the report
in router_report.py, the profiler in router_profile.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import httpx

from router_profile import PY_SPY, Profile, profile_path
from router_report import Result, report
from router_setups import CLIENT_CORES, ROOT, Setup, with_asgi_app, with_server

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the test suite's image helpers

from tests.fixture_images import build_fixture_image, remove_fixture_images

from dockyard.emulator.route_table import CaptureSettings
from dockyard.emulator.runtime.capture import Captured, CaptureWriter

BASE_IMAGE = os.environ.get("DOCKYARD_TEST_BASE_IMAGE", "dockyard-test-base:bookworm")
BODY = "1,2,3,4\n"
EXPECTED = "30.0\n"
HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}


def lua(headers: dict[str, str]) -> str:
    """A wrk script POSTing BODY with ``headers``."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(BODY)}"]
    lines += [f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}" for name, value in headers.items()]
    return "\n".join(lines) + "\n"


def _ms(text: str, percentile: str) -> float:
    found = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if found is None:
        raise SystemExit(f"wrk output has no {percentile}% latency:\n{text}")
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


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


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="direct/emulator alternations per concurrency")
    parser.add_argument("--image", help="a dockyard image whose model is weights.json (default: build one)")
    parser.add_argument("--workers", default="2", help="SAGEMAKER_MODEL_SERVER_WORKERS in the container")
    parser.add_argument(
        "--via", choices=("server", "asgi"), default="server", help="the emulator process, or a minimal app"
    )
    parser.add_argument(
        "--routers",
        type=int,
        default=1,
        help="router processes forked to serve the app, on one shared socket (--via asgi; 1: a thread of "
        "this process)",
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
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="py-spy the router process(es) during the first c=32 emulator run into this speedscope file "
        "(relative: under bench/results/)",
    )
    args = parser.parse_args()
    if args.split_cores:
        CLIENT_CORES[:] = ["0", "1"]
    if args.capture and args.via != "asgi":
        parser.error("--capture needs --via asgi (it switches capture on the in-process route)")
    if args.routers < 1:
        parser.error("--routers must be at least 1")
    if args.routers > 1 and args.via != "asgi":
        parser.error("--routers needs --via asgi (the emulator process is one router)")
    if args.routers > 1 and args.capture:
        parser.error("--capture needs one router (the capture writer is in this process)")
    if args.profile and not PY_SPY.exists():
        parser.error(f"--profile needs py-spy at {PY_SPY}")
    return args


def main() -> int:
    args = arguments()
    client = docker.from_env(timeout=300)
    work = Path(tempfile.mkdtemp(prefix="dy-fleet-bench-"))
    image = args.image or build_fixture_image(client, BASE_IMAGE, "dockyard")
    environment = {"SAGEMAKER_MODEL_SERVER_WORKERS": args.workers}
    results: list[Result] = []
    setup: Setup | None = None
    try:
        if args.via == "server":
            setup = with_server(work, image, environment)
        else:
            setup = with_asgi_app(work, image, environment, args.routers)
        headers = {
            setup.direct_url: HEADERS,
            setup.emulator_url: setup.sign(BODY, HEADERS) if setup.sign else HEADERS,
        }
        scripts = {url: work / f"post-{index}.lua" for index, url in enumerate(headers)}
        for url, script in scripts.items():  # same answer both ways, before any load
            script.write_text(lua(headers[url]))
            answer = httpx.post(url, content=BODY, headers=headers[url], timeout=10)
            if answer.text != EXPECTED:
                raise SystemExit(f"{url} answered {answer.status_code} {answer.text!r}, not {EXPECTED!r}")
            run_wrk(url, 8, 2, script)  # warm-up: connections, caches
        for concurrency in (1, 32):
            for round_ in range(1, args.rounds + 1):
                targets = [("direct", setup.direct_url), ("emulator", setup.emulator_url)]
                if args.capture:  # alternately before and after "emulator": neither gets the warmer slot
                    targets.insert(1 + round_ % 2, ("capture", setup.emulator_url))
                for target, url in targets:
                    if setup.capture is not None:
                        setup.capture(target == "capture")
                    if (
                        args.profile
                        and setup.profile_pid
                        and (concurrency, round_, target) == (32, 1, "emulator")
                    ):
                        # An extra run under py-spy, left out of the results: sampling slows the router.
                        profile = Profile(setup.profile_pid, profile_path(args.profile))
                        if profile.start():
                            rate, *_ = run_wrk(url, concurrency, args.duration, scripts[url])
                            profile.stop()
                            print(
                                f"  c={concurrency:<2} profiled run (not counted): {rate:9.0f} req/s",
                                flush=True,
                            )
                    cpu = setup.cpu_seconds()
                    rate, p50, p99, errors = run_wrk(url, concurrency, args.duration, scripts[url])
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


if __name__ == "__main__":
    raise SystemExit(main())
