"""A running endpoint container, as the emulator starts it, inspected for each confinement: not
privileged, capabilities dropped, no-new-privileges, the model read-only, no Docker socket or other host
path, ports on 127.0.0.1 only, CPU, memory and process limits; and the kernel's own view from inside."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.archive import pack
from dockyard.containers.hardening import CAP_ADD, PIDS_LIMIT, hardening_gaps
from dockyard.emulator.sagemaker.instances import LABEL_ENDPOINT
from tests.emulator_fixtures import EmulatorProcess
from tests.fixture_images import build_fixture_image, write_model

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ENDPOINT = "sec-confined"
WAIT = {"Delay": 1, "MaxAttempts": 120}
# Bit numbers of capabilities in /proc/<pid>/status (linux/capability.h).
CAP_BITS = {
    "CHOWN": 0,
    "DAC_OVERRIDE": 1,
    "FOWNER": 3,
    "KILL": 5,
    "SETGID": 6,
    "SETUID": 7,
    "NET_BIND_SERVICE": 10,
}


@pytest.fixture(scope="module")
def endpoint_container(
    emulator: EmulatorProcess,
    sagemaker_client: Any,
    docker_client: docker.DockerClient,
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    image = build_fixture_image(docker_client, base_image, "dockyard")
    work = tmp_path_factory.mktemp("confined")
    source = write_model(work / "model")
    (source / "weights.json").write_text(json.dumps({"weights": [1, 2, 3, 4]}))
    pack(source, work / "model.tar.gz")
    sm = sagemaker_client
    sm.create_model(
        ModelName=ENDPOINT,
        PrimaryContainer={"Image": image, "ModelDataUrl": (work / "model.tar.gz").as_uri()},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/dockyard-test",
    )
    sm.create_endpoint_config(
        EndpointConfigName=ENDPOINT,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": ENDPOINT,
                "InstanceType": "ml.t2.medium",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    try:
        sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig=WAIT)
        [container] = docker_client.containers.list(filters={"label": f"{LABEL_ENDPOINT}={ENDPOINT}"})
        yield docker_client.api.inspect_container(container.id)
    finally:
        sm.delete_endpoint(EndpointName=ENDPOINT)
        sm.get_waiter("endpoint_deleted").wait(EndpointName=ENDPOINT, WaiterConfig=WAIT)
        sm.delete_endpoint_config(EndpointConfigName=ENDPOINT)
        sm.delete_model(ModelName=ENDPOINT)


def test_the_endpoint_container_is_confined(endpoint_container: dict[str, Any]) -> None:
    attrs = endpoint_container
    host = attrs["HostConfig"]
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == sorted(CAP_ADD)
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["NanoCpus"] > 0
    assert host["Memory"] > 0
    assert host["MemorySwap"] == host["Memory"]  # no swap beyond the instance's memory
    assert host["PidsLimit"] == PIDS_LIMIT
    mounts = attrs["Mounts"]
    assert [(m["Destination"], m["RW"]) for m in mounts] == [("/opt/ml/model", False)]
    assert not any("docker.sock" in str(m.get("Source")) for m in mounts)
    published = [b for bindings in attrs["NetworkSettings"]["Ports"].values() for b in bindings or []]
    assert published
    assert {binding["HostIp"] for binding in published} == {"127.0.0.1"}
    assert hardening_gaps(attrs) == []


def test_the_kernel_sees_the_same_from_inside(
    docker_client: docker.DockerClient, endpoint_container: dict[str, Any]
) -> None:
    container = docker_client.containers.get(endpoint_container["Id"])
    status = container.exec_run(["cat", "/proc/1/status"]).output.decode()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    expected = sum(1 << bit for bit in CAP_BITS.values())
    assert int(fields["CapBnd"].strip(), 16) == expected
    assert int(fields["CapEff"].strip(), 16) & ~expected == 0
    assert fields["NoNewPrivs"].strip() == "1"
    denied = container.exec_run(["sh", "-c", "touch /opt/ml/model/written"])
    assert denied.exit_code != 0
    assert b"Read-only file system" in denied.output


def test_containers_without_the_confinement_are_named(tmp_path: Path) -> None:
    loose = {
        "HostConfig": {"Privileged": True, "CapDrop": None, "CapAdd": ["SYS_ADMIN"], "SecurityOpt": None},
        "Mounts": [
            {"Destination": "/var/run/docker.sock", "RW": True},
            {"Destination": "/opt/ml/model", "RW": True},
        ],
        "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "1"}]}},
    }
    assert hardening_gaps(loose) == [
        "privileged mode",
        "capabilities not all dropped (CapDrop=None)",
        "capabilities beyond CHOWN, DAC_OVERRIDE, FOWNER, KILL, NET_BIND_SERVICE, SETGID, SETUID "
        "(CapAdd=['SYS_ADMIN'])",
        "no-new-privileges not set",
        "CPU, memory or process limit missing",
        "host path mounted at /var/run/docker.sock",
        "/opt/ml/model mounted writable",
        "a port published on 0.0.0.0",
    ]
