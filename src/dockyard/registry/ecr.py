"""Amazon ECR's API: the repository (created when missing) and a registry login.

Every call goes through the deploy lifecycle's one recorded AWS boundary (:class:`Aws`), with its
session, its error translation and its dry run: on the local target the emulator's own ECR answers,
on the aws target ECR itself.

Repositories dockyard creates: scan on push (aws), ECR's defaults of mutable tags (``latest`` moves with
each push) and AES-256 encryption, the tag ``created-by=dockyard``, and *no lifecycle policy*: SageMaker
pulls the image again whenever it starts an instance (scaling out, replacing an unhealthy one), so
expiring an image that an endpoint still uses would break that endpoint later. How long to keep images is
the user's decision.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dockyard.errors import RegistryError, UsageError
from dockyard.lifecycle.calls import Aws, AwsError

# ECR's repositoryName constraint (2 to 256 characters).
_REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")


@dataclass(frozen=True)
class EcrRepository:
    account: str
    region: str
    name: str
    uri: str  # <account>.dkr.ecr.<region>.amazonaws.com/<name>
    created: bool  # by this call (in a dry run: would be)
    scan_on_push: bool


@dataclass(frozen=True)
class RegistryLogin:
    registry: str  # host, from the token's proxyEndpoint
    username: str
    password: str = field(repr=False)


def validate_repository_name(name: str) -> None:
    if not (2 <= len(name) <= 256 and _REPOSITORY_NAME.fullmatch(name)):
        raise UsageError(
            f"{name!r} is not a valid ECR repository name; use 2 to 256 lowercase letters, digits and . _ - "
            "in /-separated parts, e.g. team/iris-model"
        )


def repository_uri(account: str, region: str, name: str) -> str:
    """The URI ECR gives a repository (known before it exists, so that a dry run shows the real one)."""
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{name}"


def decode_token(token: str) -> tuple[str, str]:
    """ECR's authorizationToken is base64 of ``user:password`` (the user is always AWS)."""
    try:
        username, separator, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        separator = ""
    if not separator:
        raise RegistryError(
            "ECR returned an authorization token that is not base64 of 'user:password'; cannot log in"
        )
    return username, password


def ensure_repository(aws: Aws, name: str) -> EcrRepository:
    """The repository ``name``, created (scan on push, no lifecycle policy) when it does not exist."""
    validate_repository_name(name)
    account = aws.account()
    found = _describe(aws, name, account)
    if found is not None:
        return _repository(aws, found, created=False)
    # Mutable tags and AES-256 are ECR's defaults, so they are not sent. The local target has no image
    # scanner, and its ECR refuses scanOnPush rather than accept and ignore it: asked for on AWS only.
    scanning = {} if aws.target.is_local else {"imageScanningConfiguration": {"scanOnPush": True}}
    try:
        created = aws.call(
            "ecr",
            "create_repository",
            registryId=account,
            repositoryName=name,
            **scanning,
            tags=[{"Key": "created-by", "Value": "dockyard"}],
        ).get("repository")
    except AwsError as exc:
        if exc.code != "RepositoryAlreadyExistsException":
            raise
        # Created concurrently by someone else since we looked: use theirs.
        again = _describe(aws, name, account)
        if again is None:
            raise RegistryError(f"the ECR repository {name!r} exists and cannot be described") from None
        return _repository(aws, again, created=False)
    if created is None:  # a dry run: the call was held back
        created = {"repositoryName": name, **scanning}
    return _repository(aws, created, created=True)


def login(aws: Aws) -> RegistryLogin:
    """Registry credentials from ecr:GetAuthorizationToken (valid for 12 hours)."""
    answer = aws.call("ecr", "get_authorization_token", registryIds=[aws.account()])
    data = answer["authorizationData"][0]
    username, password = decode_token(data.get("authorizationToken", ""))
    endpoint = data.get("proxyEndpoint", "")
    return RegistryLogin(urlsplit(endpoint).netloc or endpoint, username, password)


def _describe(aws: Aws, name: str, account: str) -> dict[str, Any] | None:
    found = aws.find("ecr", "describe_repositories", registryId=account, repositoryNames=[name])
    return None if found is None else dict(found["repositories"][0])


def _repository(aws: Aws, described: dict[str, Any], *, created: bool) -> EcrRepository:
    account = str(described.get("registryId") or aws.account())
    name = str(described["repositoryName"])
    scanning = described.get("imageScanningConfiguration", {})
    return EcrRepository(
        account=account,
        region=aws.target.region,
        name=name,
        uri=str(described.get("repositoryUri") or repository_uri(account, aws.target.region, name)),
        created=created,
        scan_on_push=bool(scanning.get("scanOnPush", False)),
    )
