"""Pushing a local image to a registry through the engine: tag, push, follow the stream, get the digest.

The engine's push API answers 200 and reports failures *inside* its JSON stream (an ``error`` event),
so the stream is read to its end here and an error event becomes a RegistryError carrying the
registry's own message. Credentials come from the engine client: what ``docker login`` stored in
~/.docker/config.json (and its credential helpers), or a login done here for ECR.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.containers.engine import connect, docker_errors
from dockyard.errors import ContainerError, DockyardError, RegistryError, UsageError

if TYPE_CHECKING:
    from dockyard.lifecycle.calls import Aws
    from dockyard.registry.ecr import EcrRepository

# Docker's reference grammar (distribution/reference), restricted to what a push target needs.
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)(?::(?P<tag>[\w][\w.-]{{0,127}}))?"
)

REGISTRY_OVERRIDE_ENV = "DOCKYARD_ECR_REGISTRY"

ProgressCallback = Callable[["LayerProgress"], None]

_DONE = ("Pushed", "Layer already exists", "Mounted from")
_UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "dial tcp", "no route to host")
_UNAUTHORIZED = ("no basic auth credentials", "unauthorized", "authentication required", "denied")


@dataclass(frozen=True)
class ImageName:
    """``[registry/]path[:tag]``; ``registry`` is None when the first component is not a host."""

    registry: str | None
    path: str
    tag: str | None

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.path}" if self.registry else self.path


def parse_image_name(text: str) -> ImageName | None:
    """Split a Docker image reference; None when ``text`` is not one (e.g. an image id)."""
    match = _REFERENCE.fullmatch(text)
    if match is None or text.startswith("sha256:"):
        return None
    domain, path = match["domain"], match["path"]
    # Docker's rule: the first component is a registry host only if it has a dot or port, or is localhost.
    if domain is not None and not ("." in domain or ":" in domain or domain == "localhost"):
        if domain != domain.lower():
            return None
        domain, path = None, f"{domain}/{path}"
    return ImageName(domain, path, match["tag"])


def parse_target(text: str) -> ImageName:
    """A push target ``REGISTRY/REPOSITORY[:TAG]``; the registry must be explicit."""
    name = parse_image_name(text)
    if name is None:
        raise UsageError(
            f"{text!r} is not an image reference; expected REGISTRY/REPOSITORY[:TAG] with a lowercase "
            "repository, e.g. 127.0.0.1:5000/iris:1.0"
        )
    if name.registry is None:
        raise UsageError(
            f"{text!r} names no registry; put the registry's host first, e.g. 127.0.0.1:5000/{text} "
            f"(or docker.io/{text} for Docker Hub)"
        )
    return name


@dataclass(frozen=True)
class LayerProgress:
    """One event of one layer in the push stream (``current``/``total`` in bytes while uploading)."""

    layer: str
    status: str
    current: int | None = None
    total: int | None = None

    @property
    def done(self) -> bool:
        return self.status.startswith(_DONE)


@dataclass(frozen=True)
class PushResult:
    repository: str  # registry/path
    tag: str
    digest: str  # the manifest digest, sha256:...
    seconds: float

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def pullable(self) -> str:
        """The immutable reference: what SageMaker's CreateModel and ``docker pull`` should use."""
        return f"{self.repository}@{self.digest}"


@dataclass(frozen=True)
class EcrPush:
    result: PushResult | None  # None: only tagged in the local engine (or a dry run)
    repository: EcrRepository
    # <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>, even when the bytes went elsewhere
    ecr_reference: str


def push_image(
    image: str, target: str | None = None, *, on_progress: ProgressCallback | None = None
) -> PushResult:
    """Push the local ``image`` to ``target`` (REGISTRY/REPO[:TAG]), or to the registry its own name holds.

    The tag defaults to the image's own tag, else ``latest``.
    """
    source = parse_image_name(image)
    if target is not None:
        destination = parse_target(target)
    elif source is not None and source.registry is not None:
        destination = source
    else:
        raise UsageError(
            f"{image!r} names no registry; give a target with --to REGISTRY/REPO[:TAG], or use --ecr"
        )
    tag = destination.tag or (source.tag if source else None) or "latest"
    with _Engine() as engine:
        image_id = engine.image_id(image)
        hint = f"log in first with `docker login {destination.registry}`"
        return engine.push(image_id, destination.repository, tag, on_progress, unauthorized_hint=hint)


def push_to_ecr(
    image: str,
    aws: Aws,
    *,
    repository: str | None = None,
    registry_override: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> EcrPush:
    """Put the local ``image`` under its ECR URI in the target's account, creating the repository when
    missing.

    ``repository`` is ``NAME[:TAG]`` (default: the image's own name and tag). On the aws target the
    image is pushed to ECR (or, with ``registry_override``, default $DOCKYARD_ECR_REGISTRY, to that
    registry host with ECR's login: the tests' stand-in for ECR's data plane). On the local target the
    emulator runs images from this engine, so the image is tagged with its ECR URI here and, with a
    registry configured, also pushed there under the same repository name (with the engine's own
    credentials, as ``docker login`` stored them).
    """
    from dockyard.registry.ecr import ensure_repository, login, validate_repository_name

    source = parse_image_name(image)
    name, tag = _ecr_name(repository, source, image)
    validate_repository_name(name)
    registry = registry_override or os.environ.get(REGISTRY_OVERRIDE_ENV) or None
    with _Engine() as engine:
        image_id = engine.image_id(image)
        repo = ensure_repository(aws, name)
        ecr_reference = f"{repo.uri}:{tag}"
        if aws.dry_run:
            where = f" and push it to {registry}/{name}:{tag}" if registry and aws.target.is_local else ""
            verb = "tag" if aws.target.is_local else "push"
            aws.notes.append(f"{verb} {image} as {ecr_reference}{where}")
            return EcrPush(None, repo, ecr_reference)
        if aws.target.is_local:
            engine.tag(image_id, repo.uri, tag)
            result = None
            if registry is not None:
                hint = f"log in first with `docker login {registry}`"
                result = engine.push(image_id, f"{registry}/{name}", tag, on_progress, unauthorized_hint=hint)
            return EcrPush(result, repo, ecr_reference)
        credentials = login(aws)
        registry = registry or credentials.registry
        engine.login(credentials.username, credentials.password, registry)
        hint = (
            "the ECR login succeeded but the push was refused; the credentials need ecr:InitiateLayerUpload, "
            "ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:BatchCheckLayerAvailability and ecr:PutImage"
        )
        result = engine.push(image_id, f"{registry}/{name}", tag, on_progress, unauthorized_hint=hint)
    return EcrPush(result, repo, ecr_reference)


def _ecr_name(repository: str | None, source: ImageName | None, image: str) -> tuple[str, str]:
    if repository is not None:
        name, _, tag = repository.partition(":")
        return name, tag or (source.tag if source else None) or "latest"
    if source is None:
        raise UsageError(
            f"{image!r} is an image id, not a name; give the ECR repository with --repository NAME[:TAG]"
        )
    return source.path, source.tag or "latest"


@contextmanager
def _registry_errors(action: str) -> Iterator[None]:
    """docker_errors, with the engine's plain API errors reported as the registry failures they are."""
    try:
        with docker_errors(action):
            yield
    except DockyardError as exc:
        if type(exc) is DockyardError:
            raise RegistryError(exc.message) from None
        raise


class _Engine:
    """A connected engine client for one push (its type comes from connect(); no docker import here)."""

    def __init__(self) -> None:
        self.client = connect()

    def __enter__(self) -> _Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def image_id(self, image: str) -> str:
        try:
            with docker_errors(f"pushing {image}"):
                return str(self.client.images.get(image).id)
        except ContainerError:  # how docker_errors reports a missing image
            raise UsageError(
                f"there is no local image {image!r}; build it first (`dockyard build`) "
                "or check the name with `docker images`"
            ) from None

    def tag(self, image_id: str, repository: str, tag: str) -> None:
        with _registry_errors(f"tagging {image_id[:19]} as {repository}:{tag}"):
            self.client.api.tag(image_id, repository, tag)

    def login(self, username: str, password: str, registry: str) -> None:
        # The engine checks the credentials against the registry; the SDK then keeps them in memory
        # for this client's push (nothing is written to ~/.docker/config.json).
        with _registry_errors(f"logging in to the registry {registry}"):
            self.client.login(username, password, registry=registry, reauth=True)

    def push(
        self,
        image_id: str,
        repository: str,
        tag: str,
        on_progress: ProgressCallback | None,
        *,
        unauthorized_hint: str,
    ) -> PushResult:
        reference = f"{repository}:{tag}"
        registry = repository.split("/", 1)[0]
        started = time.monotonic()
        with _registry_errors(f"tagging {image_id[:19]} as {reference}"):
            existed = bool(self.client.images.list(name=reference))
            self.client.api.tag(image_id, repository, tag)
        try:
            with _registry_errors(f"pushing {reference}"):
                events = self.client.api.push(repository, tag=tag, stream=True, decode=True)
                digest = _follow(events, reference, registry, on_progress, unauthorized_hint)
        except DockyardError:
            if not existed:  # leave no tag behind for a push that did not happen
                with suppress(DockyardError), docker_errors(f"untagging {reference}"):
                    self.client.images.remove(reference, noprune=True)
            raise
        return PushResult(repository, tag, digest, time.monotonic() - started)


def _follow(
    events: Iterable[dict[str, Any]],
    reference: str,
    registry: str,
    on_progress: ProgressCallback | None,
    unauthorized_hint: str,
) -> str:
    digest: str | None = None
    error: str | None = None
    for event in events:
        # Read on after an error: the engine ends the stream there, and a stream read to its end
        # releases its connection (an abandoned one leaks the socket).
        if error is not None:
            continue
        if "error" in event or "errorDetail" in event:
            detail = event.get("errorDetail") or {}
            error = str(detail.get("message") or event.get("error") or "unknown error").strip()
            continue
        aux = event.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
            digest = aux["Digest"]
        elif on_progress is not None and "id" in event and "status" in event:
            detail = event.get("progressDetail") or {}
            on_progress(
                LayerProgress(
                    str(event["id"]), str(event["status"]), detail.get("current"), detail.get("total")
                )
            )
    if error is not None:
        raise RegistryError(_failure(reference, registry, error, unauthorized_hint))
    if digest is None:
        raise RegistryError(f"pushing {reference}: the engine's push stream ended without the image's digest")
    return digest


def _failure(reference: str, registry: str, message: str, unauthorized_hint: str) -> str:
    lowered = message.lower()
    if any(marker in lowered for marker in _UNREACHABLE):
        return (
            f"pushing {reference} failed: cannot reach the registry at {registry} ({message}); "
            "check that it is running and the address is right"
        )
    if "server gave http response to https client" in lowered:
        return (
            f"pushing {reference} failed: the registry at {registry} speaks plain HTTP ({message}); "
            "add it to the engine's insecure-registries in /etc/docker/daemon.json, or serve it over TLS"
        )
    if any(marker in lowered for marker in _UNAUTHORIZED):
        refused = f"pushing {reference} failed: the registry at {registry} refused it"
        return f"{refused} ({message}); {unauthorized_hint}"
    return f"pushing {reference} to {registry} failed: {message}"
