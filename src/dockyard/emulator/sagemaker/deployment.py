"""The contract between the control plane (provider, store) and the fleet (reconciler, containers).

The provider turns an endpoint and its endpoint config into a :class:`DeploymentSpec` and hands it to
the :class:`Fleet`; the fleet does all Docker work in the background and reports the outcome through
:class:`FleetEvents`, which the provider implements by recording states in its store. Neither side
reaches into the other: SQL stays in the store, Docker calls stay in the reconciler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dockyard.emulator.context import ResourceKey
from dockyard.emulator.route_table import CaptureSettings

DEFAULT_STARTUP_TIMEOUT = 600  # seconds; SageMaker's default ContainerStartupHealthCheckTimeoutInSeconds


@dataclass(frozen=True)
class ContainerSpec:
    """One container of a model (the emulator runs the first; inference pipelines are not supported)."""

    image: str
    model_data_url: str | None = None  # s3://bucket/key.tar.gz or file:///path (a local deviation)
    # ModelDataSource.S3DataSource: an uncompressed prefix (CompressionType None) or one .tar.gz (Gzip).
    model_data_prefix: str | None = None
    model_data_compressed: bool = True
    environment: Mapping[str, str] = field(default_factory=dict)
    network_isolation: bool = False  # CreateModel's EnableNetworkIsolation
    multi_model: bool = False  # Mode MultiModel: the model data URL is a prefix of model archives


@dataclass(frozen=True)
class VariantDeployment:
    """One production variant of a deployment: what its containers run, and how many take what share."""

    name: str
    model_name: str
    container: ContainerSpec
    instance_type: str
    instance_count: int
    weight: float = 1.0
    startup_timeout: int = DEFAULT_STARTUP_TIMEOUT
    shadow: bool = False  # a ShadowProductionVariant: gets a copy of its share of requests, answers no one
    # ServerlessConfig: no instances at deployment; a container on demand, capped at MemorySizeInMB.
    serverless: Mapping[str, int] | None = None
    # An inference pipeline: (ContainerHostname, variant) of every container in order, on the variant
    # of the first; the others are deployed as hidden variants of their own (never chosen for traffic).
    pipeline: tuple[tuple[str, str], ...] = ()
    direct: bool = False  # InferenceExecutionConfig Mode Direct (else Serial)
    hidden: bool = False


@dataclass(frozen=True)
class DeploymentSpec:
    """What an endpoint should run: the variants of one endpoint config."""

    endpoint_name: str
    endpoint_arn: str
    config_name: str
    variants: tuple[VariantDeployment, ...]
    account: str
    region: str
    capture: CaptureSettings | None = None  # DataCaptureConfig with EnableCapture on

    @property
    def endpoint(self) -> ResourceKey:
        return ResourceKey(self.account, self.region, self.endpoint_name)


@dataclass(frozen=True)
class InstanceView:
    instance_id: str  # the container's name
    url: str  # http://127.0.0.1:<port>
    healthy: bool


@dataclass(frozen=True)
class VariantView:
    """A variant as it runs now (for DescribeEndpoint)."""

    name: str
    current_weight: float
    current_instance_count: int
    desired_instance_count: int
    image: str
    resolved_image: str  # image@sha256:... when known, else the image id
    status: str  # VariantStatus: Creating | Updating | Deleting | ActivatingTraffic | Baking
    instances: tuple[InstanceView, ...] = ()


class FleetEvents(Protocol):
    """What the fleet reports; called from the fleet's worker threads."""

    def deployment_succeeded(self, spec: DeploymentSpec) -> None:
        """``spec`` now serves all traffic (after Create, Update, or UpdateEndpointWeightsAndCapacities)."""

    def deployment_failed(self, spec: DeploymentSpec, reason: str) -> None:
        """``spec`` could not be brought up; traffic stays on the previous deployment, if any."""

    def endpoint_removed(self, endpoint: ResourceKey) -> None:
        """Every container of ``endpoint`` is stopped and removed."""


class Fleet(Protocol):
    """What the provider asks of the fleet. Every method returns at once; the work is done in the
    background and reported through :class:`FleetEvents`."""

    def deploy(self, spec: DeploymentSpec) -> None:
        """Make ``spec`` the endpoint's deployment: create it, or replace the running one blue/green
        (only weights or counts changed: in place). Containers left by an earlier emulator process
        for the same spec are adopted, not restarted."""

    def remove(self, endpoint: ResourceKey) -> None:
        """Stop and remove the endpoint's containers."""

    def view(self, endpoint: ResourceKey) -> tuple[VariantView, ...]:
        """The variants currently serving ``endpoint`` (empty when nothing runs)."""
