"""What the forms offer to pick from: the engine's local images and the local S3's model archives.

Both are suggestions (an HTML datalist): the user may still type any image URI or model data URL, and
the API decides. The engine's image list is one Docker call, kept for a few seconds so a form that is
re-rendered with its errors does not ask again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.emulator.console.control import Control, ServiceUnavailableHere

if TYPE_CHECKING:
    from dockyard.emulator.components import Components

log = logging.getLogger("dockyard.emulator.console")
IMAGES_TTL = 5.0
MAX_BUCKETS = 50  # buckets searched for model archives to offer


@dataclass(frozen=True)
class LocalImage:
    tag: str
    size: int
    created: float
    image_id: str


@dataclass(frozen=True)
class Artifact:
    name: str
    url: str
    size: int
    modified: float


class Choices:
    def __init__(self, components: Callable[[], Components], control: Control) -> None:
        self._components = components
        self.control = control
        self._images: tuple[float, list[LocalImage]] = (0.0, [])

    async def images(self) -> list[LocalImage]:
        at, cached = self._images
        if time.monotonic() - at < IMAGES_TTL:
            return cached
        found = await asyncio.to_thread(self._list_images)
        self._images = (time.monotonic(), found)
        return found

    def _list_images(self) -> list[LocalImage]:
        try:
            raw: list[dict[str, Any]] = self._components().reconciler.containers.client.api.images()
        except Exception as exc:  # no engine: the form still takes a typed URI
            log.info("cannot list the engine's images: %s", exc)
            return []
        images = [
            LocalImage(tag, int(item.get("Size") or 0), float(item.get("Created") or 0), str(item.get("Id")))
            for item in raw
            for tag in item.get("RepoTags") or []
            if tag and not tag.startswith("<none>")
        ]
        return sorted(images, key=lambda image: image.tag)

    async def artifacts(self, region: str) -> list[Artifact]:
        """The model archives (``*.tar.gz``) in the local S3's buckets, newest first."""
        try:
            buckets = await self.control.s3(region, "ListBuckets", {})
        except ServiceUnavailableHere:  # an emulator without S3: the form still takes a typed URL
            return []
        found: list[Artifact] = []
        for bucket in (buckets.get("Buckets") or [])[:MAX_BUCKETS]:
            listed = await self.control.s3(
                region, "ListObjectsV2", {"Bucket": bucket["Name"], "MaxKeys": 1000}
            )
            found.extend(
                Artifact(
                    item["Key"],
                    f"s3://{bucket['Name']}/{item['Key']}",
                    int(item.get("Size") or 0),
                    _epoch(item),
                )
                for item in (listed.get("Contents") or [])
                if str(item.get("Key", "")).endswith(".tar.gz")
            )
        return sorted(found, key=lambda artifact: -artifact.modified)


def _epoch(item: dict[str, Any]) -> float:
    modified = item.get("LastModified")
    return modified.timestamp() if isinstance(modified, dt.datetime) else float(modified or 0)
