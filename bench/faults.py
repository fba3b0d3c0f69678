"""Fault benchmark: what the local SageMaker loses, and how fast it recovers, under faults and bad input.

    .venv/bin/python bench/faults.py [--only kill restart update engine disk slow fuzz] [--concurrency 4]

Each scenario runs against its own emulator (a private port and state directory) under a bounded load of
real boto3 invocations (``--concurrency`` threads, back to back), counting every request; the scenarios
are the ones the test suite asserts on (tests/reliability/scenarios.py):

- **kill**: one of an endpoint's two instances is ``docker kill``ed: requests failed after the kill (at
  most the requests in flight, bounded by the concurrency) and seconds until two healthy instances serve;
- **restart**: the emulator is SIGKILLed and started again on its state: resources lost, whether the
  endpoint's container was re-adopted, seconds until the restarted emulator answers, until invocations
  succeed again, and requests failed meanwhile;
- **update**: UpdateEndpoint to a two-variant config (blue/green), then UpdateEndpointWeightsAndCapacities:
  failed requests (the target is 0) and the seconds each took;
- **engine**: the emulator reaches the Docker engine through a relaying socket that is stopped (the real
  engine keeps running): requests failed while only the engine was gone (the target is 0), then the
  endpoint's container is stopped too: seconds until DescribeEndpoint says OutOfService, how invocations
  fail meanwhile, and, the relay started again, seconds until InService and until invocations succeed;
  then the emulator is restarted while the relay is stopped: what its endpoint says, and whether its
  container is adopted once the relay listens again;
- **disk**: the state directory is a 16 MiB tmpfs that is then filled (root or passwordless sudo): what
  CreateModel answers while full, ``PRAGMA integrity_check`` after;
- **slow**: 1,000 idle connections and 50 slowloris clients: another client's ListModels p50 before and
  during, and how many of them the emulator closed after its read timeout (3 s here);
- **fuzz**: generated parameters for every implemented operation and mutated raw bodies: requests and
  5xx answers (the target is 0).

Results go to bench/results/faults-<time>.json. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))  # tests.reliability: the scenarios the suite asserts on

import docker  # noqa: E402
from tests.docker_fixtures import BASE_IMAGE  # noqa: E402
from tests.fixture_images import build_fixture_image, remove_fixture_images  # noqa: E402
from tests.reliability import fuzzing, scenarios  # noqa: E402
from tests.reliability.engine_outage import engine_outage, restart_without_engine  # noqa: E402
from tests.reliability.engine_proxy import EngineProxy  # noqa: E402
from tests.reliability.harness import Emulator, tmpfs  # noqa: E402

RESULTS = BENCH / "results"
SCENARIOS = ("kill", "restart", "update", "engine", "disk", "slow", "fuzz")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--fuzz-examples", type=int, default=20)
    args = parser.parse_args()
    client = docker.from_env()
    image = build_fixture_image(client, BASE_IMAGE, "dockyard")
    figures: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="dy-bench-faults-") as folder:
            work = Path(folder)
            for name in args.only:
                began = time.monotonic()
                figures[name] = _run(name, work / name, image, args)
                figures[name]["wall_s"] = round(time.monotonic() - began, 1)
                print(f"{name}: {json.dumps(figures[name])}", flush=True)
    finally:
        remove_fixture_images(client)
    missed = _table(figures)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"faults-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(figures, indent=2))
    print(f"\nresults: {path.relative_to(BENCH.parent)}")
    return 1 if missed else 0


def _run(name: str, work: Path, image: str, args: argparse.Namespace) -> dict[str, Any]:
    if name == "disk":
        with tmpfs(work / "small", "16m") as small:
            return _with_emulator(small / "state", lambda e: scenarios.disk_full(e, image))
    if name == "engine":
        proxy = EngineProxy()
        proxy.start()

        def outage(emulator: Emulator) -> dict[str, Any]:
            figures = engine_outage(emulator, proxy, image, args.concurrency)
            return {**figures, "restart": restart_without_engine(emulator, proxy, image)}

        try:
            return _with_emulator(work / "state", outage, {"DOCKER_HOST": proxy.url})
        finally:
            proxy.close()
    if name == "slow":
        env = {"DOCKYARD_EMULATOR_READ_TIMEOUT": "3"}
        return _with_emulator(work / "state", scenarios.slow_clients, env)
    if name == "fuzz":

        def fuzz(emulator: Emulator) -> dict[str, Any]:
            shaped = fuzzing.fuzz_operations(emulator, args.fuzz_examples)
            raw = fuzzing.fuzz_raw_bodies(emulator, args.fuzz_examples)
            return {"generated": shaped, "mutated": raw}

        return _with_emulator(work / "state", fuzz)
    scenario = {
        "kill": scenarios.container_killed,
        "restart": scenarios.emulator_killed,
        "update": scenarios.updates_under_load,
    }[name]
    return _with_emulator(work / "state", lambda e: scenario(e, image, args.concurrency))


def _with_emulator(
    state_dir: Path, run: Callable[[Emulator], dict[str, Any]], env: dict[str, str] | None = None
) -> dict[str, Any]:
    emulator = Emulator(state_dir, env)
    emulator.start()
    try:
        return run(emulator)
    finally:
        emulator.stop()
        emulator.remove_containers()


def _table(figures: dict[str, Any]) -> list[str]:
    """Print one row per scenario; the names of the scenarios that missed their target."""
    rows: list[tuple[str, str, str, str, bool]] = []
    if "kill" in figures:
        f = figures["kill"]
        ok = f["failed_after_kill"] <= f["in_flight_bound"]
        rows.append(
            (
                "instance docker-killed",
                str(f["requests"]),
                f"{f['failed_after_kill']} (<= {f['in_flight_bound']})",
                f"full capacity after {f['full_capacity_s']} s",
                ok,
            )
        )
    if "restart" in figures:
        f = figures["restart"]
        ok = not f["lost"] and f["readopted"]
        rows.append(
            (
                "emulator kill -9 + restart",
                str(f["requests"]),
                f"{f['failed_while_down']} while down",
                f"lost {sum(len(v) for v in f['lost'].values())}, re-adopted {f['readopted']}, up after "
                f"{f['restart_s']} s, invocations after {f['invocations_back_s']} s",
                ok,
            )
        )
    if "update" in figures:
        f = figures["update"]
        rows.append(
            (
                "UpdateEndpoint + weights/capacities",
                str(f["requests"]),
                str(f["failed"]),
                f"update {f['update_endpoint_s']} s, weights {f['update_weights_s']} s",
                f["failed"] == 0,
            )
        )
    if "engine" in figures:
        f = figures["engine"]
        ok = (
            f["failed_while_engine_gone"] == 0
            and f["statuses_while_engine_gone"] == ["InService"]
            and f["served_while_out"] == 0
            and f["broken_after_stop"] == 0
            and f["healthy_after"] == 1
            and f["restart"]["adopted"]
            and f["restart"]["refusal"].startswith("ServiceUnavailable")
        )
        rows.append(
            (
                "Docker engine stopped + started",
                str(f["requests"]),
                f"{f['failed_while_engine_gone']} while only the engine was gone; "
                f"{f['failed_after_container_stop']} once its container stopped",
                f"OutOfService after {f['out_of_service_s']} s (refused within "
                f"{f['slowest_refusal_while_out_s']} s), InService "
                f"{f['in_service_after_engine_back_s']} s after the engine, invocations after "
                f"{f['invocations_back_s']} s",
                ok,
            )
        )
        r = f["restart"]
        rows.append(
            (
                "emulator restarted without the engine",
                "",
                r["refusal"].split(":")[0],
                f"OutOfService {r['out_of_service_s']} s after the restart; InService "
                f"{r['in_service_after_engine_back_s']} s after the engine, container adopted {r['adopted']}",
                ok,
            )
        )
    if "disk" in figures:
        f = figures["disk"]
        ok = f["integrity_check"] == "ok" and all(
            r.startswith("503 ServiceUnavailable") for r in f["refused"]
        )
        rows.append(
            (
                "state directory full",
                str(len(f["refused"]) + f["created_while_full"]),
                f"{len(f['refused'])} refused (503)",
                f"integrity_check {f['integrity_check']}; endpoint {f['endpoint_status']}",
                ok,
            )
        )
    if "slow" in figures:
        f = figures["slow"]
        ok = f["answered_all"] and f["closed_by_server"] == f["idle_connections"] + f["slowloris_connections"]
        rows.append(
            (
                f"{f['idle_connections']} idle + {f['slowloris_connections']} slowloris",
                "",
                "0" if f["answered_all"] else "some",
                f"ListModels p50 {f['baseline_p50_ms']} -> {f['under_attack_p50_ms']} ms; "
                f"{f['closed_by_server']} closed after the read timeout",
                ok,
            )
        )
    if "fuzz" in figures:
        for kind in ("generated", "mutated"):
            f = figures["fuzz"][kind]
            rows.append(
                (
                    f"fuzz: {kind}",
                    str(f["requests"]),
                    f"{f['server_errors']} 5xx",
                    ", ".join(f"{n} {code}" for code, n in f["codes"].items()),
                    f["server_errors"] == 0,
                )
            )
    header = ("scenario", "requests", "failed", "figures", "target")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, [*widths, 6], strict=True)))
    for row in rows:
        cells = [
            *(str(c).ljust(w) for c, w in zip(row[:4], widths, strict=True)),
            "met" if row[4] else "MISSED",
        ]
        print("  ".join(cells))
    return [row[0] for row in rows if not row[4]]


if __name__ == "__main__":
    raise SystemExit(main())
