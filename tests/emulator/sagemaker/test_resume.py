"""State survives an emulator restart: the store reopened, resume() hands every endpoint back to the fleet."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from dockyard.emulator.sagemaker.domain import Endpoint
from dockyard.emulator.sagemaker.store import SCHEMA_VERSION, Store, StoreError
from tests.emulator.sagemaker.control_plane import CTX, ControlPlane


def test_everything_survives_a_restart_and_resumes(tmp_path: Path) -> None:
    before = ControlPlane(tmp_path / "state.db")
    for model in ("m1", "m2"):
        before.model(model)
    before.config("cfg1", "m1")
    before.config("cfg2", "m2")
    before.call("CreateModelPackageGroup", ModelPackageGroupName="g")
    before.call("CreateModelPackage", ModelPackageGroupName="g")
    serving = before.in_service("serving", "cfg1")
    before.call("CreateEndpoint", EndpointName="creating", EndpointConfigName="cfg1")
    creating = before.fleet.deployed[-1]
    updating_old = before.in_service("updating", "cfg1")
    before.call("UpdateEndpoint", EndpointName="updating", EndpointConfigName="cfg2")
    before.in_service("deleting", "cfg1")
    before.call("DeleteEndpoint", EndpointName="deleting")
    before.call("CreateEndpoint", EndpointName="failed", EndpointConfigName="cfg1")
    before.fleet.fail("image not found")
    described = {
        name: before.call("DescribeEndpoint", EndpointName=name)
        for name in ("serving", "creating", "updating", "deleting", "failed")
    }

    after = before.reopen()
    after.provider.resume()
    assert after.fleet.removed == [CTX.key("deleting")]
    assert sorted(after.fleet.deployed, key=lambda spec: spec.endpoint_name) == [
        creating,
        serving,
        updating_old,
    ]
    # An update cannot resume halfway: the old deployment serves on, and the endpoint says why.
    updating = after.call("DescribeEndpoint", EndpointName="updating")
    assert (updating["EndpointStatus"], updating["EndpointConfigName"]) == ("InService", "cfg1")
    assert updating["FailureReason"] == (
        "The update to endpoint configuration cfg2 was interrupted by a restart of the local SageMaker; the "
        "endpoint kept its previous deployment. Call UpdateEndpoint again to retry."
    )
    for name in ("serving", "creating", "deleting", "failed"):
        again = after.call("DescribeEndpoint", EndpointName=name)
        assert (again["EndpointStatus"], again.get("FailureReason")) == (
            described[name]["EndpointStatus"],
            described[name].get("FailureReason"),
        )
    assert [
        m["ModelName"] for m in after.call("ListModels", SortBy="Name", SortOrder="Ascending")["Models"]
    ] == [
        "m1",
        "m2",
    ]
    assert after.call("DescribeModelPackage", ModelPackageName="g/1")["ModelPackageVersion"] == 1
    assert after.call("CreateModelPackage", ModelPackageGroupName="g")["ModelPackageArn"].endswith("/g/2")

    # The fleet's reports after the restart move the endpoints on as before.
    after.fleet.succeed(creating)
    after.fleet.finish_removal("deleting")
    assert after.status("creating") == "InService"
    assert "deleting" not in [e["EndpointName"] for e in after.call("ListEndpoints")["Endpoints"]]
    after.store.close()


def test_a_deployment_that_cannot_come_back_fails_the_endpoint(tmp_path: Path) -> None:
    before = ControlPlane(tmp_path / "state.db")
    before.model("m1")
    before.config("cfg", "m1")
    serving = before.in_service("ep", "cfg")
    after = before.reopen()
    after.provider.resume()
    assert after.fleet.deployed == [serving]
    after.fleet.succeed(serving)  # adopted: nothing changes
    assert after.status("ep") == "InService"
    after.fleet.fail("Image dy-cp/model:1 is gone.", serving)
    described = after.call("DescribeEndpoint", EndpointName="ep")
    assert (described["EndpointStatus"], described["FailureReason"]) == (
        "Failed",
        "Image dy-cp/model:1 is gone.",
    )
    after.store.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError) as caught:
        Store(path)
    assert str(caught.value) == (
        f"{path} was written by a newer dockyard (schema {SCHEMA_VERSION + 1}, this one knows "
        f"{SCHEMA_VERSION}); upgrade dockyard or use another --state-dir"
    )


def test_the_store_is_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.close()
    with closing(sqlite3.connect(tmp_path / "state.db")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_requests_and_fleet_reports_from_many_threads(tmp_path: Path) -> None:
    """The store and provider are used from the server's worker threads and the fleet's at once."""
    cp = ControlPlane(tmp_path / "state.db")
    cp.model("m1")
    cp.config("cfg", "m1")

    def work(worker: int) -> None:
        for index in range(10):
            name = f"ep-{worker}-{index}"
            cp.provider.handle(CTX, "CreateEndpoint", {"EndpointName": name, "EndpointConfigName": "cfg"})
            spec = next(s for s in list(cp.fleet.deployed) if s.endpoint_name == name)
            cp.fleet.succeed(spec)
            cp.provider.handle(CTX, "ListEndpoints", {"StatusEquals": "InService"})

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(6)))
    statuses = [e.status for e in cp.store.all(Endpoint, CTX.account, CTX.region)]
    assert statuses == ["InService"] * 60
    cp.store.close()
