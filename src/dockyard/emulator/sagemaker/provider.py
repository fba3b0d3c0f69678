"""The local SageMaker's control plane: dispatches each operation to the module of its resource.

Parameters and results are botocore-shaped dicts (the protocol layer, ``aws/``, parses, validates and
serializes them); the provider holds the business rules and nothing of HTTP. It also receives the
fleet's reports (FleetEvents) and tells the runtime an endpoint's status.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from dockyard.emulator.context import RequestContext
from dockyard.emulator.errors import UnknownOperation
from dockyard.emulator.sagemaker.deployment import DeploymentSpec, Fleet
from dockyard.emulator.sagemaker.domain import Endpoint
from dockyard.emulator.sagemaker.endpoints import EndpointOps
from dockyard.emulator.sagemaker.models import ModelOps
from dockyard.emulator.sagemaker.registry import RegistryOps
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.sagemaker.support import refuse_unsupported
from dockyard.emulator.sagemaker.tags import TagOps

Operation = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]


class SageMakerProvider:
    """Implements :class:`~dockyard.emulator.sagemaker.deployment.FleetEvents`."""

    def __init__(self, store: Store, fleet: Fleet, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        lock = threading.RLock()  # read-check-write sequences of requests and fleet reports
        self.registry = RegistryOps(store, clock, lock)
        self.models = ModelOps(store, self.registry, clock)
        self.endpoints = EndpointOps(store, fleet, self.models, clock, lock)
        self.tags = TagOps(store)
        models, endpoints, registry, tags = self.models, self.endpoints, self.registry, self.tags
        self.operations: dict[str, Operation] = {
            "CreateModel": models.create_model,
            "DescribeModel": models.describe_model,
            "ListModels": models.list_models,
            "DeleteModel": models.delete_model,
            "CreateEndpointConfig": models.create_endpoint_config,
            "DescribeEndpointConfig": models.describe_endpoint_config,
            "ListEndpointConfigs": models.list_endpoint_configs,
            "DeleteEndpointConfig": models.delete_endpoint_config,
            "CreateEndpoint": endpoints.create_endpoint,
            "DescribeEndpoint": endpoints.describe_endpoint,
            "ListEndpoints": endpoints.list_endpoints,
            "UpdateEndpoint": endpoints.update_endpoint,
            "UpdateEndpointWeightsAndCapacities": endpoints.update_endpoint_weights_and_capacities,
            "DeleteEndpoint": endpoints.delete_endpoint,
            "CreateModelPackageGroup": registry.create_model_package_group,
            "DescribeModelPackageGroup": registry.describe_model_package_group,
            "ListModelPackageGroups": registry.list_model_package_groups,
            "DeleteModelPackageGroup": registry.delete_model_package_group,
            "CreateModelPackage": registry.create_model_package,
            "DescribeModelPackage": registry.describe_model_package,
            "ListModelPackages": registry.list_model_packages,
            "UpdateModelPackage": registry.update_model_package,
            "DeleteModelPackage": registry.delete_model_package,
            "AddTags": tags.add_tags,
            "ListTags": tags.list_tags,
            "DeleteTags": tags.delete_tags,
        }

    def handle(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.operations.get(operation)
        if handler is None:
            raise UnknownOperation(
                f"The operation {operation} is not supported by the local SageMaker (dockyard emulator); "
                f"use SageMaker itself (--target aws) for it. Supported: {', '.join(self.operations)}."
            )
        refuse_unsupported(operation, params)
        return handler(ctx, params)

    def resume(self) -> None:
        """At start: every stored endpoint is deployed again (the fleet adopts running containers)."""
        self.endpoints.resume()

    def endpoint_status(self, account: str, region: str, name: str) -> str | None:
        """For the runtime: None when there is no such endpoint. InvokeEndpoint must match the name's
        case, unlike the control plane."""
        endpoint = self.store.get(Endpoint, account, region, name)
        return None if endpoint is None or endpoint.name != name else endpoint.status

    # ---- FleetEvents -------------------------------------------------------------------------

    def deployment_succeeded(self, spec: DeploymentSpec) -> None:
        self.endpoints.deployment_succeeded(spec)

    def deployment_failed(self, spec: DeploymentSpec, reason: str) -> None:
        self.endpoints.deployment_failed(spec, reason)

    def endpoint_removed(self, endpoint_name: str) -> None:
        self.endpoints.endpoint_removed(endpoint_name)
