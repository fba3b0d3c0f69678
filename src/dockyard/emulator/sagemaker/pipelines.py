"""Inference pipelines: a model of 2 to 15 ``Containers`` (``InferenceExecutionConfig`` Serial or Direct).

Each container of a pipeline runs in a Docker container of its own. The fleet deploys the first as the
variant itself and each further one as a hidden variant (same instance type and count, never chosen for
traffic nor shown by Describe); the variant's route names them in order, and the runtime passes each
container's response to the next (Serial) or sends the request to the one ``TargetContainerHostname``
names (Direct).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker.deployment import ContainerSpec, VariantDeployment

MAX_CONTAINERS = 15


def pipeline_of(
    params: dict[str, Any], spec_of: Callable[[dict[str, Any]], ContainerSpec]
) -> tuple[tuple[ContainerSpec, ...], tuple[str, ...], bool]:
    """The containers of a CreateModel with several ``Containers``, their hostnames, and Direct or not."""
    containers: list[dict[str, Any]] = params["Containers"]
    if len(containers) > MAX_CONTAINERS:
        raise ValidationException(
            f"The model has {len(containers)} containers; an inference pipeline has at most {MAX_CONTAINERS}."
        )
    mode = (params.get("InferenceExecutionConfig") or {}).get("Mode", "Serial")
    hostnames = []
    for index, container in enumerate(containers, 1):
        if container.get("Mode") == "MultiModel":
            raise ValidationException("A container of an inference pipeline cannot be in MultiModel mode.")
        hostname = container.get("ContainerHostname")
        if mode == "Direct" and not hostname:
            raise ValidationException(
                f"Containers[{index - 1}] has no ContainerHostname: in Direct mode every container needs "
                "one, for TargetContainerHostname to name it."
            )
        hostnames.append(hostname or f"container_{index}")
    if len(set(hostnames)) != len(hostnames):
        raise ValidationException("The ContainerHostname of each container of a pipeline must be unique.")
    specs = tuple(spec_of(container) for container in containers)
    return specs, tuple(hostnames), mode == "Direct"


def expand(variant: VariantDeployment, model: Any) -> list[VariantDeployment]:
    """The variant of a pipeline model, then one hidden variant per further container."""
    if not model.pipeline:
        return [variant]
    names = [variant.name] + [f"{variant.name}.{host}" for host in model.hostnames[1:]]
    pipeline = tuple(zip(model.hostnames, names, strict=True))
    first = dataclasses.replace(variant, pipeline=pipeline, direct=model.direct)
    others = [
        dataclasses.replace(variant, name=name, container=container, weight=0.0, hidden=True)
        for name, container in zip(names[1:], model.pipeline, strict=True)
    ]
    return [first, *others]
