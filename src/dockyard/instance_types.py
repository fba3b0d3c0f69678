"""SageMaker hosting instance types: their vCPUs, memory and GPUs, and the container limits they imply.

The names are those SageMaker accepts for endpoints (botocore's ``ProductionVariantInstanceType``);
the figures are the EC2 instance's own (AWS's instance-type pages). ``ml.t3.*`` is deliberately
absent: SageMaker offers it for notebooks, training and processing, not for endpoints. Inferentia
chips (``ml.inf2.*``) are not GPUs and are not counted in ``gpus``.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from dockyard.errors import UsageError

GIB = 1024**3
NANO = 1_000_000_000


@dataclass(frozen=True, slots=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: int
    gpus: int = 0


def _sized(family: str, gib_per_vcpu: int, sizes: str) -> list[InstanceType]:
    """A family whose sizes follow EC2's rule: ``large`` is 2 vCPUs, ``Nxlarge`` is 4·N vCPUs."""
    types = []
    for size in sizes.split():
        vcpus = 2 if size == "large" else 4 * int(size.removesuffix("xlarge") or 1)
        types.append(InstanceType(f"ml.{family}.{size}", vcpus, vcpus * gib_per_vcpu))
    return types


_GENERATIONS_5 = "large xlarge 2xlarge 4xlarge 12xlarge 24xlarge"
_GENERATIONS_6 = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge"
_GENERATIONS_7 = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge"

_ALL: list[InstanceType] = [
    # Burstable: memory does not follow one ratio.
    InstanceType("ml.t2.medium", 2, 4),
    InstanceType("ml.t2.large", 2, 8),
    InstanceType("ml.t2.xlarge", 4, 16),
    InstanceType("ml.t2.2xlarge", 8, 32),
    # General purpose: 4 GiB per vCPU.
    *_sized("m5", 4, _GENERATIONS_5),
    *_sized("m5d", 4, _GENERATIONS_5),
    *_sized("m6i", 4, _GENERATIONS_6),
    *_sized("m7i", 4, _GENERATIONS_7),
    # Compute optimized: 2 GiB per vCPU.
    *_sized("c5", 2, "large xlarge 2xlarge 4xlarge 9xlarge 18xlarge"),
    *_sized("c6i", 2, _GENERATIONS_6),
    *_sized("c7i", 2, _GENERATIONS_7),
    # Memory optimized: 8 GiB per vCPU.
    *_sized("r5", 8, _GENERATIONS_5),
    *_sized("r6i", 8, _GENERATIONS_6),
    # NVIDIA T4.
    InstanceType("ml.g4dn.xlarge", 4, 16, 1),
    InstanceType("ml.g4dn.2xlarge", 8, 32, 1),
    InstanceType("ml.g4dn.4xlarge", 16, 64, 1),
    InstanceType("ml.g4dn.8xlarge", 32, 128, 1),
    InstanceType("ml.g4dn.12xlarge", 48, 192, 4),
    InstanceType("ml.g4dn.16xlarge", 64, 256, 1),
    # NVIDIA A10G (g5) and L4 (g6): the same shapes.
    *(
        InstanceType(f"ml.{family}.{size}", vcpus, memory, gpus)
        for family in ("g5", "g6")
        for size, vcpus, memory, gpus in (
            ("xlarge", 4, 16, 1),
            ("2xlarge", 8, 32, 1),
            ("4xlarge", 16, 64, 1),
            ("8xlarge", 32, 128, 1),
            ("12xlarge", 48, 192, 4),
            ("16xlarge", 64, 256, 1),
            ("24xlarge", 96, 384, 4),
            ("48xlarge", 192, 768, 8),
        )
    ),
    # NVIDIA V100 and A100.
    InstanceType("ml.p3.2xlarge", 8, 61, 1),
    InstanceType("ml.p3.8xlarge", 32, 244, 4),
    InstanceType("ml.p3.16xlarge", 64, 488, 8),
    InstanceType("ml.p4d.24xlarge", 96, 1152, 8),
    # AWS Inferentia2 (1, 1, 6 and 12 chips).
    InstanceType("ml.inf2.xlarge", 4, 16),
    InstanceType("ml.inf2.8xlarge", 32, 128),
    InstanceType("ml.inf2.24xlarge", 96, 384),
    InstanceType("ml.inf2.48xlarge", 192, 768),
]

INSTANCE_TYPES: dict[str, InstanceType] = {item.name: item for item in _ALL}


def instance_type(name: str) -> InstanceType:
    """The instance type called ``name``; a UsageError suggesting the closest names when unknown."""
    found = INSTANCE_TYPES.get(name)
    if found is not None:
        return found
    raise UsageError(f"{name!r} is not a SageMaker hosting instance type; {_hint(name)}")


def _hint(name: str) -> str:
    normalized = name.strip().lower()
    if not normalized.startswith("ml."):
        normalized = f"ml.{normalized}"
    if normalized in INSTANCE_TYPES:
        return f"did you mean {normalized}?"
    if normalized.startswith("ml.t3."):
        return "ml.t3 serves notebooks and training, not endpoints (the smallest endpoint types are ml.t2.*)"
    close = difflib.get_close_matches(normalized, INSTANCE_TYPES, n=3, cutoff=0.6)
    if close:
        listed = f"{', '.join(close[:-1])} or {close[-1]}" if len(close) > 1 else close[0]
        return f"did you mean {listed}?"
    families = sorted({item.name.rsplit(".", 1)[0] for item in _ALL})
    return f"the known families are {', '.join(f'{family}.*' for family in families)}"


def container_limits(name: str, host_cpus: int | None = None) -> tuple[int, int]:
    """``(nano_cpus, mem_bytes)`` for ``docker run``, so that a container gets what the instance has.

    The engine refuses more CPUs than it has, so the CPU limit is capped at ``host_cpus`` (the
    engine's ``NCPU``; by default this machine's count); compare with ``instance_type(name).vcpus``
    to tell the user. Memory is not capped: a limit above the host's memory is accepted.
    """
    spec = instance_type(name)
    available = host_cpus if host_cpus is not None else (os.cpu_count() or 1)
    return min(spec.vcpus, available) * NANO, spec.memory_gib * GIB
