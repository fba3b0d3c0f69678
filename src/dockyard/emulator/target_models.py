"""What the fleet hands the runtime for a multi-model variant (``Mode: MultiModel``).

Neutral ground, like :mod:`route_table`: the fleet builds a :class:`ModelSource` per variant (it knows
the model data cache and the directory it mounts into the variant's containers); the runtime, which loads
models into containers as ``InvokeEndpoint(TargetModel=...)`` asks for them, only calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CONTAINER_MODELS_DIR = "/opt/ml/models"  # where SageMaker puts a multi-model container's models
DEFAULT_MAX_LOADED = 8  # models one container holds before the least recently used is unloaded
MAX_LOADED_ENV = "DOCKYARD_MULTI_MODEL_MAX_LOADED"


class MissingTargetModel(Exception):
    """The TargetModel could not be fetched or unpacked; ``message`` is SageMaker's ValidationError."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, eq=False)
class ModelSource:
    """The models of one multi-model variant.

    ``fetch`` (blocking: run it in a thread) turns a TargetModel into its unpacked directory in the model
    data cache, or raises :class:`MissingTargetModel`; ``host_dir`` is mounted read-only at
    :data:`CONTAINER_MODELS_DIR` in every container of the variant, and models are staged into it.
    """

    prefix: str
    host_dir: Path
    fetch: Callable[[str], Path]
    max_loaded: int = DEFAULT_MAX_LOADED
