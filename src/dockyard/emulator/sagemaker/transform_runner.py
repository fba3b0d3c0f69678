"""Runs batch transform jobs: the model's containers started with the fleet's machinery, every object
under the input prefix sent through them, the ``.out`` objects written to the emulator's S3.

One thread per job. The containers (``TransformResources.InstanceCount`` of them) are started and
health-checked as an endpoint's are, then asked ``GET /execution-parameters`` as SageMaker asks: the
container's MaxConcurrentTransforms, BatchStrategy and MaxPayloadInMB apply where the job gives none
(else 1, SingleRecord, 6). Each object's requests go to the containers in turn, MaxConcurrentTransforms
at a time on each; the answers are assembled (``transform_records``) into ``<output path>/<key relative
to the input prefix>.out``. A request the container answers with an error fails the job, with the
container's message in FailureReason. StopTransformJob is noticed between requests; the containers are
removed however the job ends.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx

from dockyard.emulator.s3.errors import S3Error
from dockyard.emulator.s3.local_objects import LocalObjects, split_s3_uri
from dockyard.emulator.sagemaker.deployment import DeploymentSpec, VariantDeployment
from dockyard.emulator.sagemaker.domain import (
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_IN_PROGRESS,
    JOB_STOPPED,
    JOB_STOPPING,
    TransformJob,
)
from dockyard.emulator.sagemaker.instances import Cancelled, FleetInstance, StartFailure, variant_digest
from dockyard.emulator.sagemaker.reconciler import Reconciler
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.sagemaker.transform_records import Processing, RecordError, assemble, batches, split

log = logging.getLogger("dockyard.emulator.transform")

DEFAULTS = {"MaxConcurrentTransforms": 1, "BatchStrategy": "SingleRecord", "MaxPayloadInMB": 6}
INVOCATION_TIMEOUT = 600.0  # ModelClientConfig.InvocationsTimeoutInSeconds when not given
RESTART_REASON = (
    "The local SageMaker (dockyard emulator) stopped while the job ran; create the job again to rerun it."
)


class Stopped(Exception):
    """StopTransformJob was called."""


class TransformRunner:
    def __init__(
        self, store: Store, fleet: Reconciler, objects: LocalObjects, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.fleet = fleet
        self.objects = objects
        self.clock = clock
        self._stops: dict[str, threading.Event] = {}  # job arn -> set by StopTransformJob

    def start(self, job: TransformJob) -> None:
        self._stops[job.arn] = threading.Event()
        threading.Thread(target=self._run, args=(job,), name=f"transform-{job.name}", daemon=True).start()

    def stop(self, job: TransformJob) -> None:
        event = self._stops.get(job.arn)
        if event is not None:
            event.set()

    def resume(self) -> None:
        """At start: a job that was running when the emulator stopped cannot be picked up halfway."""
        for job in self.store.everywhere(TransformJob):
            if job.status in (JOB_IN_PROGRESS, JOB_STOPPING):
                now = self.clock()
                self._save(job.moved_to(JOB_FAILED, now, failure_reason=RESTART_REASON, ended=now))

    def _save(self, job: TransformJob) -> None:
        with self.store.changing:
            self.store.put(job)

    def _end(self, job: TransformJob, status: str, reason: str | None = None) -> None:
        with self.store.changing:
            current = self.store.get(TransformJob, job.account, job.region, job.name) or job
            now = self.clock()
            self.store.put(current.moved_to(status, now, failure_reason=reason, ended=now))

    def _stopped(self, job: TransformJob) -> bool:
        event = self._stops.get(job.arn)
        return event is not None and event.is_set()

    # ---- one job ---------------------------------------------------------------------------------

    def _run(self, job: TransformJob) -> None:
        instances: list[FleetInstance] = []
        try:
            instances = self._containers(job)
            self._transform(job, instances)
        except (Stopped, Cancelled):
            self._end(job, JOB_STOPPED)
        except (StartFailure, RecordError) as exc:
            self._end(job, JOB_FAILED, str(exc))
        except Exception as exc:
            log.exception("transform job %s failed", job.name)
            self._end(job, JOB_FAILED, f"The local SageMaker could not run the job: {exc}")
        else:
            self._end(job, JOB_STOPPED if self._stopped(job) else JOB_COMPLETED)
        finally:
            for instance in instances:
                with contextlib.suppress(Exception):
                    self.fleet.containers.remove(instance, grace=5)
            self._stops.pop(job.arn, None)

    def _containers(self, job: TransformJob) -> list[FleetInstance]:
        resources = job.definition["TransformResources"]
        environment = {**job.container.environment, **(job.definition.get("Environment") or {})}
        variant = VariantDeployment(
            name="transform",
            model_name=job.model_name,
            container=replace(job.container, environment=environment),
            instance_type=resources["InstanceType"],
            instance_count=int(resources["InstanceCount"]),
        )
        # Named as a job's, apart from endpoints' containers (an endpoint may not be called this).
        spec = DeploymentSpec(f"transform-job--{job.name}", job.arn, "", (variant,), job.account, job.region)
        model_dir = self.fleet.model_data.prepare(variant.container, job.region)
        self.fleet.containers.ensure_image(variant)
        digest = variant_digest(spec.endpoint_name, variant)
        started: list[FleetInstance] = []
        try:
            for _ in range(variant.instance_count):
                started.append(self.fleet.containers.start(spec, variant, model_dir, digest))
            for instance in started:
                self.fleet.containers.wait_healthy(instance, variant, lambda: self._stopped(job))
        except Exception:
            for instance in started:
                with contextlib.suppress(Exception):
                    self.fleet.containers.remove(instance, grace=1)
            raise
        return started

    def _parameters(self, job: TransformJob, client: httpx.Client, url: str) -> dict[str, Any]:
        """The job's own values, else the container's /execution-parameters, else SageMaker's defaults."""
        offered: dict[str, Any] = {}
        with contextlib.suppress(httpx.HTTPError, ValueError):
            answer = client.get(f"{url}/execution-parameters", timeout=10)
            if answer.status_code == 200 and isinstance(answer.json(), dict):
                offered = answer.json()
        return {
            name: job.definition.get(name) or offered.get(name) or default
            for name, default in DEFAULTS.items()
        }

    def _transform(self, job: TransformJob, instances: list[FleetInstance]) -> None:
        source = job.definition["TransformInput"]
        output = job.definition["TransformOutput"]
        timeout = float(
            (job.definition.get("ModelClientConfig") or {}).get("InvocationsTimeoutInSeconds") or 0
        )
        bucket, prefix = split_s3_uri(source["DataSource"]["S3DataSource"]["S3Uri"])
        out_bucket, out_prefix = split_s3_uri(output["S3OutputPath"])
        content_type = source.get("ContentType")
        headers = {k: v for k, v in (("Content-Type", content_type), ("Accept", output.get("Accept"))) if v}
        processing = Processing.of(job.definition.get("DataProcessing"), content_type)
        try:
            keys = [key for key in self.objects.keys(bucket, prefix) if not key.endswith("/")]
        except S3Error as exc:
            raise RecordError(f"The input s3://{bucket}/{prefix} could not be listed: {exc}") from None
        if not keys:
            raise RecordError(f"No objects were found under the input s3://{bucket}/{prefix}.")
        base = prefix[: prefix.rfind("/") + 1]  # outputs keep the keys' path below the prefix's folder
        with httpx.Client(timeout=timeout or INVOCATION_TIMEOUT) as client:
            urls = [instance.box.url for instance in instances]
            params = self._parameters(job, client, urls[0])
            turn = itertools.cycle(urls)
            lock = threading.Lock()

            def send(body: bytes) -> bytes:
                if self._stopped(job):
                    raise Stopped
                with lock:
                    url = next(turn)
                try:
                    answer = client.post(f"{url}/invocations", content=body, headers=headers)
                except httpx.TimeoutException:
                    raise RecordError(
                        "The model did not answer a request within InvocationsTimeoutInSeconds "
                        f"({timeout or INVOCATION_TIMEOUT:g} seconds)."
                    ) from None
                except httpx.HTTPError as exc:
                    raise RecordError(f"The container could not be reached: {exc}") from None
                if not 200 <= answer.status_code < 300:
                    message = answer.text[:1000]
                    raise RecordError(
                        f"ClientError: the model answered {answer.status_code} to a request: {message}"
                    )
                return answer.content

            workers = int(params["MaxConcurrentTransforms"]) * len(urls)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"transform-{job.name}") as pool:
                for key in keys:
                    data = b"".join(self.objects.read(bucket, key))
                    if source.get("CompressionType") == "Gzip":
                        data = gzip.decompress(data)
                    result = self._object(data, source, output, params, processing, pool, send)
                    target = f"{out_prefix.rstrip('/')}/{key[len(base) :]}.out".lstrip("/")
                    self.objects.write(out_bucket, target, result, output.get("Accept"))

    @staticmethod
    def _object(
        data: bytes,
        source: dict[str, Any],
        output: dict[str, Any],
        params: dict[str, Any],
        processing: Processing | None,
        pool: ThreadPoolExecutor,
        send: Callable[[bytes], bytes],
    ) -> bytes:
        records = split(data, source.get("SplitType") or "None")
        if processing is not None:
            records = [processing.filter_input(record) for record in records]
            originals = split(data, source.get("SplitType") or "None")
        groups = list(batches(records, str(params["BatchStrategy"]), int(params["MaxPayloadInMB"])))
        answers = list(pool.map(send, [b"".join(group) for group in groups]))
        if processing is None:
            return assemble(answers, output.get("AssembleWith") or "None")
        lines: list[bytes] = []
        position = 0
        for group, answer in zip(groups, answers, strict=True):
            parts = answer.splitlines() if len(group) > 1 else [answer]
            if len(parts) != len(group):
                raise RecordError(
                    f"The model answered {len(parts)} lines to a request of {len(group)} records: with "
                    "DataProcessing, each record needs one answer line."
                )
            for part in parts:
                lines.append(processing.finish(originals[position], part))
                position += 1
        return b"".join(lines)
