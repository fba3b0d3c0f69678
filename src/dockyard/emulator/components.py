"""What one emulator process runs, built and torn down together: the store, the fleet, the control plane,
the runtime and the AWS services beside them. The HTTP surface (``server``) and the console are clients
of these parts; nothing here knows HTTP."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dockyard.emulator.asgi import Receive, Scope, Send
from dockyard.emulator.context import Caller
from dockyard.emulator.route_table import Router
from dockyard.emulator.runtime.async_inference import AsyncInference
from dockyard.emulator.runtime.capture import CaptureWriter
from dockyard.emulator.runtime.invoke import Runtime
from dockyard.emulator.s3.app import S3App
from dockyard.emulator.s3.local_objects import LocalObjects
from dockyard.emulator.s3.service import S3Service
from dockyard.emulator.sagemaker.domain import (
    Endpoint,
    EndpointConfig,
    Model,
    ModelPackage,
    ModelPackageGroup,
    TransformJob,
)
from dockyard.emulator.sagemaker.fleet_reports import FleetReports
from dockyard.emulator.sagemaker.provider import SageMakerProvider
from dockyard.emulator.sagemaker.reconciler import Reconciler
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.sagemaker.transform_runner import TransformRunner
from dockyard.emulator.services import AwsServices
from dockyard.emulator.settings import EmulatorSettings

# A service that reads its own requests (S3 streams bodies to disk): plain ASGI plus the context.
RawHandler = Callable[[Caller, Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Components:
    """What one emulator process runs; built and torn down together.

    Each part gets what it uses here, and data flows one way: requests -> provider -> fleet (the
    reconciler) -> fleet reports -> store; the fleet writes the routing table, the runtime reads it and
    asks the provider for endpoint statuses. Nothing is bound after construction.
    """

    store: Store
    reconciler: Reconciler
    provider: SageMakerProvider
    runtime: Runtime
    # The services beside SageMaker (ECR, Logs, STS, IAM), and S3, which reads its own bodies.
    aws: AwsServices | None = None
    s3: RawHandler | None = None
    capture: CaptureWriter | None = None  # writes data capture straight into the local S3
    capture_objects: LocalObjects | None = None
    async_inference: AsyncInference | None = None

    @classmethod
    def build(cls, settings: EmulatorSettings) -> Components:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.database)
        router = Router()
        reports = FleetReports(store)
        reconciler = Reconciler(
            settings.state_dir,
            router,
            reports,
            availability=reports,
            s3_endpoint_url=settings.s3_endpoint_url,
            model_data_roots=settings.model_data_roots,
            pull=settings.pull,
        )
        objects = LocalObjects(settings.state_dir)  # the local S3, in-process: jobs' and captures' objects
        transforms = TransformRunner(store, reconciler, objects, time.time)
        provider = SageMakerProvider(store, reconciler, transforms=transforms)
        s3 = S3App(S3Service(settings.state_dir))
        capture = CaptureWriter(objects.write, interval=settings.capture_interval)
        runtime = Runtime(router, provider.endpoint_status, reconciler.report_unreachable, capture=capture)
        queued = AsyncInference(settings.state_dir, runtime, provider.async_config)
        aws = AwsServices.build(settings)
        return cls(store, reconciler, provider, runtime, aws, s3, capture, objects, queued)

    def start(self) -> None:
        self.reconciler.start()
        if self.capture is not None:
            self.capture.start()
        self.provider.resume()

    async def close(self) -> None:
        if self.async_inference is not None:
            await self.async_inference.aclose()
        await self.runtime.aclose()
        if self.capture is not None:  # after the runtime: every answered request's record is queued
            self.capture.close()
        if self.capture_objects is not None:
            self.capture_objects.close()
        self.reconciler.close()
        self.store.close()
        if self.aws is not None:
            self.aws.close()
        if isinstance(self.s3, S3App):
            self.s3.close()

    def holdings(self) -> dict[str, Any]:
        """What each service holds (counts), for ``dockyard emulator status``."""
        sagemaker = {
            label: len(self.store.everywhere(kind))
            for label, kind in (
                ("endpoints", Endpoint),
                ("endpoint_configs", EndpointConfig),
                ("models", Model),
                ("model_package_groups", ModelPackageGroup),
                ("model_packages", ModelPackage),
                ("transform_jobs", TransformJob),
            )
        }
        if self.async_inference is not None:
            sagemaker["queued_async_requests"] = self.async_inference.queue.count()
        held: dict[str, Any] = {"sagemaker": sagemaker}
        if self.aws is not None:
            held.update(self.aws.status())
        counts = getattr(self.s3, "status", None)
        if callable(counts):
            held["s3"] = counts()
        if self.capture is not None:  # records written, dropped (queue full), failed (S3 write)
            held["data_capture"] = self.capture.status()
        held["shadow_requests"] = self.runtime.mirror.status()
        return held
