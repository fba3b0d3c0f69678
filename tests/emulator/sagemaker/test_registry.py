"""The model registry: groups, numbered versions, approval, and models made from Approved versions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.emulator.errors import ConflictException, ValidationException
from dockyard.emulator.sagemaker.deployment import ContainerSpec
from dockyard.emulator.sagemaker.domain import Model
from tests.emulator.sagemaker.control_plane import CTX, IMAGE, PREFIX, ControlPlane

GROUP_ARN = f"{PREFIX}:model-package-group/churn"
SPEC = {
    "Containers": [
        {
            "Image": IMAGE,
            "ModelDataUrl": "s3://dy-cp/churn/model.tar.gz",
            "Environment": {"A": "package", "B": "package"},
        }
    ],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["application/json"],
}


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path / "state.db")
    plane.call("CreateModelPackageGroup", ModelPackageGroupName="churn", ModelPackageGroupDescription="d")
    yield plane
    plane.store.close()


def register(cp: ControlPlane, **params: Any) -> str:
    arn: str = cp.call(
        "CreateModelPackage", ModelPackageGroupName="churn", InferenceSpecification=SPEC, **params
    )["ModelPackageArn"]
    return arn


def test_groups(cp: ControlPlane) -> None:
    described = cp.call("DescribeModelPackageGroup", ModelPackageGroupName="churn")
    assert described == {
        "ModelPackageGroupName": "churn",
        "ModelPackageGroupArn": GROUP_ARN,
        "ModelPackageGroupDescription": "d",
        "CreationTime": described["CreationTime"],
        "ModelPackageGroupStatus": "Completed",
        "CreatedBy": {},
    }
    assert cp.call("DescribeModelPackageGroup", ModelPackageGroupName=GROUP_ARN) == described  # by ARN too
    exists = cp.error("CreateModelPackageGroup", ModelPackageGroupName="churn")
    assert isinstance(exists, ValidationException)
    assert exists.message == f"Model Package Group already exists: {GROUP_ARN}"
    summaries = cp.call("ListModelPackageGroups")["ModelPackageGroupSummaryList"]
    assert [s["ModelPackageGroupName"] for s in summaries] == ["churn"]
    cp.call("DeleteModelPackageGroup", ModelPackageGroupName="churn")
    for operation in ("DescribeModelPackageGroup", "DeleteModelPackageGroup"):
        missing = cp.error(operation, ModelPackageGroupName="churn")
        assert isinstance(missing, ValidationException)
        assert missing.message == f"ModelPackageGroup {GROUP_ARN} does not exist."


def test_versions_are_numbered_and_never_reused(cp: ControlPlane) -> None:
    first = register(cp, ModelPackageDescription="first", Tags=[{"Key": "stage", "Value": "dev"}])
    second = register(cp)
    assert (first, second) == (f"{PREFIX}:model-package/churn/1", f"{PREFIX}:model-package/churn/2")
    described = cp.call("DescribeModelPackage", ModelPackageName=first)
    assert described["ModelPackageName"] == "churn"
    assert described["ModelPackageGroupName"] == "churn"
    assert described["ModelPackageVersion"] == 1
    assert described["ModelPackageDescription"] == "first"
    assert described["ModelApprovalStatus"] == "PendingManualApproval"  # the default
    assert described["ModelPackageStatus"] == "Completed"
    assert described["InferenceSpecification"] == SPEC
    assert cp.call("DescribeModelPackage", ModelPackageName="churn/2")["ModelPackageArn"] == second
    assert cp.call("ListTags", ResourceArn=first)["Tags"] == [{"Key": "stage", "Value": "dev"}]

    cp.call("DeleteModelPackage", ModelPackageName=second)
    assert register(cp).endswith("/churn/3")
    missing = cp.error("DescribeModelPackage", ModelPackageName=second)
    assert isinstance(missing, ValidationException)
    assert missing.message == f"ModelPackage {second} does not exist."
    by_name = cp.error("DeleteModelPackage", ModelPackageName="churn/2")
    assert by_name.message == f"ModelPackage {second} does not exist."


def test_a_group_with_versions_cannot_be_deleted(cp: ControlPlane) -> None:
    version = register(cp)
    refused = cp.error("DeleteModelPackageGroup", ModelPackageGroupName="churn")
    assert isinstance(refused, ConflictException)
    assert refused.message == (
        f"Model Package Group {GROUP_ARN} cannot be deleted: it has 1 model package version(s). "
        "Delete them first."
    )
    cp.call("DeleteModelPackage", ModelPackageName=version)
    cp.call("DeleteModelPackageGroup", ModelPackageGroupName="churn")


def test_create_package_refusals(cp: ControlPlane) -> None:
    both = cp.error("CreateModelPackage", ModelPackageGroupName="churn", ModelPackageName="x")
    assert both.message == (
        "Both ModelPackageName and ModelPackageGroupName are provided in the input. "
        "Cannot determine which one to use."
    )
    assert cp.error("CreateModelPackage", InferenceSpecification=SPEC).message == "Missing ARN."
    no_group = cp.error("CreateModelPackage", ModelPackageGroupName="nope")
    assert no_group.message == f"ModelPackageGroup {PREFIX}:model-package-group/nope does not exist."
    unversioned = cp.call("CreateModelPackage", ModelPackageName="solo", InferenceSpecification=SPEC)
    assert unversioned["ModelPackageArn"] == f"{PREFIX}:model-package/solo"
    again = cp.error("CreateModelPackage", ModelPackageName="solo")
    assert isinstance(again, ConflictException)
    assert again.message == f"Model Package already exists: {PREFIX}:model-package/solo"


def test_approval_gates_create_model(cp: ControlPlane) -> None:
    version = register(cp)
    pending = cp.error("CreateModel", ModelName="from-pkg", PrimaryContainer={"ModelPackageName": version})
    assert isinstance(pending, ValidationException)
    assert pending.message == (
        f"Model package {version} has approval status PendingManualApproval: only an Approved model "
        "package version can be used to create a model. Approve it with "
        "UpdateModelPackage(ModelApprovalStatus='Approved') first."
    )
    updated = cp.call(
        "UpdateModelPackage",
        ModelPackageArn=version,
        ModelApprovalStatus="Approved",
        ApprovalDescription="good AUC",
        CustomerMetadataProperties={"auc": "0.91"},
    )
    assert updated == {"ModelPackageArn": version}
    described = cp.call("DescribeModelPackage", ModelPackageName=version)
    assert (described["ModelApprovalStatus"], described["ApprovalDescription"]) == ("Approved", "good AUC")
    assert described["CustomerMetadataProperties"] == {"auc": "0.91"}
    assert described["LastModifiedTime"] > described["CreationTime"]

    cp.call(
        "CreateModel",
        ModelName="from-pkg",
        PrimaryContainer={"ModelPackageName": "churn/1", "Environment": {"B": "model"}},
    )
    model = cp.store.get(Model, CTX.account, CTX.region, "from-pkg")
    assert model is not None
    assert model.container == ContainerSpec(
        IMAGE, model_data_url="s3://dy-cp/churn/model.tar.gz", environment={"A": "package", "B": "model"}
    )
    assert cp.call("DescribeModel", ModelName="from-pkg")["PrimaryContainer"]["ModelPackageName"] == "churn/1"

    cp.call("UpdateModelPackage", ModelPackageArn=version, ModelApprovalStatus="Rejected")
    rejected = cp.error("CreateModel", ModelName="again", PrimaryContainer={"ModelPackageName": version})
    assert "has approval status Rejected" in rejected.message
    empty = cp.call("CreateModelPackage", ModelPackageGroupName="churn", ModelApprovalStatus="Approved")
    no_spec = cp.error(
        "CreateModel", ModelName="again", PrimaryContainer={"ModelPackageName": empty["ModelPackageArn"]}
    )
    assert no_spec.message == (
        f"Model package {empty['ModelPackageArn']} has no InferenceSpecification containers to create "
        "a model from."
    )
    missing = cp.error(
        "UpdateModelPackage",
        ModelPackageArn=f"{PREFIX}:model-package/churn/9",
        ModelApprovalStatus="Approved",
    )
    assert missing.message == f"ModelPackage {PREFIX}:model-package/churn/9 does not exist."


def test_list_model_packages_filters_and_sorts(cp: ControlPlane) -> None:
    cp.call("CreateModelPackageGroup", ModelPackageGroupName="fraud")
    register(cp, ModelApprovalStatus="Approved")
    register(cp)
    cp.call("CreateModelPackage", ModelPackageGroupName="fraud", ModelApprovalStatus="Approved")
    cp.call("CreateModelPackage", ModelPackageName="solo")

    def listed(**params: Any) -> list[str]:
        summaries = cp.call("ListModelPackages", **params)["ModelPackageSummaryList"]
        return [s["ModelPackageArn"].split("model-package/")[1] for s in summaries]

    assert listed() == ["solo", "fraud/1", "churn/2", "churn/1"]  # newest first by default
    assert listed(ModelPackageGroupName="churn", SortBy="CreationTime", SortOrder="Ascending") == [
        "churn/1",
        "churn/2",
    ]
    assert listed(ModelPackageGroupName=GROUP_ARN, ModelApprovalStatus="Approved") == ["churn/1"]
    assert listed(ModelApprovalStatus="Approved", SortBy="Name", SortOrder="Ascending") == [
        "churn/1",
        "fraud/1",
    ]
    assert listed(ModelPackageType="Unversioned") == ["solo"]
    assert listed(ModelPackageType="Versioned", NameContains="FRA") == ["fraud/1"]
    pages = cp.call("ListModelPackages", MaxResults=3, SortBy="Name", SortOrder="Ascending")
    assert pages["NextToken"]
    rest = listed(MaxResults=3, SortBy="Name", SortOrder="Ascending", NextToken=pages["NextToken"])
    assert rest == ["solo"]
    assert cp.error("ListModelPackages", ModelPackageGroupName="nope").message == (
        f"ModelPackageGroup {PREFIX}:model-package-group/nope does not exist."
    )
