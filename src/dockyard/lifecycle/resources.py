"""``dockyard endpoints|models|configs|packages list|describe|delete``: SageMaker's resources, by kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from dockyard.errors import DockyardError, UsageError
from dockyard.lifecycle.calls import Aws, Call, WaitError
from dockyard.lifecycle.register import package_arn
from dockyard.lifecycle.target import TargetLike, resolve_target

Kind = Literal["endpoints", "models", "configs", "packages"]


@dataclass(frozen=True)
class _Api:
    list_method: str
    list_key: str
    name_key: str  # in summaries, and the describe/delete parameter
    describe_method: str
    delete_method: str
    columns: tuple[str, ...]  # summary fields shown in a table
    status_key: str | None = None


KINDS: dict[str, _Api] = {
    "endpoints": _Api(
        "list_endpoints",
        "Endpoints",
        "EndpointName",
        "describe_endpoint",
        "delete_endpoint",
        ("EndpointName", "EndpointStatus", "CreationTime", "LastModifiedTime"),
        "EndpointStatus",
    ),
    "models": _Api(
        "list_models", "Models", "ModelName", "describe_model", "delete_model", ("ModelName", "CreationTime")
    ),
    "configs": _Api(
        "list_endpoint_configs",
        "EndpointConfigs",
        "EndpointConfigName",
        "describe_endpoint_config",
        "delete_endpoint_config",
        ("EndpointConfigName", "CreationTime"),
    ),
    # Groups when no group is named; with one, its versions (see _PACKAGE_VERSIONS).
    "packages": _Api(
        "list_model_package_groups",
        "ModelPackageGroupSummaryList",
        "ModelPackageGroupName",
        "describe_model_package",
        "delete_model_package",
        ("ModelPackageGroupName", "ModelPackageGroupStatus", "CreationTime"),
        "ModelPackageGroupStatus",
    ),
}
_PACKAGE_VERSIONS = _Api(
    "list_model_packages",
    "ModelPackageSummaryList",
    "ModelPackageArn",
    "describe_model_package",
    "delete_model_package",
    (
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelApprovalStatus",
        "ModelPackageStatus",
        "CreationTime",
    ),
    "ModelPackageStatus",
)


@dataclass(frozen=True)
class Listing:
    kind: str
    columns: tuple[str, ...]
    items: list[dict[str, Any]]  # the summaries as the API returns them (times as ISO 8601)


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    description: dict[str, Any]


@dataclass(frozen=True)
class Deletion:
    kind: str
    name: str
    calls: list[Call] = field(default_factory=list)


def _kind(kind: str) -> _Api:
    if kind not in KINDS:
        raise UsageError(f"unknown resource kind {kind!r}; expected one of {', '.join(KINDS)}")
    return KINDS[kind]


def jsonable(value: Any) -> Any:
    """An API answer with its datetimes as ISO 8601 text and without ResponseMetadata."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value


def list_resources(
    kind: str,
    *,
    name_contains: str | None = None,
    group: str | None = None,
    target: TargetLike = None,
) -> Listing:
    """Every resource of ``kind`` (newest first); ``group`` lists a model package group's versions."""
    api = _kind(kind)
    params: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending"}
    if group is not None:
        if kind != "packages":
            raise UsageError("--group applies to packages only")
        api = _PACKAGE_VERSIONS
        params["ModelPackageGroupName"] = group
    if name_contains:
        params["NameContains"] = name_contains
    aws = Aws(resolve_target(target))
    items = [
        jsonable(item)
        for page in aws.pages("sagemaker", api.list_method, **params)
        for item in page.get(api.list_key, [])
    ]
    return Listing(kind, api.columns, items)


def describe_resource(
    kind: str,
    name: str,
    *,
    target: TargetLike = None,
) -> Resource:
    """SageMaker's description of one resource; a package is named by ARN or GROUP/VERSION."""
    api = _kind(kind)
    aws = Aws(resolve_target(target))
    key = api.name_key
    if kind == "packages":
        name, key = package_arn(aws, name), "ModelPackageName"
    return Resource(kind, name, jsonable(aws.call("sagemaker", api.describe_method, **{key: name})))


def delete_resource(
    kind: str,
    name: str,
    *,
    wait: bool = False,
    timeout: float = 600,
    target: TargetLike = None,
) -> Deletion:
    """Delete one resource; ``wait`` (endpoints) returns once it is gone and its containers stopped."""
    api = _kind(kind)
    aws = Aws(resolve_target(target))
    key = api.name_key
    if kind == "packages":
        name, key = package_arn(aws, name), "ModelPackageName"
    aws.call("sagemaker", api.delete_method, **{key: name})
    if wait and kind == "endpoints":
        delay = 0.5 if aws.target.is_local else 10.0
        try:
            aws.wait("sagemaker", "endpoint_deleted", delay=delay, timeout=timeout, EndpointName=name)
        except WaitError as exc:
            if exc.timed_out:
                raise DockyardError(
                    f"the endpoint {name} is still being deleted after {timeout:g} s"
                ) from None
            status = exc.last_response.get("EndpointStatus", "in an unexpected state")
            reason = exc.last_response.get("FailureReason")
            raise DockyardError(
                f"the endpoint {name} did not go away: it is {status}" + (f" ({reason})" if reason else "")
            ) from None
    return Deletion(kind, name, list(aws.calls))
