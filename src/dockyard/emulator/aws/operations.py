"""The operations the local target implements; every other operation of the models is refused."""

from __future__ import annotations

IMPLEMENTED_CONTROL_OPERATIONS: tuple[str, ...] = (
    "CreateModel",
    "DescribeModel",
    "ListModels",
    "DeleteModel",
    "CreateEndpointConfig",
    "DescribeEndpointConfig",
    "ListEndpointConfigs",
    "DeleteEndpointConfig",
    "CreateEndpoint",
    "DescribeEndpoint",
    "ListEndpoints",
    "UpdateEndpoint",
    "UpdateEndpointWeightsAndCapacities",
    "DeleteEndpoint",
    "CreateModelPackageGroup",
    "DescribeModelPackageGroup",
    "ListModelPackageGroups",
    "DeleteModelPackageGroup",
    "CreateModelPackage",
    "DescribeModelPackage",
    "ListModelPackages",
    "UpdateModelPackage",
    "DeleteModelPackage",
    "AddTags",
    "ListTags",
    "DeleteTags",
)

IMPLEMENTED_RUNTIME_OPERATIONS: tuple[str, ...] = (
    "InvokeEndpoint",
    "InvokeEndpointWithResponseStream",
)
