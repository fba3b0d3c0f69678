"""What to start and the engine's facts about it: the run specification, the image, the limits.

The constants are SageMaker's hosting contract as :class:`~dockyard.containers.local_run.LocalContainer`
applies it (port 8080, ``/opt/ml/model``, the 30 s stop grace, the 2 s ping timeout).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dockyard.containers.engine import docker_errors
from dockyard.errors import ContainerError

if TYPE_CHECKING:
    from docker import DockerClient

CONTAINER_PORT = 8080
MODEL_DIR = "/opt/ml/model"
STOP_GRACE = 30.0  # SageMaker sends SIGKILL 30 s after SIGTERM
PING_TIMEOUT = 2.0  # SageMaker's per-ping timeout
POLL_INTERVAL = 0.25
LOG_TAIL = 10
KILL_WAIT = 15.0
LABEL_ROLE = "dockyard.role"
LABEL_IMAGE = "dockyard.image"  # the image a container was started from

ModelAccess = Literal["read-only", "layer"]


@dataclass(frozen=True)
class RunSpec:
    """What to start and how; ``model`` is a directory or a ``model.tar.gz`` (None: nothing mounted)."""

    image: str
    model: Path | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    instance_type: str = "ml.m5.large"
    host_port: int | None = None  # None: a free port chosen by the engine
    container_port: int = CONTAINER_PORT  # where the server listens (SAGEMAKER_BIND_TO_PORT moves it)
    name: str | None = None  # default: dockyard-run-<random>
    model_access: ModelAccess = "read-only"
    extra_ports: tuple[int, ...] = ()  # further container ports to publish (on free host ports)
    labels: Mapping[str, str] = field(default_factory=dict)  # added to dockyard's own (the emulator's)
    network: str | None = None  # a network to join instead of the engine's default bridge
    # False: no port is published (an ``internal`` network cannot publish one); the server is reached
    # at the container's address on ``network``, which the host routes to on a Linux engine.
    publish: bool = True
    mounts: Mapping[str, str] = field(default_factory=dict)  # host directory -> container path, read-only
    # Limits of their own instead of the instance type's (a serverless variant's memory size).
    memory_mb: int | None = None
    cpus: float | None = None


@dataclass(frozen=True)
class ImageInfo:
    reference: str
    id: str
    size: int
    architecture: str
    os: str
    labels: Mapping[str, str]
    entrypoint: list[str] | None
    cmd: list[str] | None


@dataclass(frozen=True)
class StopResult:
    seconds: float  # from SIGTERM to exit
    exit_code: int
    killed: bool  # still running when the grace period ended: SIGKILLed


@dataclass(frozen=True)
class Limits:
    nano_cpus: int
    memory: int
    instance_vcpus: int

    @property
    def capped(self) -> bool:
        return self.nano_cpus < self.instance_vcpus * 1_000_000_000


def inspect_image(client: DockerClient, image: str) -> ImageInfo:
    """The local image ``image``; a ContainerError saying how to get it when the engine lacks it."""
    try:
        with docker_errors(f"inspecting {image}"):
            found = client.images.get(image)
    except ContainerError:  # the only ContainerError images.get raises is "not found"
        raise ContainerError(
            f"image {image} is not in the local Docker engine; build it with `dockyard build` "
            f"or pull it (`docker pull {image}`)"
        ) from None
    attrs: dict[str, Any] = found.attrs
    config: dict[str, Any] = attrs.get("Config") or {}
    return ImageInfo(
        reference=image,
        id=str(attrs["Id"]),
        size=int(attrs.get("Size") or 0),
        architecture=str(attrs.get("Architecture") or "unknown"),
        os=str(attrs.get("Os") or "unknown"),
        labels=dict(config.get("Labels") or {}),
        entrypoint=config.get("Entrypoint"),
        cmd=config.get("Cmd"),
    )


def limits_for(client: DockerClient, instance_type: str) -> Limits:
    from dockyard.instance_types import container_limits
    from dockyard.instance_types import instance_type as lookup

    spec = lookup(instance_type)
    with docker_errors("reading the engine's CPU count"):
        host_cpus = int(client.info()["NCPU"])
    nano_cpus, memory = container_limits(instance_type, host_cpus)
    return Limits(nano_cpus, memory, spec.vcpus)


def limits_of_size(client: DockerClient, memory_mb: int, cpus: float) -> Limits:
    """Limits for a memory size and CPU share (capped at the engine's CPUs), not an instance type."""
    with docker_errors("reading the engine's CPU count"):
        host_cpus = int(client.info()["NCPU"])
    share = min(cpus, float(host_cpus))
    return Limits(int(share * 1_000_000_000), memory_mb * 1024 * 1024, max(1, math.ceil(cpus)))
