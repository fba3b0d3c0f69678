"""The local SageMaker's control plane: dispatches each operation to the module of its resource.

Parameters and results are botocore-shaped dicts (the protocol layer, ``aws/``, parses, validates and
serializes them); the provider holds the business rules and nothing of HTTP. It asks the fleet for
deployments and tells the runtime an endpoint's status; the fleet's reports go to
:class:`~dockyard.emulator.sagemaker.fleet_reports.FleetReports`, not back here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dockyard.emulator.context import Caller, ResourceKey
from dockyard.emulator.errors import UnknownOperation
from dockyard.emulator.sagemaker.deployment import Fleet
from dockyard.emulator.sagemaker.domain import Endpoint, EndpointConfig
from dockyard.emulator.sagemaker.endpoints import EndpointOps
from dockyard.emulator.sagemaker.member_check import refuse_unsupported
from dockyard.emulator.sagemaker.models import ModelOps
from dockyard.emulator.sagemaker.registry import RegistryOps
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.sagemaker.tags import TagOps
from dockyard.emulator.sagemaker.transform_jobs import TransformJobOps
from dockyard.emulator.sagemaker.transform_runner import TransformRunner

Operation = Callable[[Caller, dict[str, Any]], dict[str, Any]]


class SageMakerProvider:
    def __init__(
        self,
        store: Store,
        fleet: Fleet,
        clock: Callable[[], float] = time.time,
        transforms: TransformRunner | None = None,
    ) -> None:
        self.store = store
        self.transforms = transforms
        self.registry = RegistryOps(store, clock)
        self.models = ModelOps(store, self.registry, clock)
        self.endpoints = EndpointOps(store, fleet, self.models, clock)
        self.tags = TagOps(store)
        jobs = TransformJobOps(store, self.models, transforms, clock)
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
            "CreateTransformJob": jobs.create_transform_job,
            "DescribeTransformJob": jobs.describe_transform_job,
            "ListTransformJobs": jobs.list_transform_jobs,
            "StopTransformJob": jobs.stop_transform_job,
        }

    def handle(self, ctx: Caller, operation: str, params: dict[str, Any]) -> dict[str, Any]:
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
        if self.transforms is not None:
            self.transforms.resume()

    def endpoint_status(self, endpoint: ResourceKey) -> str | None:
        """For the runtime: None when there is no such endpoint. InvokeEndpoint must match the name's
        case, unlike the control plane."""
        record = self.store.get(Endpoint, endpoint.account, endpoint.region, endpoint.name)
        return None if record is None or record.name != endpoint.name else record.status

    def async_config(self, endpoint: ResourceKey) -> dict[str, Any] | None:
        """For the runtime: the AsyncInferenceConfig of the config the endpoint serves, None when it has
        none (or there is no such endpoint)."""
        record = self.store.get(Endpoint, endpoint.account, endpoint.region, endpoint.name)
        if record is None or record.name != endpoint.name:
            return None
        config = self.store.get(EndpointConfig, endpoint.account, endpoint.region, record.config_name)
        found = config.definition.get("AsyncInferenceConfig") if config is not None else None
        return dict(found) if isinstance(found, dict) else None
