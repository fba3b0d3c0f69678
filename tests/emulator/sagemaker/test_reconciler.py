"""The fleet on the real Docker engine: create, fail, blue/green, scale, heal, adopt, remove."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from dockyard.emulator.context import DEFAULT_ACCOUNT, DEFAULT_REGION, Caller
from dockyard.emulator.runtime.invoke import EndpointStatus, Runtime
from dockyard.emulator.sagemaker.instances import LABEL_ENDPOINT, LABEL_SPEC, LABEL_VARIANT
from dockyard.emulator.sagemaker.reconciler import Reconciler
from tests.emulator.runtime.fleet_kit import (
    PREFIX,
    Recorder,
    containers_of,
    deployment,
    key,
    model_archive,
    reconciler,
    runtime_of,
    variant,
)
from tests.fixture_images import PREDICTION, SAMPLE

pytestmark = pytest.mark.docker

CSV = {"ContentType": "text/csv"}


@dataclass(frozen=True)
class Answer:
    sent: float
    received: float
    body: str


def serving(status: str = "InService") -> EndpointStatus:
    return lambda endpoint: status


async def invoke_many(
    runtime: Runtime, endpoint: str, until: Callable[[], bool], concurrency: int = 4
) -> tuple[list[Answer], list[BaseException]]:
    """Invoke continuously from ``concurrency`` tasks until ``until()``; the answers and the failures."""
    answers: list[Answer] = []
    failures: list[BaseException] = []

    async def worker() -> None:
        while not until():
            sent = time.monotonic()
            try:
                result = await runtime.invoke(Caller(), {"EndpointName": endpoint, "Body": SAMPLE, **CSV})
                answers.append(Answer(sent, time.monotonic(), result["Body"].decode()))
            except Exception as exc:
                failures.append(exc)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers, failures


def test_create_serves_then_remove_leaves_nothing(
    fleet: Reconciler,
    events: Recorder,
    image: Callable[[str], str],
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    archive = model_archive(tmp_path)
    spec = deployment("dy-create", variant(image("dockyard"), model_url=archive.as_uri(), count=2))
    started = time.monotonic()
    fleet.deploy(spec)
    event = events.wait("dy-create")
    took = time.monotonic() - started
    assert (event.kind, event.spec) == ("succeeded", spec), event.reason
    print(f"create -> healthy: {took:.2f} s for 2 instances")

    [view] = fleet.view(key("dy-create"))
    assert (view.name, view.current_instance_count, view.desired_instance_count) == ("AllTraffic", 2, 2)
    # As SageMaker reports it: the repository, then the digest of what runs.
    repository, _, digest = view.resolved_image.partition("@")
    assert repository == image("dockyard").rsplit(":", 1)[0]
    assert digest.startswith("sha256:")
    names = sorted(instance.instance_id for instance in view.instances)
    assert names == containers_of(docker_client, fleet)
    assert all(name.startswith(f"{PREFIX}dy-create-AllTraffic-") for name in names)
    attrs = docker_client.api.inspect_container(names[0])
    labels = attrs["Config"]["Labels"]
    assert (labels[LABEL_ENDPOINT], labels[LABEL_VARIANT]) == ("dy-create", "AllTraffic")
    assert attrs["Config"]["Cmd"] == ["serve"]
    assert attrs["HostConfig"]["Memory"] == 4 * 1024**3  # ml.c5.large
    assert attrs["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"
    [mount] = [m for m in attrs["Mounts"] if m["Destination"] == "/opt/ml/model"]
    assert mount["RW"] is False
    assert Path(mount["Source"]).parent == tmp_path / "state" / "models"

    async def call() -> dict[str, Any]:
        runtime = runtime_of(fleet, serving())
        try:
            return await runtime.invoke(Caller(), {"EndpointName": "dy-create", "Body": SAMPLE, **CSV})
        finally:
            await runtime.aclose()

    result = asyncio.run(call())
    assert (result["Body"], result["InvokedProductionVariant"]) == (PREDICTION.encode(), "AllTraffic")
    logs = fleet.log_files(key("dy-create"))
    assert [log.stem for log in logs] == names
    where = tmp_path / "state" / "logs" / DEFAULT_ACCOUNT / DEFAULT_REGION / "dy-create" / "AllTraffic"
    assert all(log.parent == where for log in logs)
    deadline = time.monotonic() + 10
    while not all(log.stat().st_size for log in logs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(log.stat().st_size > 0 for log in logs)

    removing = time.monotonic()
    fleet.remove(key("dy-create"))
    assert events.wait("dy-create", 2).kind == "removed"
    print(f"remove took {time.monotonic() - removing:.2f} s")
    assert containers_of(docker_client, fleet) == []
    assert fleet.view(key("dy-create")) == ()
    assert fleet.router.get(key("dy-create")) is None


def test_failures_are_reported_with_sagemaker_reasons(
    fleet: Reconciler,
    events: Recorder,
    image: Callable[[str], str],
    docker_client: docker.DockerClient,
    registry: str,
    tmp_path: Path,
) -> None:
    not_a_tar = tmp_path / "model.tar.gz"
    not_a_tar.write_bytes(b"not gzip at all")
    specs = {
        "dy-no-image": variant(f"{registry}/dy-fleet-missing:none"),
        "dy-crash": variant(image("crash")),
        "dy-no-ping": variant(image("no-ping"), timeout=2),
        "dy-no-model": variant(image("faulty"), model_url=(tmp_path / "absent.tar.gz").as_uri()),
        "dy-bad-model": variant(image("faulty"), model_url=not_a_tar.as_uri()),
    }
    for name, spec in specs.items():
        fleet.deploy(deployment(name, spec))
    reasons = {}
    for name in specs:
        event = events.wait(name)
        assert event.kind == "failed"
        reasons[name] = event.reason
    assert reasons["dy-no-image"].startswith(
        "Please make sure all images included in the model for the production variant AllTraffic exist, "
        "and that the execution role used to create the model has permissions to access them. (The image "
        f"{registry}/dy-fleet-missing:none is not in the local Docker engine and could not be pulled: "
    )
    assert reasons["dy-crash"].startswith(
        "CannotStartContainerError. Please ensure the model container for variant AllTraffic starts "
        "correctly when invoked with 'docker run <image> serve'. The container exited with code 1 during "
        "startup. Last log lines: "
    )
    assert reasons["dy-crash"].endswith("fatal: cannot load the model: /opt/ml/model/weights.bin is missing")
    assert reasons["dy-no-ping"].startswith(
        "The primary container for production variant AllTraffic did not pass the ping health check. "
        "Please check CloudWatch logs for this endpoint. Last log lines: "
    )
    assert '"GET /ping HTTP/1.1" 404' in reasons["dy-no-ping"]
    assert reasons["dy-no-model"] == (
        'Failed to download model data for container "container_1" from URL: '
        f'"{(tmp_path / "absent.tar.gz").as_uri()}". Please ensure that there is an object located at the '
        "URL and that the role passed to CreateModel has permissions to download the object. "
        f"({tmp_path / 'absent.tar.gz'} is not a file on this machine)"
    )
    assert reasons["dy-bad-model"].startswith(
        f'Failed to extract model data archive for container "container_1" from URL "{not_a_tar.as_uri()}". '
        "Please ensure that the object located at the URL is a valid tar.gz archive. ("
    )
    assert all(len(reason) <= 1024 for reason in reasons.values())
    # A failed deployment removes what it started and routes nothing.
    assert containers_of(docker_client, fleet) == []
    assert all(fleet.router.get(key(name)) is None and fleet.view(key(name)) == () for name in specs)


def test_blue_green_update_under_load_fails_no_request(
    fleet: Reconciler,
    events: Recorder,
    image: Callable[[str], str],
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    blue_model = model_archive(tmp_path / "blue")
    green_model = model_archive(tmp_path / "green", weights=[2, 2, 2, 2])
    blue = deployment("dy-bg", variant(image("dockyard"), model_url=blue_model.as_uri(), count=2))
    green = deployment("dy-bg", variant(image("dockyard"), model_url=green_model.as_uri(), count=2))
    fleet.deploy(blue)
    assert events.wait("dy-bg").kind == "succeeded"
    blue_names = containers_of(docker_client, fleet)

    async def scenario() -> tuple[list[Answer], list[BaseException]]:
        runtime = runtime_of(fleet, serving("Updating"))
        try:
            load = asyncio.create_task(invoke_many(runtime, "dy-bg", lambda: len(events.events) >= 2))
            await asyncio.sleep(0.5)
            fleet.deploy(green)
            return await load
        finally:
            await runtime.aclose()

    answers, failures = asyncio.run(scenario())
    assert events.wait("dy-bg", 2).kind == "succeeded"
    assert failures == []
    bodies = [answer.body for answer in sorted(answers, key=lambda answer: answer.sent)]
    assert bodies[0] == PREDICTION  # blue: 1·1 + 2·2 + 3·3 + 4·4
    assert bodies[-1] == "20.0\n"  # green: 2·(1 + 2 + 3 + 4)
    switched = min(answer.received for answer in answers if answer.body == "20.0\n")
    late = {answer.body for answer in answers if answer.sent > switched}
    assert late == {"20.0\n"}, "traffic went back to the old fleet after the switch"
    print(f"blue/green: {len(answers)} requests during the update, none failed")
    green_names = containers_of(docker_client, fleet)
    assert len(green_names) == 2
    assert not set(blue_names) & set(green_names)  # the old fleet is gone


def test_failed_update_keeps_the_old_fleet(
    fleet: Reconciler, events: Recorder, image: Callable[[str], str], docker_client: docker.DockerClient
) -> None:
    good = deployment("dy-keep", variant(image("faulty")))
    fleet.deploy(good)
    assert events.wait("dy-keep").kind == "succeeded"
    before = containers_of(docker_client, fleet)
    route = fleet.router.get(key("dy-keep"))

    fleet.deploy(deployment("dy-keep", variant(image("crash")), config="config-2"))
    event = events.wait("dy-keep", 2)
    assert event.kind == "failed"
    assert event.reason.startswith("CannotStartContainerError.")
    assert containers_of(docker_client, fleet) == before
    assert fleet.router.get(key("dy-keep")) is route
    [view] = fleet.view(key("dy-keep"))
    assert (view.image, view.status) == (image("faulty"), "")

    async def call() -> dict[str, Any]:
        runtime = runtime_of(fleet, serving())
        try:
            return await runtime.invoke(Caller(), {"EndpointName": "dy-keep", "Body": b"1,2\n", **CSV})
        finally:
            await runtime.aclose()

    assert asyncio.run(call())["Body"] == b"1,2\n"


def test_weights_and_counts_change_in_place(
    fleet: Reconciler, events: Recorder, image: Callable[[str], str], docker_client: docker.DockerClient
) -> None:
    fleet.deploy(deployment("dy-scale", variant(image("faulty"), count=1, weight=1.0)))
    assert events.wait("dy-scale").kind == "succeeded"
    [first] = containers_of(docker_client, fleet)

    fleet.deploy(deployment("dy-scale", variant(image("faulty"), count=2, weight=3.0)))
    assert events.wait("dy-scale", 2).kind == "succeeded"
    scaled = containers_of(docker_client, fleet)
    assert len(scaled) == 2
    assert first in scaled  # kept, not replaced
    [view] = fleet.view(key("dy-scale"))
    assert (view.current_weight, view.current_instance_count) == (3.0, 2)
    route = fleet.router.get(key("dy-scale"))
    assert route is not None
    assert route.variants[0].weight == 3.0

    fleet.deploy(deployment("dy-scale", variant(image("faulty"), count=1, weight=3.0)))
    assert events.wait("dy-scale", 3).kind == "succeeded"
    assert len(containers_of(docker_client, fleet)) == 1


def test_a_dead_instance_is_replaced_and_never_routed_to(
    fleet: Reconciler, events: Recorder, image: Callable[[str], str], docker_client: docker.DockerClient
) -> None:
    fleet.deploy(deployment("dy-heal", variant(image("faulty"), count=2)))
    assert events.wait("dy-heal").kind == "succeeded"
    victim, survivor = containers_of(docker_client, fleet)

    def replaced() -> bool:
        names = containers_of(docker_client, fleet)
        route = fleet.router.get(key("dy-heal"))
        healthy = [i.instance_id for i in route.variants[0].instances if i.healthy] if route else []
        return victim not in names and len(healthy) == 2

    async def scenario() -> tuple[list[Answer], list[BaseException]]:
        runtime = runtime_of(fleet, serving())
        try:
            # Both instances hold pooled connections; then one dies, and requests keep coming.
            await invoke_many(runtime, "dy-heal", lambda: False, concurrency=0)
            for _ in range(8):
                await runtime.invoke(Caller(), {"EndpointName": "dy-heal", "Body": SAMPLE, **CSV})
            await asyncio.to_thread(docker_client.containers.get(victim).kill)
            return await asyncio.wait_for(invoke_many(runtime, "dy-heal", replaced), 60)
        finally:
            await runtime.aclose()

    answers, failures = asyncio.run(scenario())
    assert failures == []
    assert answers
    names = containers_of(docker_client, fleet)
    assert survivor in names
    assert len(names) == 2


def test_a_new_reconciler_adopts_running_containers(
    tmp_path: Path, image: Callable[[str], str], docker_client: docker.DockerClient
) -> None:
    spec = deployment("dy-adopt", variant(image("faulty"), count=2))
    first_events = Recorder()
    first = reconciler(tmp_path / "state", first_events)
    second: Reconciler | None = None
    try:
        first.deploy(spec)
        assert first_events.wait("dy-adopt").kind == "succeeded"
        names = containers_of(docker_client, first)
        started = {n: docker_client.api.inspect_container(n)["State"]["StartedAt"] for n in names}
        first.close()  # the containers keep running

        second_events = Recorder()
        second = reconciler(tmp_path / "state", second_events)
        second.deploy(spec)
        assert second_events.wait("dy-adopt").kind == "succeeded"
        assert containers_of(docker_client, second) == names
        assert {n: docker_client.api.inspect_container(n)["State"]["StartedAt"] for n in names} == started
        [view] = second.view(key("dy-adopt"))
        assert sorted(i.instance_id for i in view.instances) == names
        labels = docker_client.api.inspect_container(names[0])["Config"]["Labels"]
        assert labels[LABEL_SPEC]

        # Adoption also trims: the same spec with one instance keeps one of the two.
        second.close()
        third_events = Recorder()
        second = reconciler(tmp_path / "state", third_events)
        second.deploy(deployment("dy-adopt", variant(image("faulty"), count=1)))
        assert third_events.wait("dy-adopt").kind == "succeeded"
        [kept] = containers_of(docker_client, second)
        assert kept in names
    finally:
        for fleet in (first, second):
            if fleet is not None:
                fleet.stop_all()
                fleet.close()
        assert containers_of(docker_client, first) == []


def test_an_instance_failing_ping_is_replaced(
    fleet: Reconciler, events: Recorder, image: Callable[[str], str], docker_client: docker.DockerClient
) -> None:
    sickly = variant(image("faulty"), count=2, environment={"FAULTS": "sick-after-large-body"})
    fleet.deploy(deployment("dy-sick", sickly))
    assert events.wait("dy-sick").kind == "succeeded"
    [view] = fleet.view(key("dy-sick"))
    victim = view.instances[0]
    # The container stays up but its /ping answers 503 from now on.
    answer = httpx.post(f"{victim.url}/invocations", content=b"x" * 7_000_000, timeout=30)
    assert answer.status_code == 413
    assert httpx.get(f"{victim.url}/ping", timeout=2).status_code == 503

    deadline = time.monotonic() + 30
    while victim.instance_id in containers_of(docker_client, fleet) and time.monotonic() < deadline:
        time.sleep(0.1)
    names = containers_of(docker_client, fleet)
    assert victim.instance_id not in names
    assert len(names) == 2
    route = fleet.router.get(key("dy-sick"))
    assert route is not None
    assert sorted(i.instance_id for i in route.variants[0].instances if i.healthy) == names
