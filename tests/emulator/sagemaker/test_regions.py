"""One endpoint name in two regions and two accounts on one Docker engine: three endpoints that share
nothing (fleets, routes, containers, logs), from deployment through adoption by a new emulator process to
removal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from dockyard.emulator.context import Caller, ResourceKey
from dockyard.emulator.errors import ValidationError
from dockyard.emulator.sagemaker.deployment import DeploymentSpec
from dockyard.emulator.sagemaker.instances import LABEL_ACCOUNT, LABEL_ENDPOINT, LABEL_REGION
from dockyard.emulator.sagemaker.reconciler import Reconciler
from tests.emulator.runtime.fleet_kit import (
    Recorder,
    containers_of,
    deployment,
    reconciler,
    runtime_of,
    variant,
)

pytestmark = pytest.mark.docker

NAME = "dy-same"
EAST = ResourceKey("111111111111", "us-east-1", NAME)
WEST = ResourceKey("111111111111", "eu-west-1", NAME)
OTHER_ACCOUNT = ResourceKey("222222222222", "us-east-1", NAME)
KEYS = (EAST, WEST, OTHER_ACCOUNT)


def spec_of(endpoint: ResourceKey, image: str) -> DeploymentSpec:
    # One variant spec for all three: the same digest, so only the account and region labels tell the
    # containers apart when a new emulator process adopts them.
    return deployment(endpoint.name, variant(image), account=endpoint.account, region=endpoint.region)


def owners(client: docker.DockerClient, fleet: Reconciler) -> dict[str, ResourceKey]:
    """Container name -> the endpoint its labels name."""
    found = {}
    for name in containers_of(client, fleet):
        labels = client.api.inspect_container(name)["Config"]["Labels"]
        found[name] = ResourceKey(labels[LABEL_ACCOUNT], labels[LABEL_REGION], labels[LABEL_ENDPOINT])
    return found


def routed(fleet: Reconciler, endpoint: ResourceKey) -> set[str]:
    route = fleet.router.get(endpoint)
    return set() if route is None else {i.instance_id for v in route.variants for i in v.instances}


def invoke(fleet: Reconciler, endpoint: ResourceKey, serving: set[ResourceKey]) -> bytes:
    async def call() -> bytes:
        runtime = runtime_of(fleet, lambda key: "InService" if key in serving else None)
        try:
            ctx = Caller(endpoint.account, endpoint.region, "req")
            result = await runtime.invoke(ctx, {"EndpointName": endpoint.name, "Body": b"1,2\n"})
            body: bytes = result["Body"]
            return body
        finally:
            await runtime.aclose()

    return asyncio.run(call())


def test_one_name_in_two_regions_and_two_accounts_shares_nothing(
    tmp_path: Path, image: Callable[[str], str], docker_client: docker.DockerClient
) -> None:
    first_events = Recorder()
    first = reconciler(tmp_path / "state", first_events)
    second: Reconciler | None = None
    try:
        for endpoint in KEYS:
            first.deploy(spec_of(endpoint, image("faulty")))
        for endpoint in KEYS:
            event = first_events.wait(endpoint)
            assert event.kind == "succeeded", event.reason

        # Separate fleets: one container each, labelled with its own account and region.
        by_owner = {owner: name for name, owner in owners(docker_client, first).items()}
        assert set(by_owner) == set(KEYS)
        for endpoint in KEYS:
            [view] = first.view(endpoint)
            assert [i.instance_id for i in view.instances] == [by_owner[endpoint]]
            # Separate routes, and each request reaches its own endpoint's fleet.
            assert routed(first, endpoint) == {by_owner[endpoint]}
            assert invoke(first, endpoint, set(KEYS)) == b"1,2\n"
            # Separate log directories.
            [log] = first.log_files(endpoint)
            assert log.stem == by_owner[endpoint]
            logs = tmp_path / "state" / "logs"
            assert log.parent.parent == logs / endpoint.account / endpoint.region / NAME

        # A new emulator process adopts each endpoint's own container, never another region's.
        first.close()
        second_events = Recorder()
        second = reconciler(tmp_path / "state", second_events)
        second.deploy(spec_of(EAST, image("faulty")))
        assert second_events.wait(EAST).kind == "succeeded"
        assert routed(second, EAST) == {by_owner[EAST]}
        assert set(owners(docker_client, second).values()) == set(KEYS)  # the others were left alone
        for endpoint in (WEST, OTHER_ACCOUNT):
            second.deploy(spec_of(endpoint, image("faulty")))
            assert second_events.wait(endpoint).kind == "succeeded"
            assert routed(second, endpoint) == {by_owner[endpoint]}

        # Deleting one leaves the others serving.
        second.remove(WEST)
        event = second_events.wait(WEST, 2)
        assert (event.kind, event.endpoint) == ("removed", WEST)
        assert [e.endpoint for e in second_events.events if e.kind == "removed"] == [WEST]
        assert set(owners(docker_client, second).values()) == {EAST, OTHER_ACCOUNT}
        assert second.router.get(WEST) is None
        assert second.view(WEST) == ()
        left = {EAST, OTHER_ACCOUNT}
        for endpoint in left:
            assert invoke(second, endpoint, left) == b"1,2\n"
        with pytest.raises(ValidationError) as caught:
            invoke(second, WEST, left)
        assert caught.value.message == f"Endpoint {NAME} of account {WEST.account} not found."
    finally:
        for fleet in (first, second):
            if fleet is not None:
                fleet.stop_all()
                fleet.close()
        assert containers_of(docker_client, first) == []
