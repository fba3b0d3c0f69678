"""The emulator's other stores, browsed: S3 buckets and their objects, ECR repositories and their images.

Each page is a client of the service's own operations (ListBuckets, ListObjectsV2; DescribeRepositories,
DescribeImages), as the AWS CLI would call them on the emulator's port.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.http import Request, Response
from dockyard.emulator.console.views import Views

BUCKET = r"(?P<bucket>[^/]+)"
REPOSITORY = r"(?P<repository>.+)"  # ECR names may hold '/' (namespaces)
MAX_KEYS = 1000


class StoragePages:
    def __init__(self, views: Views, control: Control) -> None:
        self.views = views
        self.control = control

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/buckets", self.buckets),
            ("GET", rf"/buckets/{BUCKET}", self.bucket),
            ("GET", r"/repositories", self.repositories),
            ("GET", rf"/repositories/{REPOSITORY}", self.repository),
        ]

    async def buckets(self, request: Request) -> Response:
        listed = await self.control.s3(self.views.region(request), "ListBuckets", {})
        return self.views.render(
            request, "buckets.html", active="buckets", buckets=(listed.get("Buckets") or [])
        )

    async def bucket(self, request: Request, bucket: str) -> Response:
        prefix = request.query.get("prefix", "")
        params: dict[str, Any] = {"Bucket": bucket, "MaxKeys": MAX_KEYS}
        if prefix:
            params["Prefix"] = prefix
        listed = await self.control.s3(self.views.region(request), "ListObjectsV2", params)
        objects = listed.get("Contents") or []
        return self.views.render(
            request,
            "bucket.html",
            active="buckets",
            bucket=bucket,
            prefix=prefix,
            objects=objects,
            total=sum(int(item.get("Size") or 0) for item in objects),
            truncated=bool(listed.get("IsTruncated")),
        )

    async def repositories(self, request: Request) -> Response:
        listed = await self.control.ecr(self.views.region(request), "DescribeRepositories", {})
        return self.views.render(
            request, "repositories.html", active="repositories", repositories=listed.get("repositories", [])
        )

    async def repository(self, request: Request, repository: str) -> Response:
        region = self.views.region(request)
        described = await self.control.ecr(region, "DescribeRepositories", {"repositoryNames": [repository]})
        images = await self.control.ecr(region, "DescribeImages", {"repositoryName": repository})
        details = sorted(
            images.get("imageDetails", []), key=lambda i: _stamp(i.get("imagePushedAt")), reverse=True
        )
        return self.views.render(
            request,
            "repository.html",
            active="repositories",
            repository=described["repositories"][0],
            images=details,
        )


def _stamp(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value or 0)
