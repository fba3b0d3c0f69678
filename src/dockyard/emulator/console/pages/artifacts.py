"""Model artifacts: upload a model.tar.gz into the local S3 (the browser streams it, with progress), and
list the model archives the local S3 holds.

The upload is the request body itself (``PUT``, not multipart), streamed by S3's own ingest into S3's
store and then put as an object with S3's PutObject: the same code a ``aws s3 cp`` to the emulator runs.
It goes to the bucket dockyard deploys to (``dockyard-<account>-<region>``, made when missing) under
``console-uploads/``, and comes back as the ``s3://`` URL that CreateModel takes as model data. The file
name is checked against a strict pattern before anything is stored.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.http import Request, Response, json_response, text
from dockyard.emulator.console.pages.choices import Choices
from dockyard.emulator.console.views import Views
from dockyard.emulator.errors import ServiceError

if TYPE_CHECKING:
    from dockyard.emulator.s3.ingest import Received

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.tar\.gz")
GZIP_MAGIC = b"\x1f\x8b"
PREFIX = "console-uploads/"


def default_bucket(account: str, region: str) -> str:
    """The bucket ``dockyard deploy`` puts model data in; the console's uploads go there too."""
    return f"dockyard-{account}-{region}"


class ArtifactPages:
    def __init__(self, views: Views, control: Control, choices: Choices, external_s3: str | None) -> None:
        self.external_s3 = external_s3  # where s3:// model data is read from instead, when configured
        self.views = views
        self.control = control
        self.choices = choices

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/artifacts", self.list),
            ("PUT", r"/artifacts/(?P<name>[^/]+)", self.upload),
        ]

    async def list(self, request: Request) -> Response:
        region = self.views.region(request)
        return self.views.render(
            request,
            "artifacts.html",
            active="artifacts",
            artifacts=await self.choices.artifacts(region),
            bucket=default_bucket(self.control.account, region),
            prefix=PREFIX,
            external_s3=self.external_s3 or "",
        )

    async def upload(self, request: Request, name: str) -> Response:
        from dockyard.emulator.s3.ingest import receive_body

        if not _NAME.fullmatch(name):
            await request.discard_body()
            return text(
                f"The file name {name!r} is not accepted: use letters, digits, '.', '_' or '-', ending in "
                ".tar.gz (SageMaker's model artifacts are a gzipped tar archive).",
                400,
            )
        region = self.views.region(request)
        bucket = default_bucket(self.control.account, region)
        try:
            service = self.control.s3_service()
            await self._ensure_bucket(region, bucket)
            received = await receive_body(request.receive, request.headers, service.blobs)
        except ServiceError as error:
            await request.discard_body()
            return text(f"{error.code}: {error.message}", error.status)
        try:
            with received.temporary.open("rb") as head:
                magic = head.read(2)
            if magic != GZIP_MAGIC:
                return text(f"{name} is not a gzip file; model artifacts are a model.tar.gz", 400)
            params = {"Bucket": bucket, "Key": PREFIX + name, "ContentType": "application/gzip"}
            await self._put(region, params, received)
        finally:
            received.temporary.unlink(missing_ok=True)  # PutObject moved it into the store, or it failed
        return json_response(
            {"name": name, "url": f"s3://{bucket}/{PREFIX}{name}", "size": received.size}, 201
        )

    async def _ensure_bucket(self, region: str, bucket: str) -> None:
        listed = await self.control.s3(region, "ListBuckets", {"Prefix": bucket})
        if any(item.get("Name") == bucket for item in (listed.get("Buckets") or [])):
            return
        params: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        await self.control.s3(region, "CreateBucket", params)

    async def _put(self, region: str, params: dict[str, Any], received: Received) -> None:
        service = self.control.s3_service()
        await asyncio.to_thread(service.upload, self.control.context(region), "PutObject", params, received)
