"""An endpoint none of whose instances can take requests: reported OutOfService with the cause, refused
changes meanwhile, InService again when an instance is healthy; the monitor's side (:class:`Availability`)
over the real reports and store, with a fake clock and engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dockyard.emulator.sagemaker.availability import Availability
from dockyard.emulator.sagemaker.fleet_reports import FleetReports
from tests.emulator.sagemaker.control_plane import PREFIX, ControlPlane

ENGINE_DOWN = "The Docker engine at unix:///tmp/dy.sock does not answer: connection refused"


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path / "state.db")
    plane.model("m1")
    plane.config("cfg1", "m1")
    yield plane
    plane.store.close()


def reports(cp: ControlPlane) -> FleetReports:
    assert isinstance(cp.fleet.events, FleetReports)
    return cp.fleet.events


def test_out_of_service_and_back(cp: ControlPlane) -> None:
    spec = cp.in_service("ep", "cfg1")
    assert reports(cp).endpoint_out_of_service(spec, ENGINE_DOWN) is True
    described = cp.call("DescribeEndpoint", EndpointName="ep")
    assert (described["EndpointStatus"], described["FailureReason"]) == ("OutOfService", ENGINE_DOWN)
    listed = cp.call("ListEndpoints")["Endpoints"]
    assert [e["EndpointStatus"] for e in listed] == ["OutOfService"]

    refused = cp.error("UpdateEndpoint", EndpointName="ep", EndpointConfigName="cfg1")
    assert refused.code == "ValidationException"
    assert refused.message == f'Cannot update out-of-service endpoint "{PREFIX}:endpoint/ep".'
    refused = cp.error(
        "UpdateEndpointWeightsAndCapacities",
        EndpointName="ep",
        DesiredWeightsAndCapacities=[{"VariantName": "v0", "DesiredWeight": 2.0}],
    )
    assert refused.message == f'Cannot update out-of-service endpoint "{PREFIX}:endpoint/ep".'

    reports(cp).endpoint_out_of_service(spec, "No instance passes its health check.")  # the cause changed
    assert cp.call("DescribeEndpoint", EndpointName="ep")["FailureReason"] == (
        "No instance passes its health check."
    )
    reports(cp).endpoint_back_in_service(spec)
    described = cp.call("DescribeEndpoint", EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert "FailureReason" not in described or described["FailureReason"] is None


def test_an_out_of_service_endpoint_can_be_deleted(cp: ControlPlane) -> None:
    spec = cp.in_service("ep", "cfg1")
    reports(cp).endpoint_out_of_service(spec, ENGINE_DOWN)
    cp.call("DeleteEndpoint", EndpointName="ep")
    assert cp.status("ep") == "Deleting"
    reports(cp).endpoint_back_in_service(spec)  # a late report changes nothing
    assert cp.status("ep") == "Deleting"


def test_reports_about_other_states_or_deployments_are_ignored(cp: ControlPlane) -> None:
    cp.call("CreateEndpoint", EndpointName="new", EndpointConfigName="cfg1")
    creating = cp.fleet.deployed[-1]
    assert reports(cp).endpoint_out_of_service(creating, ENGINE_DOWN) is False
    assert cp.status("new") == "Creating"
    spec = cp.in_service("ep", "cfg1")
    cp.call("UpdateEndpoint", EndpointName="ep", EndpointConfigName="cfg1")
    assert reports(cp).endpoint_out_of_service(spec, ENGINE_DOWN) is False
    assert cp.status("ep") == "Updating"


def test_an_out_of_service_endpoint_is_redeployed_after_a_restart(cp: ControlPlane) -> None:
    spec = cp.in_service("ep", "cfg1")
    reports(cp).endpoint_out_of_service(spec, ENGINE_DOWN)
    after = cp.reopen()
    after.provider.resume()
    assert after.fleet.deployed == [spec]
    assert after.status("ep") == "OutOfService"
    # The serving deployment cannot be brought back at all: Failed, as for an InService one.
    after.fleet.fail("image gone", spec)
    assert after.status("ep") == "Failed"
    after.store.close()


class Engine:
    def __init__(self) -> None:
        self.problem: str | None = None
        self.asked = 0

    def __call__(self) -> str | None:
        self.asked += 1
        return self.problem


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_monitor_reports_after_the_grace_or_at_once_without_an_engine(cp: ControlPlane) -> None:
    spec = cp.in_service("ep", "cfg1")
    engine, clock = Engine(), Clock()
    watch = Availability(reports(cp), engine, grace=10.0, clock=clock)
    watch.observe(spec, healthy=1, updating=False)
    assert engine.asked == 0  # a healthy endpoint costs no call to the engine
    watch.observe(spec, healthy=0, updating=False)
    clock.now += 9.0
    watch.observe(spec, healthy=0, updating=False)
    assert cp.status("ep") == "InService"  # within the grace: the fleet is replacing the instance
    clock.now += 2.0
    watch.observe(spec, healthy=0, updating=False)
    described = cp.call("DescribeEndpoint", EndpointName="ep")
    assert (described["EndpointStatus"], described["FailureReason"]) == (
        "OutOfService",
        "No instance of endpoint ep passes its health check; the local fleet is replacing them.",
    )
    watch.observe(spec, healthy=1, updating=False)
    assert cp.status("ep") == "InService"

    engine.problem = ENGINE_DOWN
    watch.observe(spec, healthy=1, updating=False)
    assert cp.status("ep") == "InService"  # the engine gone, the containers still serve
    watch.observe(spec, healthy=0, updating=True)
    assert cp.status("ep") == "InService"  # a deployment step owns the status
    watch.observe(spec, healthy=0, updating=False)
    assert cp.call("DescribeEndpoint", EndpointName="ep")["FailureReason"] == (
        f"{ENGINE_DOWN}. No instance of endpoint ep passes its health check, and the local fleet cannot "
        "replace them until the engine answers again."
    )
    assert cp.status("ep") == "OutOfService"
    engine.problem = None
    watch.observe(spec, healthy=1, updating=False)
    assert cp.status("ep") == "InService"


def test_an_endpoint_left_out_of_service_is_back_once_seen_healthy(cp: ControlPlane) -> None:
    spec = cp.in_service("ep", "cfg1")
    reports(cp).endpoint_out_of_service(spec, ENGINE_DOWN)
    watch = Availability(reports(cp), Engine())  # a new emulator process: it reported nothing itself
    watch.observe(spec, healthy=1, updating=False)
    assert cp.status("ep") == "InService"


def test_without_reports_the_monitor_does_nothing(cp: ControlPlane) -> None:
    spec = cp.in_service("ep", "cfg1")
    engine = Engine()
    engine.problem = ENGINE_DOWN
    Availability(None, engine).observe(spec, healthy=0, updating=False)
    assert (cp.status("ep"), engine.asked) == ("InService", 0)


def test_a_deployment_failed_for_want_of_the_engine_is_retried_only_for_a_serving_endpoint(
    cp: ControlPlane,
) -> None:
    spec = cp.in_service("ep", "cfg1")
    cp.call("CreateEndpoint", EndpointName="new", EndpointConfigName="cfg1")
    creating = cp.fleet.deployed[-1]
    engine = Engine()
    watch = Availability(reports(cp), engine)
    assert watch.engine_down(spec) is False  # the engine answers: the failure is the deployment's own
    engine.problem = ENGINE_DOWN
    assert watch.engine_down(creating) is False  # a new endpoint fails as usual
    assert cp.status("new") == "Creating"
    assert watch.engine_down(spec) is True  # a serving one waits for the engine, OutOfService
    described = cp.call("DescribeEndpoint", EndpointName="ep")
    assert described["EndpointStatus"] == "OutOfService"
    assert described["FailureReason"].startswith(f"{ENGINE_DOWN}. No instance of endpoint ep passes")
    engine.problem = None
    watch.observe(spec, healthy=1, updating=False)  # adopted once the engine answered
    assert cp.status("ep") == "InService"


def test_a_serverless_endpoint_without_instances_is_not_out_of_service(cp: ControlPlane) -> None:
    spec = cp.in_service("ep", "cfg1")
    variants = tuple(replace(v, serverless={"MemorySizeInMB": 2048}) for v in spec.variants)
    pooled = replace(spec, variants=variants)
    engine = Engine()
    engine.problem = ENGINE_DOWN
    Availability(reports(cp), engine, grace=0.0).observe(pooled, healthy=0, updating=False)
    assert (cp.status("ep"), engine.asked) == ("InService", 0)
