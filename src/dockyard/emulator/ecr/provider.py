"""The local ECR: repositories in SQLite, their images in the Docker engine under the repository URI.

Repository URIs have ECR's own form (``ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME``) so that code and
model definitions written for AWS name the same images here. Pushing is tagging: an image tagged with
that URI in the local engine is in the repository (``dockyard push --ecr`` on the local target does it).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from dockyard.emulator.aws.unsupported import refuse_unsupported
from dockyard.emulator.context import Caller
from dockyard.emulator.ecr.engine_images import EngineImage, EngineImages
from dockyard.emulator.ecr.errors import (
    ImageNotFoundException,
    InvalidParameterException,
    RepositoryAlreadyExistsException,
    RepositoryNotEmptyException,
    ServerException,
    repository_not_found,
)
from dockyard.emulator.ecr.repositories import Repositories, Repository
from dockyard.emulator.ecr.uris import parse_arn, registry_host
from dockyard.errors import DockyardError

Operation = Callable[[Caller, dict[str, Any]], dict[str, Any]]
TOKEN_LIFETIME = dt.timedelta(hours=12)  # ECR's authorization tokens last 12 hours
# The settings every local repository has: CreateRepository honours them and refuses other values.
_SETTINGS: dict[str, Any] = {
    "imageTagMutability": "MUTABLE",
    "imageScanningConfiguration": {"scanOnPush": False},
    "encryptionConfiguration": {"encryptionType": "AES256"},
}


def _page(items: list[Any], params: dict[str, Any], default: int = 100) -> tuple[list[Any], str | None]:
    """One page of ``items`` and the token of the next (the offset, opaque to clients)."""
    token = params.get("nextToken")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise InvalidParameterException(
                "Invalid parameter at 'nextToken': the token is not valid"
            ) from None
    size = int(params.get("maxResults") or default)
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], following


class EcrProvider:
    # Each implemented operation and the input members it honours; any other member is refused, and every
    # other operation of the model too (a test walks botocore's model against this).
    HONOURED: ClassVar[dict[str, tuple[str, ...]]] = {
        "CreateRepository": (
            "registryId",
            "repositoryName",
            "tags",
            # Honoured at the values the local repositories have (see _SETTINGS); others are refused.
            "imageTagMutability",
            "imageScanningConfiguration",
            "encryptionConfiguration",
        ),
        "DescribeRepositories": ("registryId", "repositoryNames", "nextToken", "maxResults"),
        "DeleteRepository": ("registryId", "repositoryName", "force"),
        "DescribeImages": ("registryId", "repositoryName", "imageIds", "nextToken", "maxResults", "filter"),
        "ListImages": ("registryId", "repositoryName", "nextToken", "maxResults", "filter"),
        "BatchDeleteImage": ("registryId", "repositoryName", "imageIds"),
        "GetAuthorizationToken": ("registryIds",),
        "TagResource": ("resourceArn", "tags"),
        "UntagResource": ("resourceArn", "tagKeys"),
        "ListTagsForResource": ("resourceArn",),
    }
    OPERATIONS: ClassVar[tuple[str, ...]] = tuple(HONOURED)

    def __init__(self, state_dir: Path, images: EngineImages, clock: Callable[[], float] = time.time) -> None:
        self.repositories = Repositories(state_dir / "ecr.db")
        self.images = images
        self._clock = clock
        self.operations: dict[str, Operation] = {
            "CreateRepository": self.create_repository,
            "DescribeRepositories": self.describe_repositories,
            "DeleteRepository": self.delete_repository,
            "DescribeImages": self.describe_images,
            "ListImages": self.list_images,
            "BatchDeleteImage": self.batch_delete_image,
            "GetAuthorizationToken": self.get_authorization_token,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    def handle(self, ctx: Caller, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.operations.get(operation)
        if handler is None:
            raise InvalidParameterException(
                f"The operation {operation} of Amazon Elastic Container Registry is not supported by the "
                f"local target (dockyard emulator); supported: {', '.join(self.operations)}."
            )
        refuse_unsupported(operation, params, self.HONOURED[operation], InvalidParameterException)
        try:
            return handler(ctx, params)
        except DockyardError as exc:  # the engine failed: ECR's own 500
            raise ServerException(exc.message) from None

    def count(self) -> int:
        return self.repositories.count()

    def close(self) -> None:
        self.repositories.close()

    # ---- repositories ------------------------------------------------------------------------

    def create_repository(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        settings = {k: v for k, v in params.items() if k in _SETTINGS and v != _SETTINGS[k]}
        refuse_unsupported("CreateRepository", settings, (), InvalidParameterException)
        registry = self._registry(ctx, params)
        tags = {tag["Key"]: tag["Value"] for tag in params.get("tags") or ()}
        created = dt.datetime.fromtimestamp(int(self._clock()), dt.UTC)
        repository = Repository(registry, ctx.region, params["repositoryName"], created, tags)
        if not self.repositories.create(repository):
            raise RepositoryAlreadyExistsException(
                f"The repository with name '{repository.name}' already exists in the registry with id "
                f"'{registry}'"
            )
        return {"repository": repository.as_shape()}

    def describe_repositories(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        registry = self._registry(ctx, params)
        names = params.get("repositoryNames")
        if names:
            if params.get("maxResults") or params.get("nextToken"):
                raise InvalidParameterException(
                    "Invalid parameter: maxResults and nextToken cannot be used with repositoryNames"
                )
            found = [self._repository(ctx, registry, name) for name in names]
            return {"repositories": [repository.as_shape() for repository in found]}
        page, following = _page(self.repositories.list(registry, ctx.region), params, default=1000)
        return {"repositories": [r.as_shape() for r in page], "nextToken": following}

    def delete_repository(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        registry = self._registry(ctx, params)
        repository = self._repository(ctx, registry, params["repositoryName"])
        images = self.images.list(repository.uri)
        if images and not params.get("force"):
            raise RepositoryNotEmptyException(
                f"The repository with name '{repository.name}' in registry with id '{registry}' cannot be "
                "deleted because it still contains images"
            )
        for image in images:
            for tag in image.tags:
                self.images.untag(repository.uri, tag)
        self.repositories.delete(registry, ctx.region, repository.name)
        return {"repository": repository.as_shape()}

    # ---- images ------------------------------------------------------------------------------

    def describe_images(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        registry = self._registry(ctx, params)
        repository = self._repository(ctx, registry, params["repositoryName"])
        images = self._filtered(self.images.list(repository.uri), params)
        ids = params.get("imageIds")
        if ids:
            chosen: list[EngineImage] = []
            for image_id in ids:
                match = _find(images, image_id)
                if match is None:
                    raise ImageNotFoundException(
                        f"The image with imageId {{imageDigest:'{image_id.get('imageDigest') or 'null'}', "
                        f"imageTag:'{image_id.get('imageTag') or 'null'}'}} does not exist within the "
                        f"repository with name '{repository.name}' in the registry with id '{registry}'"
                    )
                if match not in chosen:
                    chosen.append(match)
            return {"imageDetails": [_detail(repository, image) for image in chosen]}
        page, following = _page(images, params)
        return {"imageDetails": [_detail(repository, image) for image in page], "nextToken": following}

    def list_images(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        registry = self._registry(ctx, params)
        repository = self._repository(ctx, registry, params["repositoryName"])
        ids = [
            {"imageDigest": image.digest, "imageTag": tag}
            for image in self._filtered(self.images.list(repository.uri), params)
            for tag in image.tags
        ]
        page, following = _page(ids, params)
        return {"imageIds": page, "nextToken": following}

    def batch_delete_image(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        registry = self._registry(ctx, params)
        repository = self._repository(ctx, registry, params["repositoryName"])
        images = self.images.list(repository.uri)
        deleted: list[dict[str, str]] = []
        failures: list[dict[str, Any]] = []
        for image_id in params["imageIds"]:
            match = _find(images, image_id)
            if match is None:
                failures.append(
                    {
                        "imageId": image_id,
                        "failureCode": "ImageNotFound",
                        "failureReason": "Requested image not found",
                    }
                )
                continue
            tags = [image_id["imageTag"]] if image_id.get("imageTag") else list(match.tags)
            for tag in tags:
                self.images.untag(repository.uri, tag)
                deleted.append({"imageDigest": match.digest, "imageTag": tag})
        return {"imageIds": deleted, "failures": failures}

    # ---- authorization -----------------------------------------------------------------------

    def get_authorization_token(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        """``AWS:<password>`` base64-encoded, as ECR answers. The local target needs no login (its images
        are in the local engine and the local registry takes no credentials), so any client that logs in
        with it proceeds; the password is random and checked by nothing."""
        expires = dt.datetime.fromtimestamp(int(self._clock()), dt.UTC) + TOKEN_LIFETIME
        token = base64.b64encode(f"AWS:{secrets.token_urlsafe(32)}".encode()).decode()
        registries = params.get("registryIds") or [ctx.account]
        return {
            "authorizationData": [
                {
                    "authorizationToken": token,
                    "expiresAt": expires,
                    "proxyEndpoint": f"https://{registry_host(registry, ctx.region)}",
                }
                for registry in registries
            ]
        }

    # ---- tags --------------------------------------------------------------------------------

    def tag_resource(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._by_arn(ctx, params["resourceArn"])
        tags = dict(repository.tags)
        tags.update({tag["Key"]: tag["Value"] for tag in params["tags"]})
        self.repositories.set_tags(repository, tags)
        return {}

    def untag_resource(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._by_arn(ctx, params["resourceArn"])
        tags = {k: v for k, v in repository.tags.items() if k not in set(params["tagKeys"])}
        self.repositories.set_tags(repository, tags)
        return {}

    def list_tags_for_resource(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        repository = self._by_arn(ctx, params["resourceArn"])
        return {"tags": [{"Key": k, "Value": v} for k, v in repository.tags.items()]}

    # ---- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _registry(ctx: Caller, params: dict[str, Any]) -> str:
        return str(params.get("registryId") or ctx.account)

    def _repository(self, ctx: Caller, registry: str, name: str) -> Repository:
        found = self.repositories.get(registry, ctx.region, name)
        if found is None:
            raise repository_not_found(name, registry)
        return found

    def _by_arn(self, ctx: Caller, arn: str) -> Repository:
        parts = parse_arn(arn)
        if parts is None:
            raise InvalidParameterException(
                f"Invalid parameter at 'resourceArn' failed to satisfy constraint: "
                f"'{arn}' is not a repository ARN"
            )
        account, region, name = parts
        found = self.repositories.get(account, region, name)
        if found is None or region != ctx.region:
            raise repository_not_found(name, account)
        return found

    @staticmethod
    def _filtered(images: list[EngineImage], params: dict[str, Any]) -> list[EngineImage]:
        wanted = params.get("filter") or {}
        refuse_unsupported("the image filter", wanted, ("tagStatus",), InvalidParameterException)
        # Every image the engine holds under the URI has a tag (an untagged one has left the repository).
        return [] if wanted.get("tagStatus") == "UNTAGGED" else images


def _find(images: list[EngineImage], image_id: dict[str, str]) -> EngineImage | None:
    tag, digest = image_id.get("imageTag"), image_id.get("imageDigest")
    for image in images:
        if (tag is None or tag in image.tags) and (digest is None or digest == image.digest):
            return image
    return None


def _detail(repository: Repository, image: EngineImage) -> dict[str, Any]:
    return {
        "registryId": repository.account,
        "repositoryName": repository.name,
        "imageDigest": image.digest,
        "imageTags": list(image.tags),
        "imageSizeInBytes": image.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "artifactMediaType": "application/vnd.docker.container.image.v1+json",
    }
