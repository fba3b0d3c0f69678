"""botocore's service models, the single source of every wire name, location and constraint."""

from __future__ import annotations

from functools import cache

from botocore.loaders import Loader
from botocore.model import ServiceModel


@cache
def loader() -> Loader:
    """botocore's own data loader (it caches what it has read), shared by every model lookup."""
    return Loader()


@cache
def service_model(name: str) -> ServiceModel:
    """The model botocore's own client uses for ``name`` ("sagemaker", "sagemaker-runtime"), loaded once."""
    return ServiceModel(loader().load_service_model(name, "service-2"), service_name=name)
