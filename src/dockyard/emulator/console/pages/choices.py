"""What the forms offer to pick from: the engine's local images and the uploaded model artifacts.

Both are suggestions (an HTML datalist): the user may still type any image URI or model data URL, and
the API decides. The engine's image list is one Docker call, kept for a few seconds so a form that is
re-rendered with its errors does not ask again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.emulator.server import Components

log = logging.getLogger("dockyard.emulator.console")
IMAGES_TTL = 5.0
ARTIFACTS_DIR = "console-artifacts"  # under the state directory: an allowed root for file:// model data


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
    def __init__(self, components: Callable[[], Components], state_dir: Path) -> None:
        self._components = components
        self.artifacts_dir = state_dir / ARTIFACTS_DIR
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
        """Uploaded model.tar.gz files, newest first (``region`` picks the S3 bucket once there is one)."""
        return await asyncio.to_thread(self._list_artifacts)

    def _list_artifacts(self) -> list[Artifact]:
        if not self.artifacts_dir.is_dir():
            return []
        found = []
        for path in self.artifacts_dir.glob("*.tar.gz"):
            stat = path.stat()
            found.append(Artifact(path.name, path.resolve().as_uri(), stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda artifact: -artifact.modified)
