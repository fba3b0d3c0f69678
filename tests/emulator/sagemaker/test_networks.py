"""Endpoint containers on dockyard's own networks, network isolation, and pulls only when allowed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.emulator.route_table import Router
from dockyard.emulator.sagemaker.networks import ENDPOINTS_NETWORK, ISOLATED_NETWORK
from dockyard.emulator.sagemaker.reconciler import Reconciler
from tests.emulator.runtime.fleet_kit import (
    PREFIX,
    Recorder,
    containers_of,
    deployment,
    key,
    model_archive,
    variant,
)
from tests.fixture_images import PREDICTION, SAMPLE

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CSV = {"content-type": "text/csv"}


def _connect_from(container: docker.models.containers.Container, host: str, port: int) -> str:
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(({host!r}, {port}), timeout=3).close()\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    result = container.exec_run(["python3", "-c", code])
    return str(result.output.decode().strip())


def test_endpoints_run_on_dockyards_network_and_isolated_models_have_no_way_out(
    tmp_path: Path,
    fleet: Reconciler,
    events: Recorder,
    image: Callable[[str], str],
    docker_client: docker.DockerClient,
) -> None:
    url = model_archive(tmp_path).as_uri()
    open_variant = variant(image("dockyard"), model_url=url)
    closed = dataclasses.replace(
        open_variant, container=dataclasses.replace(open_variant.container, network_isolation=True)
    )
    fleet.deploy(deployment("dy-net-open", open_variant))
    fleet.deploy(deployment("dy-net-closed", closed))
    assert events.wait("dy-net-open").kind == "succeeded"
    assert events.wait("dy-net-closed").kind == "succeeded"

    boxes = {}
    for endpoint in ("dy-net-open", "dy-net-closed"):
        (instance,) = fleet.view(key(endpoint))[0].instances
        boxes[endpoint] = docker_client.containers.get(instance.instance_id)
        answer = httpx.post(f"{instance.url}/invocations", content=SAMPLE, headers=CSV)
        assert answer.text == PREDICTION
    opened, isolated = boxes["dy-net-open"], boxes["dy-net-closed"]
    assert list(opened.attrs["NetworkSettings"]["Networks"]) == [ENDPOINTS_NETWORK]
    assert list(isolated.attrs["NetworkSettings"]["Networks"]) == [ISOLATED_NETWORK]
    # The open one is published on 127.0.0.1 only; the isolated one is not published at all.
    bindings = [b for found in opened.attrs["NetworkSettings"]["Ports"].values() for b in found or []]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
    assert not any(isolated.attrs["NetworkSettings"]["Ports"].values())
    assert docker_client.networks.get(ISOLATED_NETWORK).attrs["Internal"] is True
    for name in (ENDPOINTS_NETWORK, ISOLATED_NETWORK):
        options = docker_client.networks.get(name).attrs["Options"]
        assert options["com.docker.network.bridge.enable_icc"] == "false"

    # No way out of the isolated network: the engine forwards nothing from an `internal` network (asserted
    # above). The tests send no traffic off this machine, so that is shown on a container of their own:
    # the isolated one cannot reach another endpoint's container.
    open_ip = opened.attrs["NetworkSettings"]["Networks"][ENDPOINTS_NETWORK]["IPAddress"]
    assert _connect_from(isolated, open_ip, 8080) != "connected"
    assert all(name.startswith(PREFIX) for name in containers_of(docker_client, fleet))


def test_a_missing_image_is_pulled_only_when_the_emulator_allows_it(
    tmp_path: Path, events: Recorder, registry: str, docker_client: docker.DockerClient
) -> None:
    fleet = Reconciler(
        tmp_path / "state", Router(), events, container_prefix=PREFIX, stop_grace=1.0, pull=True
    )
    fleet.start()
    try:
        missing = f"{registry}/dy-fleet-missing:none"
        fleet.deploy(deployment("dy-pull", variant(missing)))
        event = events.wait("dy-pull")
    finally:
        fleet.stop_all()
        fleet.close()
    assert event.kind == "failed"
    assert event.reason.startswith(
        "Please make sure all images included in the model for the production variant AllTraffic exist, "
        f"and that the execution role used to create the model has permissions to access them. (The image "
        f"{missing} is not in the local Docker engine and could not be pulled: "
    )
    assert containers_of(docker_client, fleet) == []
