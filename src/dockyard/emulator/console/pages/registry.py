"""The model registry: package groups, their versions, approval, and deploying an approved version.

Deploying is what a user does by hand on SageMaker: CreateModel from the package (SageMaker itself
refuses a version that is not Approved, and says so), CreateEndpointConfig with one variant, then
CreateEndpoint, or UpdateEndpoint when the endpoint exists (blue/green). Each step is an API call; the
first refusal stops the chain and is shown as SageMaker words it.
"""

from __future__ import annotations

import time
from typing import Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.http import Request, Response, redirect, url_part
from dockyard.emulator.console.pages.configs import DEFAULT_INSTANCE_TYPE
from dockyard.emulator.console.views import Views
from dockyard.instance_types import INSTANCE_TYPES

GROUP = r"(?P<group>[^/]+)"
VERSION = r"(?P<version>[0-9]+)"
APPROVALS = {"approve": "Approved", "reject": "Rejected"}
MAX_NAME = 63


class RegistryPages:
    def __init__(self, views: Views, control: Control) -> None:
        self.views = views
        self.control = control

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/model-packages", self.groups),
            ("GET", rf"/model-packages/{GROUP}", self.group),
            ("POST", rf"/model-packages/{GROUP}/{VERSION}/(?P<action>approve|reject)", self.approve),
            ("POST", rf"/model-packages/{GROUP}/{VERSION}/deploy", self.deploy),
        ]

    async def groups(self, request: Request) -> Response:
        groups = await self.control.list_all(
            self.views.region(request),
            "ListModelPackageGroups",
            "ModelPackageGroupSummaryList",
            {"SortBy": "CreationTime", "SortOrder": "Descending"},
        )
        return self.views.render(request, "registry.html", active="registry", groups=groups)

    async def group(self, request: Request, group: str) -> Response:
        region = self.views.region(request)
        described = await self.control.call(
            region, "DescribeModelPackageGroup", {"ModelPackageGroupName": group}
        )
        versions = await self.control.list_all(
            region,
            "ListModelPackages",
            "ModelPackageSummaryList",
            {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending"},
        )
        details = [
            await self.control.call(
                region, "DescribeModelPackage", {"ModelPackageName": v["ModelPackageArn"]}
            )
            for v in versions
        ]
        return self.views.render(
            request,
            "group.html",
            active="registry",
            group=described,
            versions=details,
            instance_types=sorted(INSTANCE_TYPES),
            default_instance_type=DEFAULT_INSTANCE_TYPE,
        )

    async def approve(self, request: Request, group: str, version: str, action: str) -> Response:
        region = self.views.region(request)
        arn = _package_arn(self.control.account, region, group, version)
        params: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": APPROVALS[action]}
        if note := request.field("description").strip():
            params["ApprovalDescription"] = note
        await self.control.call(region, "UpdateModelPackage", params)
        return redirect(request, f"/console/model-packages/{url_part(group)}")

    async def deploy(self, request: Request, group: str, version: str) -> Response:
        region = self.views.region(request)
        arn = _package_arn(self.control.account, region, group, version)
        endpoint = request.field("endpoint").strip()
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        base = f"{group}-{version}"[: MAX_NAME - len(stamp) - 1]
        name = f"{base}-{stamp}"
        variant: dict[str, Any] = {
            "VariantName": "AllTraffic",
            "ModelName": name,
            "InstanceType": request.field("instance_type") or DEFAULT_INSTANCE_TYPE,
            "InitialInstanceCount": int(request.field("count") or 1),
            "InitialVariantWeight": 1.0,
        }
        # The first refusal stops the chain; the app shows it in the page's error area.
        await self.control.call(
            region,
            "CreateModel",
            {
                "ModelName": name,
                "PrimaryContainer": {"ModelPackageName": arn},
                "ExecutionRoleArn": request.field("role")
                or f"arn:aws:iam::{self.control.account}:role/SageMakerExecutionRole",
            },
        )
        await self.control.call(
            region, "CreateEndpointConfig", {"EndpointConfigName": name, "ProductionVariants": [variant]}
        )
        existing = await self.control.list_all(
            region, "ListEndpoints", "Endpoints", {"NameContains": endpoint}
        )
        exists = any(item["EndpointName"].lower() == endpoint.lower() for item in existing)
        operation = "UpdateEndpoint" if exists else "CreateEndpoint"
        await self.control.call(region, operation, {"EndpointName": endpoint, "EndpointConfigName": name})
        return redirect(request, f"/console/endpoints/{url_part(endpoint)}")


def _package_arn(account: str, region: str, group: str, version: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:model-package/{group.lower()}/{int(version)}"
