"""``dockyard register``: a project's model as a SageMaker model, or as a model-registry package version.

Models are named by content, ``<project>-<hash of image, model data, environment and role>``: running
register again with nothing changed finds the model and changes nothing (no upload, no push, no
CreateModel). A package version is reused when the group's latest version has the same container.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dockyard.archive import pack
from dockyard.config import ProjectConfig, load_config
from dockyard.errors import UsageError
from dockyard.lifecycle.artifacts import ImageRef, image_ref, model_data_url, publish_image, store_model_data
from dockyard.lifecycle.calls import Aws, Call
from dockyard.lifecycle.target import ROLE_ENV, Target, TargetLike, resolve_target

ApprovalStatus = Literal["Approved", "Rejected", "PendingManualApproval"]
APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
_NAME_LIMIT = 63  # SageMaker's EntityName


@dataclass(frozen=True)
class Registration:
    target: str
    image: str  # CreateModel's Image
    model_data_url: str
    model_name: str | None  # None for a package version
    package_arn: str | None
    created: bool  # False: an identical model (or version) was found and reused
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "image": self.image,
            "model_data_url": self.model_data_url,
            "model_name": self.model_name,
            "package_arn": self.package_arn,
            "created": self.created,
            "calls": [call.as_dict() for call in self.calls],
        }


def content_name(prefix: str, *parts: object) -> str:
    """``<prefix>-<10 hex>``, within SageMaker's 63 characters; the hash covers ``parts``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{prefix[: _NAME_LIMIT - 11].rstrip('-')}-{digest}"


def execution_role(target: Target) -> str | None:
    if target.role is None and not target.is_local:
        raise UsageError(
            "--target aws needs an execution role for SageMaker to pull the image and the model data: pass "
            f"--role arn:aws:iam::<account>:role/<name> or set {ROLE_ENV}"
        )
    return target.role


def register(
    project_dir: Path = Path("."),
    *,
    image: str | None = None,
    bucket: str | None = None,
    registry: str | None = None,
    package_group: str | None = None,
    approval_status: str = "PendingManualApproval",
    dry_run: bool = False,
    target: TargetLike = None,
    on_push: Callable[[Any], None] | None = None,
    on_upload: Callable[[int, int], None] | None = None,
) -> Registration:
    """Package the project's model, upload it, push the image, and CreateModel (or CreateModelPackage).
    ``on_push`` gets the image push's events (build.push.LayerProgress), ``on_upload`` the model upload's
    (bytes sent, total)."""
    config = load_config(project_dir.resolve())
    aws = Aws(resolve_target(target), dry_run=dry_run, on_push=on_push, on_upload=on_upload)
    return register_model(
        aws,
        config,
        image or default_image(config),
        bucket=bucket,
        registry=registry,
        package_group=package_group,
        approval_status=approval_status,
    )


def default_image(config: ProjectConfig) -> str:
    from dockyard.image.project import default_tag

    return default_tag(config)


def register_model(
    aws: Aws,
    config: ProjectConfig,
    image: str,
    *,
    bucket: str | None = None,
    registry: str | None = None,
    package_group: str | None = None,
    approval_status: str = "PendingManualApproval",
) -> Registration:
    if approval_status not in APPROVAL_STATUSES:
        raise UsageError(
            f"--approval-status must be one of {', '.join(APPROVAL_STATUSES)}, got {approval_status!r}"
        )
    # A package version carries no role: the model made from it later does.
    role = execution_role(aws.target) if package_group is None else None
    project = config.project.name.lower()
    ref = image_ref(aws, image, project)
    environment = dict(config.project.environment)
    with tempfile.TemporaryDirectory(prefix="dockyard-register-") as folder:
        archive = pack(config.path(config.project.model), Path(folder) / "model.tar.gz")
        data_url = model_data_url(aws, archive, project, bucket)
        container: dict[str, Any] = {"Image": ref.reference, "ModelDataUrl": data_url}
        if environment:
            container["Environment"] = environment

        def publish() -> None:
            store_model_data(aws, archive, data_url)
            publish_image(aws, ref, registry)

        if package_group is not None:
            return _register_package(aws, config, ref, container, package_group, approval_status, publish)
        name = content_name(project, ref.reference, data_url, environment, role)
        if aws.find("sagemaker", "describe_model", ModelName=name) is not None:
            return _result(aws, ref, data_url, name, None, created=False)
        publish()
    model = {"ModelName": name, "PrimaryContainer": container, **({"ExecutionRoleArn": role} if role else {})}
    aws.call("sagemaker", "create_model", **model, Tags=[{"Key": "created-by", "Value": "dockyard"}])
    return _result(aws, ref, data_url, name, None, created=True)


def _register_package(
    aws: Aws,
    config: ProjectConfig,
    ref: ImageRef,
    container: dict[str, Any],
    group: str,
    approval_status: str,
    publish: Any,
) -> Registration:
    data_url = container["ModelDataUrl"]
    if aws.find("sagemaker", "describe_model_package_group", ModelPackageGroupName=group) is None:
        aws.call(
            "sagemaker",
            "create_model_package_group",
            ModelPackageGroupName=group,
            ModelPackageGroupDescription=f"{config.project.name}, registered by dockyard",
        )
    else:
        latest = aws.call(
            "sagemaker",
            "list_model_packages",
            ModelPackageGroupName=group,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        ).get("ModelPackageSummaryList", [])
        if latest:
            arn = latest[0]["ModelPackageArn"]
            described = aws.call("sagemaker", "describe_model_package", ModelPackageName=arn)
            containers = described.get("InferenceSpecification", {}).get("Containers", [])
            if [_comparable(found) for found in containers] == [_comparable(container)]:
                return _result(aws, ref, data_url, None, arn, created=False)
    publish()
    content_type = config.project.sample_type or "application/json"
    answer = aws.call(
        "sagemaker",
        "create_model_package",
        ModelPackageGroupName=group,
        ModelPackageDescription=f"{config.project.name} {ref.short_id}",
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": [content_type],
            "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": [config.project.instance_type],
        },
        ModelApprovalStatus=approval_status,
    )
    return _result(
        aws, ref, data_url, None, answer.get("ModelPackageArn", f"<{group} new version>"), created=True
    )


def _comparable(container: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    return (container.get("Image", ""), container.get("ModelDataUrl", ""), container.get("Environment") or {})


def _result(
    aws: Aws, ref: ImageRef, data_url: str, name: str | None, package: str | None, *, created: bool
) -> Registration:
    return Registration(
        aws.target.name, ref.reference, data_url, name, package, created, list(aws.calls), list(aws.notes)
    )


# --- the model registry: approval, and models made from a version ---------------------------------


@dataclass(frozen=True)
class Approval:
    package_arn: str
    approval_status: str
    calls: list[Call] = field(default_factory=list)


def approve_package(
    package: str,
    *,
    approval_status: str = "Approved",
    description: str | None = None,
    dry_run: bool = False,
    target: TargetLike = None,
) -> Approval:
    """Set a package version's approval status; ``package`` is its ARN or ``GROUP/VERSION``."""
    if approval_status not in APPROVAL_STATUSES:
        raise UsageError(
            f"--approval-status must be one of {', '.join(APPROVAL_STATUSES)}, got {approval_status!r}"
        )
    aws = Aws(resolve_target(target), dry_run=dry_run)
    arn = package_arn(aws, package)
    extra = {"ApprovalDescription": description} if description else {}
    aws.call(
        "sagemaker", "update_model_package", ModelPackageArn=arn, ModelApprovalStatus=approval_status, **extra
    )
    return Approval(arn, approval_status, list(aws.calls))


def package_arn(aws: Aws, package: str) -> str:
    """The ARN of ``package``: an ARN already, or ``GROUP/VERSION`` looked up in the group."""
    if package.startswith("arn:"):
        return package
    group, _, version = package.rpartition("/")
    if not group or not version.isdigit():
        raise UsageError(f"{package!r} is neither a model package ARN nor GROUP/VERSION (e.g. iris/3)")
    for page in aws.pages("sagemaker", "list_model_packages", ModelPackageGroupName=group):
        for summary in page.get("ModelPackageSummaryList", []):
            if summary.get("ModelPackageVersion") == int(version):
                return str(summary["ModelPackageArn"])
    raise UsageError(f"the model package group {group} has no version {version}")
