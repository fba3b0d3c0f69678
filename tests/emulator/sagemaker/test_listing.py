"""List* pagination, sorting and filters, and tags on every kind of resource."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker.listing import page_of
from tests.emulator.sagemaker.control_plane import OTHER_REGION, PREFIX, ControlPlane


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path / "state.db")
    yield plane
    plane.store.close()


def names(result: dict[str, Any], key: str = "Models", member: str = "ModelName") -> list[str]:
    return [item[member] for item in result[key]]


def test_pages_sorts_and_filters(cp: ControlPlane) -> None:
    for name in ("b-2", "a-1", "c-3", "b-1", "a-2"):
        cp.model(name)
    assert names(cp.call("ListModels")) == ["a-2", "b-1", "c-3", "a-1", "b-2"]  # newest first
    assert names(cp.call("ListModels", SortBy="Name", SortOrder="Ascending")) == [
        "a-1",
        "a-2",
        "b-1",
        "b-2",
        "c-3",
    ]
    assert names(cp.call("ListModels", SortBy="Name")) == ["c-3", "b-2", "b-1", "a-2", "a-1"]
    assert names(cp.call("ListModels", NameContains="B-")) == ["b-1", "b-2"]  # case-insensitive

    created = {name: cp.call("DescribeModel", ModelName=name)["CreationTime"] for name in ("a-1", "b-1")}
    window = cp.call(
        "ListModels",
        CreationTimeAfter=dt.datetime.fromtimestamp(created["a-1"], dt.UTC),  # strictly after
        CreationTimeBefore=dt.datetime.fromtimestamp(created["b-1"] + 0.5, dt.UTC),
        SortOrder="Ascending",
    )
    assert names(window) == ["c-3", "b-1"]

    seen: list[str] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"MaxResults": 2, "SortBy": "Name", "SortOrder": "Ascending"}
        if token:
            params["NextToken"] = token
        page = cp.call("ListModels", **params)
        seen += names(page)
        if seen == ["a-1", "a-2"]:
            cp.call("DeleteModel", ModelName="a-2")  # deleting while paging skips and repeats nothing
            cp.call("DeleteModel", ModelName="b-1")
        token = page.get("NextToken")
        if not token:
            break
    assert seen == ["a-1", "a-2", "b-2", "c-3"]


def test_invalid_tokens_are_refused(cp: ControlPlane) -> None:
    for name in ("m1", "m2"):
        cp.model(name)
    token = cp.call("ListModels", MaxResults=1, SortBy="Name")["NextToken"]
    cases: list[tuple[str, dict[str, Any]]] = [
        (token, {"SortBy": "CreationTime"}),
        ("garbage!", {}),
        ("e30", {}),
    ]
    for bad, params in cases:
        error = cp.error("ListModels", NextToken=bad, **params)
        assert isinstance(error, ValidationException)
        assert error.message == f'Invalid pagination token "{bad}" for this request.'


def test_list_endpoints_by_status_and_modification(cp: ControlPlane) -> None:
    cp.model("m1")
    cp.config("cfg", "m1")
    for name in ("ep-a", "ep-b", "ep-c"):
        cp.call("CreateEndpoint", EndpointName=name, EndpointConfigName="cfg")
    cp.fleet.succeed(cp.fleet.deployed[1])
    in_service = cp.call("ListEndpoints", StatusEquals="InService")
    assert names(in_service, "Endpoints", "EndpointName") == ["ep-b"]
    changed = cp.call("DescribeEndpoint", EndpointName="ep-b")["LastModifiedTime"]
    recent = cp.call("ListEndpoints", LastModifiedTimeAfter=dt.datetime.fromtimestamp(changed - 0.5, dt.UTC))
    assert names(recent, "Endpoints", "EndpointName") == ["ep-b"]
    older = cp.call("ListEndpoints", LastModifiedTimeBefore=dt.datetime.fromtimestamp(changed - 0.5, dt.UTC))
    assert names(older, "Endpoints", "EndpointName") == ["ep-c", "ep-a"]
    by_status = cp.call("ListEndpoints", SortBy="Status", SortOrder="Ascending")
    assert names(by_status, "Endpoints", "EndpointName") == ["ep-a", "ep-c", "ep-b"]
    configs = cp.call("ListEndpointConfigs", NameContains="cf")
    assert names(configs, "EndpointConfigs", "EndpointConfigName") == ["cfg"]
    assert cp.call("ListEndpoints", ctx=OTHER_REGION)["Endpoints"] == []


def test_tags_on_every_resource(cp: ControlPlane) -> None:
    cp.call("CreateModelPackageGroup", ModelPackageGroupName="g")
    arns = [
        cp.model("m1"),
        cp.config("cfg", "m1"),
        cp.call("CreateEndpoint", EndpointName="ep", EndpointConfigName="cfg")["EndpointArn"],
        f"{PREFIX}:model-package-group/g",
        cp.call("CreateModelPackage", ModelPackageGroupName="g")["ModelPackageArn"],
    ]
    for arn in arns:
        added = cp.call(
            "AddTags", ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
        )
        assert added == {"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}
        cp.call(
            "AddTags", ResourceArn=arn, Tags=[{"Key": "a", "Value": "changed"}, {"Key": "c", "Value": "3"}]
        )
        cp.call("DeleteTags", ResourceArn=arn, TagKeys=["b", "not-there"])
        assert cp.call("ListTags", ResourceArn=arn)["Tags"] == [
            {"Key": "a", "Value": "changed"},
            {"Key": "c", "Value": "3"},
        ]


def test_tag_paging_limits_and_unknown_resources(cp: ControlPlane) -> None:
    arn = cp.model("m1")
    cp.call("AddTags", ResourceArn=arn, Tags=[{"Key": f"k{i:02d}", "Value": "v"} for i in range(50)])
    first = cp.call("ListTags", ResourceArn=arn, MaxResults=50)
    assert len(first["Tags"]) == 50
    assert first.get("NextToken") is None
    too_many = cp.error("AddTags", ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    assert isinstance(too_many, ValidationException)
    assert too_many.message == f"Resource {arn} would have 51 tags; a resource can have at most 50."
    cp.call("DeleteTags", ResourceArn=arn, TagKeys=["k00"])
    cp.call("AddTags", ResourceArn=arn, Tags=[{"Key": "k01", "Value": "replaced"}])  # replacing: still 49
    ghost = f"{PREFIX}:model/ghost"
    for operation, params in (
        ("AddTags", {"Tags": [{"Key": "a", "Value": "1"}]}),
        ("ListTags", {}),
        ("DeleteTags", {"TagKeys": ["a"]}),
    ):
        error = cp.error(operation, ResourceArn=ghost, **params)
        assert isinstance(error, ValidationException)
        assert error.message == f"Resource {ghost} does not exist."


def test_positional_pages() -> None:
    """ListTags pages by position (its MaxResults minimum, 50, is also the tag limit)."""
    first = page_of(["a", "b", "c"], {"MaxResults": 2})
    assert first.items == ["a", "b"]
    assert first.next_token
    rest = page_of(["a", "b", "c"], {"MaxResults": 2, "NextToken": first.next_token})
    assert (rest.items, rest.next_token) == (["c"], None)
    assert page_of([], {}).items == []
