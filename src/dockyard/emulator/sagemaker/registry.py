"""The model registry: model package groups and their numbered versions (model packages).

A versioned package is stored under "<group>/<version>" and its ARN ends in ``model-package/<group>/<n>``;
an unversioned one (ModelPackageName) under its own name. Only an Approved version may become a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ConflictException, ValidationException
from dockyard.emulator.sagemaker import converters
from dockyard.emulator.sagemaker.domain import ModelPackage, ModelPackageGroup
from dockyard.emulator.sagemaker.listing import Listing
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.sagemaker.tags import tags_of

Result = dict[str, Any]
APPROVED = "Approved"
DEFAULT_APPROVAL = "PendingManualApproval"
# CreateModelPackage members that DescribeModelPackage does not return, or that are kept typed.
_NOT_KEPT = ("ModelPackageName", "ModelPackageGroupName", "ModelApprovalStatus", "Tags", "ClientToken")

GROUPS: Listing[ModelPackageGroup] = Listing(
    sort_keys={
        "Name": lambda group: (group.name,),
        "CreationTime": lambda group: (group.created, group.name),
    },
    default_sort="CreationTime",
    name=lambda group: group.name,
    created=lambda group: group.created,
)
PACKAGES: Listing[ModelPackage] = Listing(
    sort_keys={
        "Name": lambda package: (package.package_name, package.version or 0),
        "CreationTime": lambda package: (package.created, package.package_name, package.version or 0),
    },
    default_sort="CreationTime",
    name=lambda package: package.package_name,
    created=lambda package: package.created,
)


def _bare_name(ref: str) -> str:
    """A name from a name or an ARN (``arn:...:model-package-group/<name>``)."""
    return ref.split(":", 5)[5].split("/", 1)[1] if ref.startswith("arn:") else ref


class RegistryOps:
    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock
        self.lock = store.changing  # version numbers are read, then written

    # ---- groups ------------------------------------------------------------------------------

    def create_model_package_group(self, ctx: Caller, params: dict[str, Any]) -> Result:
        name: str = params["ModelPackageGroupName"]
        arn = ctx.arn("model-package-group", name)
        group = ModelPackageGroup(
            ctx.account, ctx.region, name, arn, self.clock(), params.get("ModelPackageGroupDescription")
        )
        if not self.store.insert(group):
            raise ValidationException(f"Model Package Group already exists: {arn}")
        self.store.add_tags(arn, tags_of(params))
        return {"ModelPackageGroupArn": arn}

    def describe_model_package_group(self, ctx: Caller, params: dict[str, Any]) -> Result:
        return converters.model_package_group_description(self._group(ctx, params["ModelPackageGroupName"]))

    def list_model_package_groups(self, ctx: Caller, params: dict[str, Any]) -> Result:
        page = GROUPS.page(self.store.all(ModelPackageGroup, ctx.account, ctx.region), params)
        return {
            "ModelPackageGroupSummaryList": [converters.model_package_group_summary(g) for g in page.items],
            "NextToken": page.next_token,
        }

    def delete_model_package_group(self, ctx: Caller, params: dict[str, Any]) -> Result:
        with self.lock:
            group = self._group(ctx, params["ModelPackageGroupName"])
            versions = [
                p for p in self.store.all(ModelPackage, ctx.account, ctx.region) if p.group == group.name
            ]
            if versions:
                raise ConflictException(
                    f"Model Package Group {group.arn} cannot be deleted: it has {len(versions)} model "
                    "package version(s). Delete them first."
                )
            self.store.delete(ModelPackageGroup, group.account, group.region, group.name)
        return {}

    def _group(self, ctx: Caller, ref: str) -> ModelPackageGroup:
        name = _bare_name(ref)
        group = self.store.get(ModelPackageGroup, ctx.account, ctx.region, name)
        if group is None:
            raise ValidationException(
                f"ModelPackageGroup {ctx.arn('model-package-group', name)} does not exist."
            )
        return group

    # ---- packages ----------------------------------------------------------------------------

    def create_model_package(self, ctx: Caller, params: dict[str, Any]) -> Result:
        group_ref, own_name = params.get("ModelPackageGroupName"), params.get("ModelPackageName")
        if group_ref and own_name:
            raise ValidationException(
                "Both ModelPackageName and ModelPackageGroupName are provided in the input. "
                "Cannot determine which one to use."
            )
        if not group_ref and not own_name:
            raise ValidationException("Missing ARN.")
        definition = {key: value for key, value in params.items() if key not in _NOT_KEPT}
        approval = params.get("ModelApprovalStatus") or DEFAULT_APPROVAL
        now = self.clock()
        with self.lock:
            if group_ref:
                group = self._group(ctx, group_ref)
                version = group.last_version + 1
                name = f"{group.name}/{version}"
                package = ModelPackage(
                    ctx.account,
                    ctx.region,
                    name,
                    ctx.arn("model-package", name),
                    now,
                    now,
                    approval,
                    group=group.name,
                    version=version,
                    definition=definition,
                )
                self.store.put(replace(group, last_version=version))
                self.store.insert(package)
            else:
                assert own_name is not None
                arn = ctx.arn("model-package", own_name)
                package = ModelPackage(
                    ctx.account, ctx.region, own_name, arn, now, now, approval, definition=definition
                )
                if not self.store.insert(package):
                    raise ConflictException(f"Model Package already exists: {arn}")
        self.store.add_tags(package.arn, tags_of(params))
        return {"ModelPackageArn": package.arn}

    def describe_model_package(self, ctx: Caller, params: dict[str, Any]) -> Result:
        return converters.model_package_description(self.package(ctx, params["ModelPackageName"]))

    def list_model_packages(self, ctx: Caller, params: dict[str, Any]) -> Result:
        packages = self.store.all(ModelPackage, ctx.account, ctx.region)
        group_ref = params.get("ModelPackageGroupName")
        if group_ref:
            group = self._group(ctx, group_ref).name
            packages = [p for p in packages if p.group == group]
        status = params.get("ModelApprovalStatus")
        if status:
            packages = [p for p in packages if p.approval_status == status]
        kind = params.get("ModelPackageType") or "Both"
        if kind != "Both":
            packages = [p for p in packages if (p.group is not None) == (kind == "Versioned")]
        page = PACKAGES.page(packages, params)
        return {
            "ModelPackageSummaryList": [converters.model_package_summary(p) for p in page.items],
            "NextToken": page.next_token,
        }

    def update_model_package(self, ctx: Caller, params: dict[str, Any]) -> Result:
        with self.lock:
            package = self.package(ctx, params["ModelPackageArn"])
            definition = dict(package.definition)
            metadata = {
                key: value
                for key, value in {
                    **definition.get("CustomerMetadataProperties", {}),
                    **(params.get("CustomerMetadataProperties") or {}),
                }.items()
                if key not in (params.get("CustomerMetadataPropertiesToRemove") or [])
            }
            if metadata:
                definition["CustomerMetadataProperties"] = metadata
            else:
                definition.pop("CustomerMetadataProperties", None)
            for member in ("InferenceSpecification", "SourceUri", "ModelCard", "ModelLifeCycle"):
                if params.get(member) is not None:
                    definition[member] = params[member]
            if params.get("ModelPackageRegistrationType"):
                definition["ModelPackageRegistrationType"] = params["ModelPackageRegistrationType"]
            added = params.get("AdditionalInferenceSpecificationsToAdd")
            if added:
                definition["AdditionalInferenceSpecifications"] = [
                    *definition.get("AdditionalInferenceSpecifications", []),
                    *added,
                ]
            updated = replace(
                package,
                approval_status=params.get("ModelApprovalStatus") or package.approval_status,
                approval_description=params.get("ApprovalDescription", package.approval_description),
                modified=self.clock(),
                definition=definition,
            )
            self.store.put(updated)
        return {"ModelPackageArn": updated.arn}

    def delete_model_package(self, ctx: Caller, params: dict[str, Any]) -> Result:
        package = self.package(ctx, params["ModelPackageName"])
        self.store.delete(ModelPackage, package.account, package.region, package.name)
        return {}

    def package(self, ctx: Caller, ref: str) -> ModelPackage:
        """A package by name, "<group>/<version>", or ARN."""
        found = (
            self.store.by_arn(ModelPackage, ref.lower())
            if ref.startswith("arn:")
            else self.store.get(ModelPackage, ctx.account, ctx.region, ref)
        )
        if found is None or (found.account, found.region) != (ctx.account, ctx.region):
            arn = ref if ref.startswith("arn:") else ctx.arn("model-package", ref)
            raise ValidationException(f"ModelPackage {arn} does not exist.")
        return found

    def deployable_container(self, ctx: Caller, ref: str) -> dict[str, Any]:
        """The container definition a model made from package ``ref`` runs (CreateModel's
        ModelPackageName): the first of its InferenceSpecification."""
        package = self.package(ctx, ref)
        if package.approval_status != APPROVED:
            raise ValidationException(
                f"Model package {package.arn} has approval status {package.approval_status}: only an "
                f"{APPROVED} model package version can be used to create a model. Approve it with "
                "UpdateModelPackage(ModelApprovalStatus='Approved') first."
            )
        containers = (package.definition.get("InferenceSpecification") or {}).get("Containers") or []
        if not containers:
            raise ValidationException(
                f"Model package {package.arn} has no InferenceSpecification containers to create a "
                "model from."
            )
        first: dict[str, Any] = containers[0]
        return first
