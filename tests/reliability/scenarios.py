"""The fault scenarios, each under a bounded load of real boto3 invocations; each returns its figures.

The tests in this folder assert on the figures, ``bench/faults.py`` prints them as a table.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import docker
from botocore.exceptions import ClientError

from dockyard.emulator.sagemaker.instances import LABEL_EMULATOR, LABEL_ENDPOINT
from tests.reliability.harness import (
    Emulator,
    create_config,
    create_model,
    deploy,
    healthy_instances,
    load,
    model_archive,
    wait_status,
    wait_until,
)

Figures = dict[str, Any]
WARM_UP = 1.5  # seconds of load before the fault


def endpoint_containers(client: docker.DockerClient, emulator: Emulator, endpoint: str) -> list[str]:
    from dockyard.emulator.sagemaker.instances import emulator_id as emulator_label

    emulator_id = emulator_label(emulator.state_dir)
    labels = [f"{LABEL_EMULATOR}={emulator_id}", f"{LABEL_ENDPOINT}={endpoint}"]
    found = client.api.containers(filters={"label": labels, "status": "running"})
    return sorted(str(c["Names"][0]).lstrip("/") for c in found)


def container_killed(emulator: Emulator, image: str, concurrency: int = 4) -> Figures:
    """One of two instances is `docker kill`ed under load: what failed, and how long until two healthy
    instances serve again."""
    client = docker.from_env()
    sagemaker = emulator.client("sagemaker")
    endpoint = "dy-rel-kill"
    deploy(sagemaker, endpoint, image, model_archive(emulator.state_dir / "inputs" / "kill"), count=2)
    victim = endpoint_containers(client, emulator, endpoint)[0]
    with load(emulator, endpoint, concurrency) as running:
        time.sleep(WARM_UP)
        killed_at = time.monotonic()
        client.containers.get(victim).kill()
        recovery = wait_until(
            lambda: (
                victim not in endpoint_containers(client, emulator, endpoint)
                and healthy_instances(sagemaker, endpoint) == 2
            ),
            timeout=120,
            poll=0.2,
        )
        time.sleep(1.0)  # and serving on both
    failed = running.failures(since=killed_at)
    return {
        "requests": len(running.outcomes),
        "failed": len(running.failures()),
        "failed_after_kill": len(failed),
        "in_flight_bound": concurrency,
        "errors": sorted({o.error or "" for o in failed}),
        "full_capacity_s": round(recovery, 2),
    }


def emulator_killed(emulator: Emulator, image: str, concurrency: int = 4) -> Figures:
    """The emulator is SIGKILLed under load and started again on the same state directory: what was
    lost, whether the endpoint was re-adopted (same container), and how long until invocations succeed."""
    client = docker.from_env()
    sagemaker = emulator.client("sagemaker")
    endpoint = "dy-rel-restart"
    deploy(sagemaker, endpoint, image, model_archive(emulator.state_dir / "inputs" / "restart"), count=1)
    sagemaker.create_model_package_group(ModelPackageGroupName="dy-rel-group")
    for _ in range(2):
        sagemaker.create_model_package(
            ModelPackageGroupName="dy-rel-group",
            InferenceSpecification={
                "Containers": [{"Image": image}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
    before = _inventory(sagemaker)
    containers_before = endpoint_containers(client, emulator, endpoint)
    with load(emulator, endpoint, concurrency) as running:
        time.sleep(WARM_UP)
        killed_at = time.monotonic()
        emulator.kill()
        restart = emulator.start()
        back = wait_until(lambda: running.first_success_after(killed_at + restart) is not None, timeout=60)
        time.sleep(1.0)
    after = _inventory(emulator.client("sagemaker"))
    lost = {kind: sorted(set(names) - set(after[kind])) for kind, names in before.items()}
    return {
        "requests": len(running.outcomes),
        "failed_while_down": len(running.failures(since=killed_at)),
        "restart_s": round(restart, 2),
        "invocations_back_s": round(restart + back, 2),
        "lost": {kind: names for kind, names in lost.items() if names},
        "kept": {kind: len(names) for kind, names in after.items()},
        "readopted": endpoint_containers(client, emulator, endpoint) == containers_before,
        "status": emulator.client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"],
    }


def _inventory(sagemaker: Any) -> dict[str, list[str]]:
    packages = sagemaker.list_model_packages(ModelPackageGroupName="dy-rel-group")["ModelPackageSummaryList"]
    return {
        "models": [m["ModelName"] for m in sagemaker.list_models()["Models"]],
        "configs": [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]],
        "endpoints": [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]],
        "package_versions": [p["ModelPackageArn"] for p in packages],
    }


def updates_under_load(emulator: Emulator, image: str, concurrency: int = 4) -> Figures:
    """UpdateEndpoint to a new config (blue/green), then UpdateEndpointWeightsAndCapacities (two
    variants: weights and a count), all under load."""
    sagemaker = emulator.client("sagemaker")
    endpoint = "dy-rel-update"
    archive = model_archive(emulator.state_dir / "inputs" / "update")
    deploy(sagemaker, endpoint, image, archive, count=1)
    create_model(sagemaker, f"{endpoint}-model-2", image, archive)
    create_config(
        sagemaker,
        f"{endpoint}-config-2",
        {"blue": (f"{endpoint}-model", 1, 0.5), "green": (f"{endpoint}-model-2", 1, 0.5)},
    )
    figures: Figures = {}
    with load(emulator, endpoint, concurrency) as running:
        time.sleep(WARM_UP)
        began = time.monotonic()
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config-2")
        assert wait_status(sagemaker, endpoint)["EndpointStatus"] == "InService"
        figures["update_endpoint_s"] = round(time.monotonic() - began, 2)
        updated = time.monotonic()
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": "blue", "DesiredWeight": 0.1},
                {"VariantName": "green", "DesiredWeight": 0.9, "DesiredInstanceCount": 2},
            ],
        )
        assert wait_status(sagemaker, endpoint)["EndpointStatus"] == "InService"
        figures["update_weights_s"] = round(time.monotonic() - updated, 2)
        time.sleep(1.0)
    figures.update(
        requests=len(running.outcomes),
        failed=len(running.failures()),
        errors=sorted({o.error or "" for o in running.failures()}),
    )
    return figures


def disk_full(emulator: Emulator, image: str) -> Figures:
    """The emulator's state directory (a small tmpfs) fills up: what CreateModel answers while it is
    full, whether the database is sound after, and why an endpoint whose model data cannot fit fails."""
    sagemaker = emulator.client("sagemaker")
    archive = model_archive(emulator.state_dir / "inputs" / "full")
    create_model(sagemaker, "dy-full-0", image, archive)
    create_config(sagemaker, "dy-full-config", {"AllTraffic": ("dy-full-0", 1, 1.0)})
    filler = emulator.state_dir / "filler"
    _fill(filler)
    refused: list[str] = []
    created = 0
    try:
        for number in range(1, 30):
            try:
                create_model(sagemaker, f"dy-full-{number}", image, archive)
                created += 1
            except ClientError as exc:
                error = exc.response["Error"]
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                refused.append(f"{status} {error['Code']}: {error['Message']}")
                if len(refused) >= 3:
                    break
    finally:
        filler.unlink()
    create_model(sagemaker, "dy-full-after", image, archive)
    with sqlite3.connect(emulator.state_dir / "emulator.db") as db:
        integrity = str(db.execute("PRAGMA integrity_check").fetchone()[0])
    sagemaker.create_endpoint(EndpointName="dy-full", EndpointConfigName="dy-full-config")
    described = wait_status(sagemaker, "dy-full")
    return {
        "created_while_full": created,
        "refused": refused,
        "integrity_check": integrity,
        "models_after": len(sagemaker.list_models()["Models"]),
        "endpoint_status": described["EndpointStatus"],
        "failure_reason": described.get("FailureReason", ""),
    }


def _fill(path: Path) -> None:
    """Write ``path`` until its file system has no byte left (unbuffered: every write reaches it)."""
    with path.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)


def slow_clients(emulator: Emulator, idle: int = 1000, slowloris: int = 50, probes: int = 30) -> Figures:
    """``idle`` connections that send nothing and ``slowloris`` that trickle their headers, while
    another client calls ListModels: its latency against a baseline taken before, and how many of the
    attackers' connections the emulator has closed once its read timeout passed."""
    sagemaker = emulator.client("sagemaker")
    sagemaker.list_models()  # connect first: the baseline measures the request, not the handshake
    baseline = _latencies(sagemaker, probes)
    attackers: list[socket.socket] = []
    began = time.monotonic()
    try:
        for _ in range(idle):
            attackers.append(socket.create_connection(("127.0.0.1", emulator.port), timeout=5))
        trickling = []
        for _ in range(slowloris):
            sock = socket.create_connection(("127.0.0.1", emulator.port), timeout=5)
            sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            trickling.append(sock)
        attackers.extend(trickling)
        under_attack = _latencies(sagemaker, probes)
        for sock in trickling:  # keep trickling: one more header line each
            with contextlib.suppress(OSError):  # closed by the server already
                sock.sendall(b"X-a: b\r\n")
        answered_all = len(under_attack) == probes
        closed = _closed_by_server(
            attackers, timeout=float(emulator.env.get("DOCKYARD_EMULATOR_READ_TIMEOUT", 30)) + 5
        )
    finally:
        for sock in attackers:
            sock.close()
    return {
        "idle_connections": idle,
        "slowloris_connections": slowloris,
        "baseline_p50_ms": round(statistics.median(baseline) * 1000, 1),
        "under_attack_p50_ms": round(statistics.median(under_attack) * 1000, 1),
        "under_attack_max_ms": round(max(under_attack) * 1000, 1),
        "answered_all": answered_all,
        "closed_by_server": closed,
        "seconds": round(time.monotonic() - began, 1),
    }


def _latencies(sagemaker: Any, count: int) -> list[float]:
    found = []
    for _ in range(count):
        began = time.monotonic()
        sagemaker.list_models()
        found.append(time.monotonic() - began)
    return found


def _closed_by_server(sockets: list[socket.socket], timeout: float) -> int:
    """How many of ``sockets`` the server has closed (EOF or reset) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    closed = 0
    for sock in sockets:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            while sock.recv(4096):
                pass  # a 408 answer, then EOF
            closed += 1
        except ConnectionResetError:
            closed += 1
        except OSError:
            pass  # still open at the deadline
    return closed
