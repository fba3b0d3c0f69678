"""ECR's names: registry hosts, repository URIs and ARNs, and image references under them."""

from __future__ import annotations

import re
from dataclasses import dataclass

# ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME[:TAG|@DIGEST] (".com.cn" in the China regions).
_IMAGE = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<name>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[\w][\w.-]{0,127})|@(?P<digest>sha256:[0-9a-f]{64}))?"
)


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def repository_uri(account: str, region: str, name: str) -> str:
    return f"{registry_host(account, region)}/{name}"


def repository_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


@dataclass(frozen=True)
class EcrImage:
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def repository_uri(self) -> str:
        return repository_uri(self.account, self.region, self.repository)


def parse_image(image: str) -> EcrImage | None:
    """The parts of an ECR image reference, or None for any other image name."""
    found = _IMAGE.fullmatch(image)
    if found is None:
        return None
    return EcrImage(found["account"], found["region"], found["name"], found["tag"], found["digest"])


def parse_arn(arn: str) -> tuple[str, str, str] | None:
    """(account, region, repository name) of a repository ARN."""
    found = re.fullmatch(r"arn:aws[a-z-]*:ecr:([a-z0-9-]+):(\d{12}):repository/(.+)", arn)
    return (found[2], found[1], found[3]) if found else None


def resolved_reference(image: str, digest: str) -> str:
    """``repository@sha256:...``, the form SageMaker reports a deployed image in (ResolvedImage)."""
    name, _, _ = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    repository = name[:colon] if colon > slash else name
    return f"{repository}@{digest}"


def missing_image_reason(variant: str, image: str) -> str:
    """SageMaker's FailureReason for an image it cannot pull, and where the local target looked."""
    return (
        f"Please make sure all images included in the model for the production variant {variant} exist, "
        "and that the execution role used to create the model has permissions to access them. (The local "
        f"target runs ECR images from the local Docker engine, which has no image {image}: push it with "
        f"`dockyard push SOURCE --ecr`, or tag it there with `docker tag SOURCE {image}`.)"
    )
