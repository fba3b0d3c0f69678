"""The fleet's side of multi-model endpoints (``Mode: MultiModel``).

A multi-model variant's containers start with no model: SageMaker sets ``SAGEMAKER_MULTI_MODEL=true``
and mounts ``/opt/ml/models``; models are loaded by the runtime as invocations name them. Here: the
run options of such a container (the environment and the read-only mount of the variant's models
directory on the host, into which the runtime stages each model), and the routing table's entry that
tells the runtime where a variant's TargetModels come from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.emulator.route_table import EndpointRoute, VariantRoute
from dockyard.emulator.sagemaker.deployment import DeploymentSpec, VariantDeployment
from dockyard.emulator.sagemaker.model_data import ModelDataCache
from dockyard.emulator.target_models import (
    CONTAINER_MODELS_DIR,
    DEFAULT_MAX_LOADED,
    MAX_LOADED_ENV,
    ModelSource,
)

if TYPE_CHECKING:
    from dockyard.emulator.sagemaker.instances import FleetInstance


def models_dir(state_dir: Path, digest: str) -> Path:
    """The host directory mounted at /opt/ml/models in every container of the variant ``digest``."""
    return state_dir / "multi-model" / digest


def run_options(state_dir: Path, variant: VariantDeployment, digest: str) -> dict[str, Any]:
    """``RunSpec`` members for a container of ``variant``: its environment, and the models mount."""
    environment = dict(variant.container.environment)
    if not variant.container.multi_model:
        return {"environment": environment}
    host = models_dir(state_dir, digest)
    host.mkdir(parents=True, exist_ok=True)
    environment.setdefault("SAGEMAKER_MULTI_MODEL", "true")
    return {"environment": environment, "mounts": {str(host): CONTAINER_MODELS_DIR}}


def max_loaded(environ: Mapping[str, str] | None = None) -> int:
    raw = (os.environ if environ is None else environ).get(MAX_LOADED_ENV, "")
    try:
        value = int(raw) if raw.strip() else DEFAULT_MAX_LOADED
    except ValueError:
        return DEFAULT_MAX_LOADED
    return max(1, value)


def route(
    spec: DeploymentSpec,
    instances: Mapping[str, list[FleetInstance]],
    state_dir: Path,
    model_data: ModelDataCache,
    digest_of: Any,
) -> EndpointRoute:
    """The endpoint's routing entry: each variant's instances, and a multi-model variant's source."""
    variants = []
    for variant in spec.variants:
        source = None
        container = variant.container
        if container.multi_model and container.model_data_prefix:
            prefix, region = container.model_data_prefix, spec.region

            def fetch(target: str, prefix: str = prefix, region: str = region) -> Path:
                return model_data.target_model(prefix, target, region)

            host = models_dir(state_dir, digest_of(spec.endpoint_name, variant))
            source = ModelSource(prefix, host, fetch, max_loaded())
        routes = tuple(instance.route for instance in instances.get(variant.name, []))
        variants.append(VariantRoute(variant.name, variant.weight, routes, source))
    return EndpointRoute(spec.endpoint, tuple(variants))
