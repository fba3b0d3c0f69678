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
from typing import Any

from dockyard.emulator.sagemaker.deployment import VariantDeployment
from dockyard.emulator.sagemaker.model_data import ModelDataCache
from dockyard.emulator.sagemaker.serverless_config import serverless_run_options
from dockyard.emulator.target_models import (
    CONTAINER_MODELS_DIR,
    DEFAULT_MAX_LOADED,
    MAX_LOADED_ENV,
    ModelSource,
)


def models_dir(state_dir: Path, digest: str) -> Path:
    """The host directory mounted at /opt/ml/models in every container of the variant ``digest``."""
    return state_dir / "multi-model" / digest


def run_options(state_dir: Path, variant: VariantDeployment, digest: str) -> dict[str, Any]:
    """``RunSpec`` members for a container of ``variant``: its environment, and the models mount."""
    environment = dict(variant.container.environment)
    sizing = serverless_run_options(variant.serverless)  # a serverless variant's memory and CPU
    if not variant.container.multi_model:
        return {"environment": environment, **sizing}
    host = models_dir(state_dir, digest)
    host.mkdir(parents=True, exist_ok=True)
    environment.setdefault("SAGEMAKER_MULTI_MODEL", "true")
    return {"environment": environment, "mounts": {str(host): CONTAINER_MODELS_DIR}, **sizing}


def max_loaded(environ: Mapping[str, str] | None = None) -> int:
    raw = (os.environ if environ is None else environ).get(MAX_LOADED_ENV, "")
    try:
        value = int(raw) if raw.strip() else DEFAULT_MAX_LOADED
    except ValueError:
        return DEFAULT_MAX_LOADED
    return max(1, value)


def model_source(
    state_dir: Path, model_data: ModelDataCache, variant: VariantDeployment, digest: str, region: str
) -> ModelSource | None:
    """Where the runtime gets a multi-model variant's TargetModels (None for other variants)."""
    container = variant.container
    if not container.multi_model or not container.model_data_prefix:
        return None
    prefix = container.model_data_prefix

    def fetch(target: str) -> Path:
        return model_data.target_model(prefix, target, region)

    return ModelSource(prefix, models_dir(state_dir, digest), fetch, max_loaded())
