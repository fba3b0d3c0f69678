"""Where the deploy commands send their calls: the local emulator or AWS, as one boto3 session.

The two targets differ in the endpoint URL (the emulator's, or AWS's own) and the credentials (for the
emulator, its own: any access key id with the secret kept in its state directory) only: model data
goes to S3 and images under ECR URIs on both, the emulator serving its own S3, ECR and STS on its port.

:class:`TargetOptions` is what a user chose (the five options every lifecycle command takes); it is
checked and turned into a :class:`Target` in one place, :meth:`TargetOptions.resolve`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from dockyard.errors import DockyardError, UsageError

if TYPE_CHECKING:
    import boto3

    from dockyard.emulator.security.credentials import LocalCredentials

TARGET_ENV = "DOCKYARD_TARGET"
# Every AWS API call of the aws target to an emulator of AWS (moto in the tests).
AWS_ENDPOINT_ENV = "DOCKYARD_AWS_ENDPOINT_URL"
ROLE_ENV = "DOCKYARD_ROLE_ARN"
LOCAL_REGION = "us-east-1"
NO_REGION = (
    "no AWS region is configured; pass --region (e.g. --region us-east-1), set AWS_REGION, "
    "or set `region` in ~/.aws/config"
)
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

    @property
    def is_local(self) -> bool:
        return self.name == "local"

    def client(self, service: str) -> Any:
        """A boto3 client; typed Any because callers go through Aws.call by operation name."""
        return self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]


@dataclass(frozen=True)
class TargetOptions:
    """The target as the user gave it (each None: its environment variable or default)."""

    target: str | None = None  # local | aws; default $DOCKYARD_TARGET, else local
    region: str | None = None
    profile: str | None = None  # aws only
    role: str | None = None  # default $DOCKYARD_ROLE_ARN
    emulator_url: str | None = None  # local only

    def resolve(self) -> Target:
        """Check the options against each other and build the target's session.

        ``local`` starts the emulator in the background when none is running.
        """
        # Imported here: the CLI imports this module for TargetOptions, and `dockyard --help` stays fast.
        import boto3
        import botocore.exceptions as boto_errors

        name = target_name(self.target)
        role = self.role or os.environ.get(ROLE_ENV) or None
        if name == "local":
            if self.profile is not None:
                raise UsageError(
                    "--profile applies to --target aws; "
                    "the local emulator's credentials come from its state directory"
                )
            region = self.region or LOCAL_REGION
            url, state_dir = _emulator(self.emulator_url)
            credentials = _local_credentials(state_dir)
            session = boto3.session.Session(
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                region_name=region,
            )
            return Target("local", region, url, session, None, role)
        if self.emulator_url is not None:
            raise UsageError("--emulator-url applies to --target local")
        try:
            session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        except boto_errors.ProfileNotFound as exc:
            raise UsageError(f"{exc}; check --profile (or AWS_PROFILE) against ~/.aws/config") from None
        if session.region_name is None:
            raise UsageError(NO_REGION)
        endpoint = os.environ.get(AWS_ENDPOINT_ENV) or None
        return Target("aws", session.region_name, endpoint, session, self.profile, role)


# What every lifecycle function accepts as its ``target``: a resolved target, the user's options, or
# only a target's name (``"aws"``) with everything else from the environment.
TargetLike: TypeAlias = Target | TargetOptions | str | None


def resolve_target(target: TargetLike = None) -> Target:
    if isinstance(target, Target):
        return target
    if isinstance(target, TargetOptions):
        return target.resolve()
    return TargetOptions(target).resolve()


def target_name(name: str | None) -> TargetName:
    chosen = name or os.environ.get(TARGET_ENV) or "local"
    if chosen == "local":
        return "local"
    if chosen == "aws":
        return "aws"
    where = "--target" if name else TARGET_ENV
    raise UsageError(f"{where} must be local or aws, got {chosen!r}")


def _emulator(url: str | None) -> tuple[str, Path | None]:
    """The emulator's URL: the one given, else $AWS_ENDPOINT_URL when a dockyard emulator answers there
    (the "set one variable" setup), else a running one or a new one; and its state directory."""
    from dockyard.emulator.process import ensure_running, probe

    if url is None:
        global_endpoint = os.environ.get("AWS_ENDPOINT_URL")
        found = global_endpoint and probe(global_endpoint) is not None
        url = global_endpoint if found and global_endpoint else ensure_running()
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
