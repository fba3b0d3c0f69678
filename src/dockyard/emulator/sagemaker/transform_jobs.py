"""Batch transform jobs: CreateTransformJob, DescribeTransformJob, ListTransformJobs, StopTransformJob.

A job records the model's container as it is at creation (as SageMaker does) and every member as given;
the :class:`~dockyard.emulator.sagemaker.transform_runner.TransformRunner` runs it and moves it through
its lifecycle (``domain.JOB_TRANSITIONS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker.domain import JOB_IN_PROGRESS, JOB_STOPPING, TransformJob
from dockyard.emulator.sagemaker.listing import Listing
from dockyard.emulator.sagemaker.models import ModelOps
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.sagemaker.tags import tags_of
from dockyard.emulator.sagemaker.transform_records import Processing, RecordError
from dockyard.emulator.sagemaker.transform_runner import TransformRunner

Result = dict[str, Any]

JOBS: Listing[TransformJob] = Listing(
    sort_keys={
        "Name": lambda job: (job.name,),
        "CreationTime": lambda job: (job.created, job.name),
        "Status": lambda job: (job.status, job.name),
    },
    default_sort="CreationTime",
    name=lambda job: job.name,
    created=lambda job: job.created,
    modified=lambda job: job.modified,
    status=lambda job: job.status,
)


class TransformJobOps:
    def __init__(
        self, store: Store, models: ModelOps, runner: TransformRunner | None, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.models = models
        self.runner = runner
        self.clock = clock

    def create_transform_job(self, ctx: Caller, params: dict[str, Any]) -> Result:
        name: str = params["TransformJobName"]
        arn = ctx.arn("transform-job", name)
        if self.runner is None:
            raise ValidationException("Batch transform needs the emulator's fleet, which this process lacks.")
        runner = self.runner
        model = self.models.get_model(ctx, params["ModelName"])
        _check(params)
        definition = {key: value for key, value in params.items() if key not in ("TransformJobName", "Tags")}
        now = self.clock()
        job = TransformJob(
            ctx.account,
            ctx.region,
            name,
            arn,
            now,
            now,
            JOB_IN_PROGRESS,
            model.name,
            model.container,
            definition,
        )
        with self.store.changing:
            if not self.store.insert(job):
                raise ValidationException(
                    f"Job name must be unique within an AWS account and region, and a job "
                    f"with this name already exists ({arn})"
                )
            self.store.add_tags(arn, tags_of(params))
        runner.start(job)
        return {"TransformJobArn": arn}

    def describe_transform_job(self, ctx: Caller, params: dict[str, Any]) -> Result:
        job = self._get(ctx, params["TransformJobName"])
        return {
            "TransformJobName": job.name,
            "TransformJobArn": job.arn,
            "TransformJobStatus": job.status,
            "FailureReason": job.failure_reason,
            "CreationTime": job.created,
            "TransformStartTime": job.created,
            "TransformEndTime": job.ended,
            **job.definition,
        }

    def list_transform_jobs(self, ctx: Caller, params: dict[str, Any]) -> Result:
        page = JOBS.page(self.store.all(TransformJob, ctx.account, ctx.region), params)
        return {
            "TransformJobSummaries": [
                {
                    "TransformJobName": job.name,
                    "TransformJobArn": job.arn,
                    "CreationTime": job.created,
                    "TransformEndTime": job.ended,
                    "LastModifiedTime": job.modified,
                    "TransformJobStatus": job.status,
                    "FailureReason": job.failure_reason,
                }
                for job in page.items
            ],
            "NextToken": page.next_token,
        }

    def stop_transform_job(self, ctx: Caller, params: dict[str, Any]) -> Result:
        with self.store.changing:
            job = self._get(ctx, params["TransformJobName"])
            if job.status == JOB_STOPPING:
                return {}
            self.store.put(job.moved_to(JOB_STOPPING, self.clock()))
        if self.runner is not None:
            self.runner.stop(job)
        return {}

    def _get(self, ctx: Caller, name: str) -> TransformJob:
        job = self.store.get(TransformJob, ctx.account, ctx.region, name)
        if job is None:
            raise ValidationException(f"Could not find requested job with name {name}")
        return job


def _check(params: dict[str, Any]) -> None:
    source = params["TransformInput"]["DataSource"]["S3DataSource"]
    for member, uri in (
        ("TransformInput.DataSource.S3DataSource.S3Uri", source["S3Uri"]),
        ("TransformOutput.S3OutputPath", params["TransformOutput"]["S3OutputPath"]),
    ):
        if not uri.startswith("s3://") or len(uri) <= 5:
            raise ValidationException(f"{member} {uri!r} is not an S3 URI (s3://bucket/prefix).")
    try:
        Processing.of(params.get("DataProcessing"), params["TransformInput"].get("ContentType"))
    except RecordError as exc:
        raise ValidationException(str(exc)) from None
