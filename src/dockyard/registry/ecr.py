"""Amazon ECR through boto3: the account, the region, the repository (created when missing), a login.

The only module in registry/ that imports boto3; :func:`aws_errors` is where botocore's exceptions become
dockyard errors, each one sentence saying what to do.

``DOCKYARD_AWS_ENDPOINT_URL`` (or the ``endpoint_url`` argument) sends the STS and ECR API calls to an
emulator instead of AWS: moto in server mode in the tests, dockyard's local emulator later. Leave it
unset to talk to AWS.

Repositories dockyard creates: scan on push, mutable tags (``latest`` moves with each push), AES-256
encryption, the tag ``created-by=dockyard``, and *no lifecycle policy*: SageMaker pulls the image again
whenever it starts an instance (scaling out, replacing an unhealthy one), so expiring an image that an
endpoint still uses would break that endpoint later. How long to keep images is the user's decision.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3
import botocore.exceptions as boto_errors

from dockyard.aws_codes import DENIED_CODES, NO_REGION, REJECTED_CODES
from dockyard.errors import RegistryError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_ecr.type_defs import RepositoryTypeDef

ENDPOINT_ENV = "DOCKYARD_AWS_ENDPOINT_URL"

# ECR's repositoryName constraint (2 to 256 characters).
_REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_CREDENTIALS_HINT = (
    "configure them with `aws configure`, the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment "
    "variables, or AWS_PROFILE (for an SSO profile, run `aws sso login` first)"
)
_PRINCIPAL = re.compile(r"arn:aws[\w-]*:(?:iam|sts)::\d{12}:[\w+=,.@/-]+")


@dataclass(frozen=True)
class EcrRepository:
    account: str
    region: str
    name: str
    uri: str  # <account>.dkr.ecr.<region>.amazonaws.com/<name>
    created: bool  # by this call
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


@contextmanager
def aws_errors(action: str, service: str) -> Iterator[None]:
    """Translate botocore's exceptions raised while doing ``action`` with ``service`` (its IAM prefix)."""
    try:
        yield
    except (boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError):
        raise UsageError(f"{action}: no AWS credentials were found; {_CREDENTIALS_HINT}") from None
    except (
        boto_errors.SSOError,
        boto_errors.TokenRetrievalError,
        boto_errors.CredentialRetrievalError,
    ) as exc:
        raise UsageError(
            f"{action}: the AWS credentials could not be loaded ({exc}); {_CREDENTIALS_HINT}"
        ) from None
    except boto_errors.ProfileNotFound as exc:
        raise UsageError(
            f"{action}: {exc}; check AWS_PROFILE (or --profile) against ~/.aws/config, or {_CREDENTIALS_HINT}"
        ) from None
    except boto_errors.NoRegionError:
        raise UsageError(NO_REGION) from None
    except boto_errors.InvalidRegionError as exc:
        raise UsageError(
            f"{exc.kwargs.get('region_name')!r} is not an AWS region name; e.g. --region us-east-1"
        ) from None
    except boto_errors.ConnectionError as exc:
        endpoint = exc.kwargs.get("endpoint_url", "AWS")
        raise RegistryError(
            f"{action}: cannot reach {endpoint}; check the network (and {ENDPOINT_ENV}, when it is set)"
        ) from None
    except boto_errors.ClientError as exc:
        raise _client_error(action, service, exc) from None
    except boto_errors.BotoCoreError as exc:
        raise RegistryError(f"{action} failed: {exc}") from None


def _client_error(action: str, service: str, exc: boto_errors.ClientError) -> Exception:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in REJECTED_CODES:
        return UsageError(f"{action}: AWS rejected the credentials ({code}: {message}); {_CREDENTIALS_HINT}")
    if code in DENIED_CODES or status == 403:
        permission = f"{service}:{exc.operation_name}"
        principal = _PRINCIPAL.search(message)
        who = principal.group(0) if principal else "the credentials in use"
        return RegistryError(
            f"{action}: access denied, {who} lacks the IAM permission {permission}; grant it (e.g. with the "
            "AmazonEC2ContainerRegistryPowerUser managed policy) or use other credentials"
        )
    return RegistryError(f"{action} failed: {code}: {message}")


class Ecr:
    """The current AWS identity's ECR in one region."""

    def __init__(self, region: str | None = None, endpoint_url: str | None = None) -> None:
        endpoint = endpoint_url or os.environ.get(ENDPOINT_ENV) or None
        with aws_errors("reading the AWS configuration", "sts"):
            session = boto3.session.Session(region_name=region)
            if session.region_name is None:
                raise UsageError(NO_REGION)
            self.region: str = session.region_name
            self._sts = session.client("sts", endpoint_url=endpoint)
            self._ecr = session.client("ecr", endpoint_url=endpoint)
        self._account: str | None = None

    @property
    def account(self) -> str:
        if self._account is None:
            with aws_errors("finding the AWS account (sts get-caller-identity)", "sts"):
                self._account = self._sts.get_caller_identity()["Account"]
        return self._account

    def ensure_repository(self, name: str) -> EcrRepository:
        """The repository ``name``, created (scan on push, no lifecycle policy) when it does not exist."""
        validate_repository_name(name)
        account = self.account
        found = self._describe(name, account)
        if found is not None:
            return self._repository(found, created=False)
        with aws_errors(f"creating the ECR repository {name!r}", "ecr"):
            try:
                created = self._ecr.create_repository(
                    registryId=account,
                    repositoryName=name,
                    imageTagMutability="MUTABLE",
                    imageScanningConfiguration={"scanOnPush": True},
                    encryptionConfiguration={"encryptionType": "AES256"},
                    tags=[{"Key": "created-by", "Value": "dockyard"}],
                )["repository"]
            except self._ecr.exceptions.RepositoryAlreadyExistsException:
                # Created concurrently by someone else since we looked: use theirs.
                again = self._describe(name, account)
                if again is None:
                    raise RegistryError(
                        f"the ECR repository {name!r} exists and cannot be described"
                    ) from None
                return self._repository(again, created=False)
        return self._repository(created, created=True)

    def login(self) -> RegistryLogin:
        """Registry credentials from ecr:GetAuthorizationToken (valid for 12 hours)."""
        with aws_errors("getting an ECR login token", "ecr"):
            data = self._ecr.get_authorization_token(registryIds=[self.account])["authorizationData"][0]
        username, password = decode_token(data.get("authorizationToken", ""))
        endpoint = data.get("proxyEndpoint", "")
        return RegistryLogin(urlsplit(endpoint).netloc or endpoint, username, password)

    def _describe(self, name: str, account: str) -> RepositoryTypeDef | None:
        with aws_errors(f"looking up the ECR repository {name!r}", "ecr"):
            try:
                return self._ecr.describe_repositories(registryId=account, repositoryNames=[name])[
                    "repositories"
                ][0]
            except self._ecr.exceptions.RepositoryNotFoundException:
                return None

    def _repository(self, described: RepositoryTypeDef, *, created: bool) -> EcrRepository:
        scanning = described.get("imageScanningConfiguration", {})
        return EcrRepository(
            account=described.get("registryId", self.account),
            region=self.region,
            name=described["repositoryName"],
            uri=described["repositoryUri"],
            created=created,
            scan_on_push=bool(scanning.get("scanOnPush", False)),
        )
