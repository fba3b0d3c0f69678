"""Transform jobs in the control plane without Docker: the lifecycle's rules, a restart, a provider
without a fleet. (The jobs running on real containers: tests/e2e/test_batch_transform.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.emulator.errors import ValidationException
from dockyard.emulator.route_table import Router
from dockyard.emulator.s3.local_objects import LocalObjects
from dockyard.emulator.sagemaker.deployment import ContainerSpec
from dockyard.emulator.sagemaker.domain import JOB_COMPLETED, JOB_IN_PROGRESS, JOB_STOPPING, TransformJob
from dockyard.emulator.sagemaker.reconciler import Reconciler
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.sagemaker.transform_runner import RESTART_REASON, TransformRunner
from tests.emulator.runtime.fleet_kit import Recorder
from tests.emulator.sagemaker.control_plane import CTX, ControlPlane

JOB = {
    "TransformJobName": "job",
    "ModelName": "m1",
    "TransformInput": {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in/"}},
        "SplitType": "Line",
    },
    "TransformOutput": {"S3OutputPath": "s3://bucket/out"},
    "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
}


def _job(name: str, status: str) -> TransformJob:
    return TransformJob(
        CTX.account,
        CTX.region,
        name,
        CTX.arn("transform-job", name),
        1.0,
        1.0,
        status,
        "m1",
        ContainerSpec("i"),
    )


def test_a_provider_without_a_fleet_refuses_transform_jobs(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path / "state.db")
    try:
        plane.model("m1")
        error = plane.error("CreateTransformJob", **JOB)
        assert error.message == "Batch transform needs the emulator's fleet, which this process lacks."
        missing = plane.error("DescribeTransformJob", TransformJobName="nope")
        assert missing.message == "Could not find requested job with name nope"
    finally:
        plane.store.close()


def test_a_finished_job_cannot_be_stopped() -> None:
    with pytest.raises(ValidationException) as raised:
        _job("done", JOB_COMPLETED).moved_to(JOB_STOPPING, 2.0)
    assert raised.value.message == "Transform job done is Completed: it cannot become Stopping."


def test_jobs_running_at_a_restart_fail_with_the_reason(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.put(_job("running", JOB_IN_PROGRESS))
    store.put(_job("stopping", JOB_STOPPING))
    store.put(_job("done", JOB_COMPLETED))
    objects = LocalObjects(tmp_path)
    fleet = Reconciler(tmp_path, Router(), Recorder())
    try:
        TransformRunner(store, fleet, objects, lambda: 5.0).resume()
        for name in ("running", "stopping"):
            job = store.get(TransformJob, CTX.account, CTX.region, name)
            assert job is not None
            assert (job.status, job.failure_reason, job.ended) == ("Failed", RESTART_REASON, 5.0)
        done = store.get(TransformJob, CTX.account, CTX.region, "done")
        assert done is not None
        assert done.status == JOB_COMPLETED
    finally:
        fleet.close()
        objects.close()
        store.close()
