"""Domain records to the output shapes of botocore's SageMaker model: the only place they are spelled.

One function per output shape. Timestamps are epoch seconds (the protocol layer serializes them);
members that are None are dropped by the protocol layer, so they may be left in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dockyard.emulator.sagemaker.capture_config import capture_summary
from dockyard.emulator.sagemaker.deployment import DeploymentSpec, VariantView
from dockyard.emulator.sagemaker.domain import (
    UPDATING,
    Endpoint,
    EndpointConfig,
    Model,
    ModelPackage,
    ModelPackageGroup,
)

# VariantStatus values of ProductionVariantStatus; a variant steady in service has none.
_VARIANT_STATUSES = frozenset({"Creating", "Updating", "Deleting", "ActivatingTraffic", "Baking"})


def tag_list(tags: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags]


# ---- models and endpoint configs -----------------------------------------------------------------


def model_description(model: Model) -> dict[str, Any]:
    return {"ModelName": model.name, "ModelArn": model.arn, "CreationTime": model.created, **model.definition}


def model_summary(model: Model) -> dict[str, Any]:
    return {"ModelName": model.name, "ModelArn": model.arn, "CreationTime": model.created}


def endpoint_config_description(config: EndpointConfig) -> dict[str, Any]:
    return {
        "EndpointConfigName": config.name,
        "EndpointConfigArn": config.arn,
        "CreationTime": config.created,
        "ProductionVariants": list(config.variants),
        **config.definition,
    }


def endpoint_config_summary(config: EndpointConfig) -> dict[str, Any]:
    return {
        "EndpointConfigName": config.name,
        "EndpointConfigArn": config.arn,
        "CreationTime": config.created,
    }


# ---- endpoints -----------------------------------------------------------------------------------


def endpoint_summary(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "EndpointName": endpoint.name,
        "EndpointArn": endpoint.arn,
        "CreationTime": endpoint.created,
        "LastModifiedTime": endpoint.modified,
        "EndpointStatus": endpoint.status,
    }


def endpoint_description(endpoint: Endpoint, views: tuple[VariantView, ...]) -> dict[str, Any]:
    """DescribeEndpoint: the variants as they run now (``views``, from the fleet) against what the
    endpoint should run; while an UpdateEndpoint is in progress, the new config in
    PendingDeploymentSummary."""
    described: dict[str, Any] = {
        **endpoint_summary(endpoint),
        "EndpointConfigName": endpoint.config_name,
        "FailureReason": endpoint.failure_reason,
    }
    current = endpoint.serving or endpoint.pending
    # A weights/capacity change (no new config) is what the variants are heading to: their desired values.
    desired = (
        endpoint.pending if endpoint.pending is not None and endpoint.pending_config is None else current
    )
    if current is not None:
        running = {view.name: view for view in views}
        for member, shadow in (("ProductionVariants", False), ("ShadowProductionVariants", True)):
            names = [
                variant.name
                for variant in current.variants
                if variant.shadow == shadow and not variant.hidden
            ]
            if names or not shadow:
                described[member] = [
                    _variant_summary(endpoint, current, desired or current, name, running.get(name))
                    for name in names
                ]
        if current.capture is not None:
            described["DataCaptureConfig"] = capture_summary(current.capture)
    if endpoint.status == UPDATING and endpoint.pending is not None and endpoint.pending_config is not None:
        described["PendingDeploymentSummary"] = {
            "EndpointConfigName": endpoint.pending_config,
            "StartTime": endpoint.pending_since,
            "ProductionVariants": _pending(endpoint, endpoint.pending, shadow=False),
        }
        shadows = _pending(endpoint, endpoint.pending, shadow=True)
        if shadows:
            described["PendingDeploymentSummary"]["ShadowProductionVariants"] = shadows
    return described


def _pending(endpoint: Endpoint, pending: DeploymentSpec, *, shadow: bool) -> list[dict[str, Any]]:
    return [
        {
            "VariantName": variant.name,
            "DeployedImages": [{"SpecifiedImage": variant.container.image}],
            "DesiredWeight": variant.weight,
            "DesiredInstanceCount": variant.instance_count,
            "InstanceType": variant.instance_type,
            "VariantStatus": [{"Status": "Creating", "StartTime": endpoint.pending_since}],
        }
        for variant in pending.variants
        if variant.shadow == shadow and not variant.hidden
    ]


def _variant_summary(
    endpoint: Endpoint,
    current: DeploymentSpec,
    desired: DeploymentSpec,
    name: str,
    view: VariantView | None,
) -> dict[str, Any]:
    spec = next(variant for variant in current.variants if variant.name == name)
    target = next((variant for variant in desired.variants if variant.name == name), spec)
    image: dict[str, Any] = {"SpecifiedImage": spec.container.image}
    if view is not None and view.resolved_image:
        image["ResolvedImage"] = view.resolved_image
        image["ResolutionTime"] = endpoint.deployed_at
    summary: dict[str, Any] = {
        "VariantName": name,
        "DeployedImages": [image],
        "CurrentWeight": view.current_weight if view is not None else 0.0,
        "DesiredWeight": target.weight,
        "CurrentInstanceCount": view.current_instance_count if view is not None else 0,
        "DesiredInstanceCount": target.instance_count,
    }
    if spec.serverless:  # no instances to count: the serverless configuration instead
        del summary["CurrentInstanceCount"], summary["DesiredInstanceCount"]
        summary["CurrentServerlessConfig"] = dict(spec.serverless)
        summary["DesiredServerlessConfig"] = dict(target.serverless or spec.serverless)
    status = view.status if view is not None else ("Creating" if endpoint.serving is None else "")
    if status in _VARIANT_STATUSES:
        summary["VariantStatus"] = [{"Status": status, "StartTime": endpoint.pending_since}]
    else:
        summary["VariantStatus"] = []
    return summary


# ---- model registry ------------------------------------------------------------------------------


def model_package_group_description(group: ModelPackageGroup) -> dict[str, Any]:
    return {**model_package_group_summary(group), "CreatedBy": {}}


def model_package_group_summary(group: ModelPackageGroup) -> dict[str, Any]:
    return {
        "ModelPackageGroupName": group.name,
        "ModelPackageGroupArn": group.arn,
        "ModelPackageGroupDescription": group.description,
        "CreationTime": group.created,
        "ModelPackageGroupStatus": "Completed",
    }


def model_package_description(package: ModelPackage) -> dict[str, Any]:
    return {
        **package.definition,
        **model_package_summary(package),
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "LastModifiedTime": package.modified,
        "ApprovalDescription": package.approval_description,
    }


def model_package_summary(package: ModelPackage) -> dict[str, Any]:
    return {
        "ModelPackageName": package.package_name,
        "ModelPackageGroupName": package.group,
        "ModelPackageVersion": package.version,
        "ModelPackageArn": package.arn,
        "ModelPackageDescription": package.definition.get("ModelPackageDescription"),
        "CreationTime": package.created,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": package.approval_status,
    }
