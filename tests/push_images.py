"""Helpers for the push tests: a tiny image of our own, and what a registry holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)


@dataclass(frozen=True)
class TinyImage:
    tag: str  # dy-push-test/<name>:<token>
    id: str
    name: str  # the repository path, dy-push-test/<name>
    token: str


@contextmanager
def tiny_image(
    client: docker.DockerClient, base_image: str, directory: Path, name: str
) -> Iterator[TinyImage]:
    """A one-file image FROM the test base; its file is unique, so its top layer is new to any registry.

    Every tag of it (the ones pushes add included) is removed afterwards.
    """
    token = uuid.uuid4().hex[:12]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token.txt").write_text(token)
    (directory / "Dockerfile").write_text(
        f"FROM {base_image}\nLABEL dy-push.test={token}\nCOPY token.txt /dy-push-token.txt\n"
    )
    repository = f"dy-push-test/{name}"
    image, _ = client.images.build(
        path=str(directory), tag=f"{repository}:{token}", rm=True, forcerm=True, network_mode="none"
    )
    assert image.id is not None
    try:
        yield TinyImage(f"{repository}:{token}", image.id, repository, token)
    finally:
        with suppress(docker.errors.NotFound):
            client.images.remove(image.id, force=True)


def manifest_digest(registry: str, path: str, tag: str, auth: tuple[str, str] | None = None) -> str | None:
    """The digest the registry holds for ``path:tag``, or None."""
    response = httpx.head(
        f"http://{registry}/v2/{path}/manifests/{tag}",
        headers={"Accept": MANIFEST_TYPES},
        auth=auth,
        timeout=10,
    )
    return response.headers.get("Docker-Content-Digest") if response.status_code == 200 else None


def delete_manifest(registry: str, path: str, digest: str, auth: tuple[str, str] | None = None) -> None:
    """Best-effort cleanup of what a test pushed (the layers stay until the registry's garbage collection)."""
    with suppress(httpx.HTTPError):
        httpx.delete(f"http://{registry}/v2/{path}/manifests/{digest}", auth=auth, timeout=10)


def pull_by_digest(client: docker.DockerClient, reference: str, auth: tuple[str, str] | None = None) -> str:
    """Pull ``REGISTRY/PATH@sha256:...`` and return the image's id."""
    repository, digest = reference.split("@")
    auth_config = {"username": auth[0], "password": auth[1]} if auth else None
    image = client.images.pull(repository, tag=digest, auth_config=auth_config)
    assert image.id is not None
    return image.id
