"""``ServerlessConfig`` on a production variant: what SageMaker accepts, and how a container of such a
variant is sized (the memory size as its memory cap, CPU in proportion)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.emulator.errors import ValidationException
from dockyard.emulator.serverless import MEMORY_SIZES, vcpus_for

SERVERLESS_INSTANCE_TYPE = "ml.m5.large"  # recorded for a serverless variant's containers; limits differ
MAX_CONCURRENCY = 200


def check_serverless_variant(variant: Mapping[str, Any]) -> None:
    name = variant["VariantName"]
    config = variant["ServerlessConfig"]
    if variant.get("InstanceType") or variant.get("InitialInstanceCount"):
        raise ValidationException(
            f'Production variant "{name}" has a ServerlessConfig: it must not specify InstanceType '
            "or InitialInstanceCount."
        )
    memory = config.get("MemorySizeInMB")
    if memory not in MEMORY_SIZES:
        sizes = ", ".join(str(size) for size in MEMORY_SIZES)
        raise ValidationException(
            f'ServerlessConfig.MemorySizeInMB of variant "{name}" is {memory}; it must be one of {sizes}.'
        )
    concurrency = config.get("MaxConcurrency")
    if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValidationException(
            f'ServerlessConfig.MaxConcurrency of variant "{name}" is {concurrency}; '
            f"it must be between 1 and {MAX_CONCURRENCY}."
        )
    provisioned = config.get("ProvisionedConcurrency")
    if provisioned is not None and not 1 <= provisioned <= concurrency:
        raise ValidationException(
            f'ServerlessConfig.ProvisionedConcurrency of variant "{name}" is {provisioned}; '
            f"it must be between 1 and MaxConcurrency ({concurrency})."
        )


def serverless_run_options(serverless: Mapping[str, int] | None) -> dict[str, Any]:
    """``RunSpec`` members sizing a serverless variant's container (none for other variants)."""
    if not serverless:
        return {}
    memory = int(serverless["MemorySizeInMB"])
    return {"memory_mb": memory, "cpus": vcpus_for(memory)}
