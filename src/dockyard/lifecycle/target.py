"""Where the deploy commands send their calls: the local emulator or AWS, as one boto3 session.

The two targets differ in four things only: the endpoint URL (the emulator's, or AWS's own),
the credentials (the emulator's own, read from its state directory), where model data goes (a
``file://`` URL under the emulator's state directory, or S3) and where images go (nowhere: the
emulator runs on the same engine; or ECR).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3
import botocore.exceptions as boto_errors

from dockyard.aws_codes import NO_REGION
from dockyard.emulator.security.credentials import LocalCredentials
from dockyard.errors import DockyardError, UsageError

TARGET_ENV = "DOCKYARD_TARGET"
# The same variable registry/ecr.py honours: every AWS API call to an emulator (moto in the tests).
AWS_ENDPOINT_ENV = "DOCKYARD_AWS_ENDPOINT_URL"
ROLE_ENV = "DOCKYARD_ROLE_ARN"
LOCAL_REGION = "us-east-1"
CREDENTIALS_HINT = (
    "configure them with `aws configure`, the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment "
    "variables, or --profile (for an SSO profile, run `aws sso login` first)"
)

TargetName = Literal["local", "aws"]


@dataclass(frozen=True)
class Target:
    name: TargetName
    region: str
    endpoint_url: str | None  # None: AWS's own endpoints
    session: boto3.session.Session = field(repr=False, compare=False)
    profile: str | None = None
    role: str | None = None  # ExecutionRoleArn for CreateModel
    state_dir: Path | None = None  # local: the emulator's state directory (model data, logs)

    @property
    def is_local(self) -> bool:
        return self.name == "local"

    def client(self, service: str) -> Any:
        """A boto3 client; typed Any because callers go through Aws.call by operation name."""
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]


def target_name(name: str | None) -> TargetName:
    chosen = name or os.environ.get(TARGET_ENV) or "local"
    if chosen == "local":
        return "local"
    if chosen == "aws":
        return "aws"
    where = "--target" if name else TARGET_ENV
    raise UsageError(f"{where} must be local or aws, got {chosen!r}")


def resolve_target(
    target: str | Target | None = None,
    *,
    region: str | None = None,
    profile: str | None = None,
    role: str | None = None,
    emulator_url: str | None = None,
) -> Target:
    """The target named by the arguments, else by $DOCKYARD_TARGET, else ``local``.

    ``local`` starts the emulator in the background when none is running.
    """
    if isinstance(target, Target):
        return target
    name = target_name(target)
    role = role or os.environ.get(ROLE_ENV) or None
    if name == "local":
        if profile is not None:
            raise UsageError("--profile applies to --target aws; the local emulator needs no credentials")
        url, state_dir = _emulator(emulator_url)
        credentials = _local_credentials(state_dir)
        session = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            region_name=region or LOCAL_REGION,
        )
        return Target("local", region or LOCAL_REGION, url, session, None, role, state_dir)
    if emulator_url is not None:
        raise UsageError("--emulator-url applies to --target local")
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except boto_errors.ProfileNotFound as exc:
        raise UsageError(f"{exc}; check --profile (or AWS_PROFILE) against ~/.aws/config") from None
    if session.region_name is None:
        raise UsageError(NO_REGION)
    endpoint = os.environ.get(AWS_ENDPOINT_ENV) or None
    return Target("aws", session.region_name, endpoint, session, profile, role, None)


def _emulator(url: str | None) -> tuple[str, Path | None]:
    from dockyard.emulator.process import ensure_running, probe

    if url is None:
        url = ensure_running()
    answer = probe(url)
    if answer is None:
        raise DockyardError(
            f"no dockyard emulator answers at {url}; start one with `dockyard emulator up --detach` "
            "or leave out --emulator-url to let dockyard start one"
        )
    state_dir = answer.get("state_dir")
    return url.rstrip("/"), Path(state_dir) if isinstance(state_dir, str) else None


def emulator_credentials(url: str | None = None) -> LocalCredentials:
    """The credentials the emulator at ``url`` (default: the running one) checks signatures against."""
    return _local_credentials(_emulator(url)[1])


def _local_credentials(state_dir: Path | None) -> LocalCredentials:
    # The emulator checks signatures against its own secret, kept in its state directory.
    from dockyard.emulator.security.credentials import SECRET_ENV, local_credentials

    if state_dir is None:
        if os.environ.get(SECRET_ENV):
            return local_credentials(Path("."))
        raise DockyardError(f"the emulator did not say where its state is; set {SECRET_ENV} to its secret")
    return local_credentials(state_dir)
