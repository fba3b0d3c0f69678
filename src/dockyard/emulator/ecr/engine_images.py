"""The images of a local ECR repository: the Docker engine's images tagged with the repository URI.

That is where the emulator runs them from, so the engine is the one place they live; ECR's view of
them (digest, tags, size, push time) is read from the engine on each call. An image built here was
never pushed, so it has no registry manifest digest: its image id (``sha256:`` of its config) stands in.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.containers.engine import docker_errors
from dockyard.errors import ContainerError

if TYPE_CHECKING:
    from docker import DockerClient


@dataclass(frozen=True)
class EngineImage:
    digest: str
    tags: tuple[str, ...]
    size: int
    pushed_at: dt.datetime


def _when(text: str) -> dt.datetime | None:
    """Docker's RFC 3339 times (nanoseconds, 'Z'), as an aware datetime; None for the zero time."""
    if not text or text.startswith("0001-"):
        return None
    head, _, rest = text.partition(".")
    zone = rest.lstrip("0123456789") if rest else text[19:]
    stamp = dt.datetime.fromisoformat(head[:19] + (zone.replace("Z", "+00:00") or "+00:00"))
    return stamp.astimezone(dt.UTC)


def digest_of(attrs: dict[str, Any], repository_uri: str) -> str:
    """The manifest digest the image has in that repository when it was pushed or pulled, else its id."""
    for reference in attrs.get("RepoDigests") or ():
        name, _, digest = str(reference).partition("@")
        if name == repository_uri and digest:
            return digest
    return str(attrs["Id"])


class EngineImages:
    def __init__(self, client_factory: Callable[[], DockerClient]) -> None:
        self._client_factory = client_factory
        self._client: DockerClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> DockerClient:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def list(self, repository_uri: str) -> list[EngineImage]:
        """Every image tagged ``repository_uri:*``, newest push first."""
        with docker_errors(f"listing the images of {repository_uri}"):
            summaries = self.client.api.images(name=repository_uri)
        found: list[EngineImage] = []
        for summary in summaries:
            tags = tuple(
                sorted(
                    str(tag).rpartition(":")[2]
                    for tag in summary.get("RepoTags") or ()
                    if str(tag).rpartition(":")[0] == repository_uri
                )
            )
            if not tags:
                continue
            try:
                with docker_errors(f"inspecting {summary['Id']}"):
                    attrs: dict[str, Any] = self.client.images.get(summary["Id"]).attrs
            except ContainerError:
                continue  # removed meanwhile
            metadata = attrs.get("Metadata") or {}
            pushed = _when(str(metadata.get("LastTagTime") or "")) or _when(str(attrs.get("Created") or ""))
            found.append(
                EngineImage(
                    digest=digest_of(attrs, repository_uri),
                    tags=tags,
                    size=int(attrs.get("Size") or 0),
                    pushed_at=pushed or dt.datetime.now(dt.UTC),
                )
            )
        found.sort(key=lambda image: image.pushed_at, reverse=True)
        return found

    def untag(self, repository_uri: str, tag: str) -> None:
        """Remove one tag of the repository (the engine deletes the image once nothing refers to it)."""
        with docker_errors(f"untagging {repository_uri}:{tag}"):
            self.client.images.remove(f"{repository_uri}:{tag}", force=True)
