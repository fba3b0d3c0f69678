"""``dockyard deploy``: from a project directory to an endpoint that answers its sample request.

Build (the engine's cache makes an unchanged project a no-op), register, CreateEndpointConfig, then
CreateEndpoint, or UpdateEndpoint when the endpoint runs another config (SageMaker, and the emulator,
bring up the new fleet before retiring the old one). Endpoint configs are named by content like
models, so "the endpoint already runs this config" means "up to date": no call that changes anything.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dockyard.config import NAME_PATTERN, ProjectConfig, load_config
from dockyard.errors import DockyardError, UsageError
from dockyard.instance_types import instance_type as known_instance_type
from dockyard.lifecycle.calls import Aws, Call
from dockyard.lifecycle.invoke import Invocation, invoke_endpoint
from dockyard.lifecycle.register import (
    Registration,
    content_name,
    default_image,
    execution_role,
    package_arn,
    register_model,
)
from dockyard.lifecycle.target import TargetLike, resolve_target

if TYPE_CHECKING:
    from dockyard.image.builder import Progress as BuildProgress

TRANSITIONAL = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
DEFAULT_VARIANT = "AllTraffic"
_VARIANT = re.compile(r"^(?P<name>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})=(?P<weight>[0-9.]+)(@(?P<model>\S+))?$")

Action = Literal["created", "updated", "up to date"]


class DeployError(DockyardError):
    """The endpoint did not reach InService with the new config."""


@dataclass(frozen=True)
class VariantState:
    name: str
    current_instances: int | None
    desired_instances: int | None
    weight: float | None
    status: str | None  # the latest VariantStatus entry, e.g. Creating, ActivatingTraffic


@dataclass(frozen=True)
class EndpointState:
    name: str
    status: str
    config_name: str | None
    failure_reason: str | None
    variants: tuple[VariantState, ...] = ()

    @classmethod
    def from_description(cls, described: dict[str, Any]) -> EndpointState:
        variants = tuple(
            VariantState(
                variant["VariantName"],
                variant.get("CurrentInstanceCount"),
                variant.get("DesiredInstanceCount"),
                variant.get("CurrentWeight"),
                (variant.get("VariantStatus") or [{}])[-1].get("Status"),
            )
            for variant in described.get("ProductionVariants", [])
        )
        return cls(
            described["EndpointName"],
            described["EndpointStatus"],
            described.get("EndpointConfigName"),
            described.get("FailureReason"),
            variants,
        )

    def line(self) -> str:
        """One plain line: ``iris: Creating; AllTraffic 0/1``."""
        counts = "; ".join(
            f"{v.name} {v.current_instances if v.current_instances is not None else '-'}/"
            f"{v.desired_instances if v.desired_instances is not None else '-'}"
            for v in self.variants
        )
        return f"{self.name}: {self.status}" + (f"; {counts}" if counts else "")


@dataclass(frozen=True)
class Deployment:
    target: str
    endpoint_name: str
    config_name: str
    models: list[str]
    action: Action
    status: str | None  # None in a dry run
    registration: Registration | None
    smoke: Invocation | None
    dry_run: bool
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "endpoint_name": self.endpoint_name,
            "config_name": self.config_name,
            "models": self.models,
            "action": self.action,
            "status": self.status,
            "dry_run": self.dry_run,
            "smoke": self.smoke.as_dict() if self.smoke else None,
            "calls": [call.as_dict() for call in self.calls],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class VariantSpec:
    name: str
    weight: float
    model: str | None  # None: the model this deploy registers


def parse_variant(text: str) -> VariantSpec:
    match = _VARIANT.fullmatch(text)
    if match is None:
        raise UsageError(
            f"--variant {text!r}: expected NAME=WEIGHT[@MODEL], e.g. green=0.9 or blue=0.1@iris-1a2b3c4d5e"
        )
    try:
        weight = float(match["weight"])
    except ValueError:
        raise UsageError(f"--variant {text!r}: the weight {match['weight']!r} is not a number") from None
    return VariantSpec(match["name"], weight, match["model"])


def check_arguments(
    config: ProjectConfig,
    endpoint_name: str | None,
    instance_type: str | None,
    instance_count: int,
    variants: Sequence[str | VariantSpec],
) -> tuple[str, str, list[VariantSpec]]:
    """The endpoint's name, instance type and variants, checked before anything is built or called."""
    name = endpoint_name or config.project.name
    if not re.fullmatch(NAME_PATTERN, name):
        raise UsageError(f"{name!r} is not a valid endpoint name: up to 63 letters, digits and hyphens")
    kind = instance_type or config.project.instance_type
    known_instance_type(kind)
    if instance_count < 1:
        raise UsageError(f"--instance-count must be at least 1, got {instance_count}")
    specs = [spec if isinstance(spec, VariantSpec) else parse_variant(spec) for spec in variants]
    specs = specs or [VariantSpec(DEFAULT_VARIANT, 1.0, None)]
    if len({spec.name for spec in specs}) != len(specs):
        raise UsageError("each --variant needs its own name")
    return name, kind, specs


def deploy(
    project_dir: Path = Path("."),
    *,
    endpoint_name: str | None = None,
    instance_type: str | None = None,
    instance_count: int = 1,
    variants: Sequence[str | VariantSpec] = (),
    image: str | None = None,
    no_build: bool = False,
    model_package: str | None = None,
    bucket: str | None = None,
    registry: str | None = None,
    wait: bool = True,
    smoke_test: bool = True,
    timeout: float = 1800,
    poll_interval: float | None = None,
    dry_run: bool = False,
    target: TargetLike = None,
    on_status: Callable[[EndpointState], None] | None = None,
    builder: Callable[[ProjectConfig], str] | None = None,
    build_progress: BuildProgress | None = None,
    on_push: Callable[[Any], None] | None = None,
    on_upload: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] = lambda _message: None,
) -> Deployment:
    """Build if needed, register, and create or update the endpoint; wait for it and smoke-test it.

    The arguments are checked before anything is built; ``builder`` builds the project's image and
    returns its id (default: :func:`dockyard.image.project.build_project` with ``build_progress``)."""
    config = load_config(project_dir.resolve())
    name, kind, specs = check_arguments(config, endpoint_name, instance_type, instance_count, variants)
    aws = Aws(resolve_target(target), dry_run=dry_run, on_push=on_push, on_upload=on_upload)
    interval = poll_interval if poll_interval is not None else (0.5 if aws.target.is_local else 10.0)

    registration: Registration | None = None
    if model_package is not None:
        model = _model_from_package(aws, config.project.name.lower(), package_arn(aws, model_package))
    else:
        if image is None and not no_build and not dry_run:
            if builder is None:
                from dockyard.image.project import build_project

                image = build_project(config, progress=build_progress, warn=warn).image.id
            else:
                image = builder(config)
        registration = register_model(
            aws, config, image or default_image(config), bucket=bucket, registry=registry
        )
        assert registration.model_name is not None
        model = registration.model_name

    production_variants = [
        {
            "VariantName": spec.name,
            "ModelName": spec.model or model,
            "InstanceType": kind,
            "InitialInstanceCount": instance_count,
            "InitialVariantWeight": spec.weight,
        }
        for spec in specs
    ]
    config_name = content_name(name, production_variants)
    if aws.find("sagemaker", "describe_endpoint_config", EndpointConfigName=config_name) is None:
        aws.call(
            "sagemaker",
            "create_endpoint_config",
            EndpointConfigName=config_name,
            ProductionVariants=production_variants,
            Tags=[{"Key": "created-by", "Value": "dockyard"}],
        )
    action = _create_or_update(aws, name, config_name, interval, timeout, on_status)
    models = sorted({str(variant["ModelName"]) for variant in production_variants})
    if dry_run:
        return Deployment(
            aws.target.name,
            name,
            config_name,
            models,
            action,
            None,
            registration,
            None,
            True,
            aws.calls,
            aws.notes,
        )
    status = "submitted"
    if wait:
        status = wait_for_endpoint(
            aws, name, config_name, timeout=timeout, interval=interval, on_status=on_status
        ).status
    smoke = None
    if wait and smoke_test and config.project.sample_request:
        sample = config.path(config.project.sample_request)
        try:
            data = sample.read_bytes()
        except OSError as exc:
            raise UsageError(f"the sample request {sample} cannot be read: {exc.strerror}") from None
        smoke = invoke_endpoint(
            aws, name, data, content_type=config.project.sample_type or "application/json"
        )
    return Deployment(
        aws.target.name,
        name,
        config_name,
        models,
        action,
        status,
        registration,
        smoke,
        False,
        aws.calls,
        aws.notes,
    )


def _model_from_package(aws: Aws, project: str, arn: str) -> str:
    """A model made from a model-registry version (SageMaker accepts only approved ones)."""
    role = execution_role(aws.target)
    name = content_name(project, arn, role)
    if aws.find("sagemaker", "describe_model", ModelName=name) is None:
        aws.call(
            "sagemaker",
            "create_model",
            ModelName=name,
            PrimaryContainer={"ModelPackageName": arn},
            **({"ExecutionRoleArn": role} if role else {}),
            Tags=[{"Key": "created-by", "Value": "dockyard"}],
        )
    return name


def _create_or_update(
    aws: Aws,
    name: str,
    config_name: str,
    interval: float,
    timeout: float,
    on_status: Callable[[EndpointState], None] | None,
) -> Action:
    described = aws.find("sagemaker", "describe_endpoint", EndpointName=name)
    if described is None:
        aws.call(
            "sagemaker",
            "create_endpoint",
            EndpointName=name,
            EndpointConfigName=config_name,
            Tags=[{"Key": "created-by", "Value": "dockyard"}],
        )
        return "created"
    state = EndpointState.from_description(described)
    if state.config_name != config_name and state.status in TRANSITIONAL and not aws.dry_run:
        # SageMaker refuses UpdateEndpoint while the endpoint changes; wait for it to settle first.
        state = _poll(aws, name, timeout, interval, on_status, lambda seen: seen.status not in TRANSITIONAL)
    if state.status == "Failed":
        reason = f" ({state.failure_reason})" if state.failure_reason else ""
        raise DeployError(
            f"the endpoint {name} is Failed{reason}; a failed endpoint can only be deleted: "
            f"`dockyard endpoints delete {name}`, then deploy again"
        )
    if state.status == "Deleting":
        raise DeployError(f"the endpoint {name} is being deleted; deploy again once it is gone")
    if state.config_name == config_name:
        return "up to date"
    aws.call("sagemaker", "update_endpoint", EndpointName=name, EndpointConfigName=config_name)
    return "updated"


def wait_for_endpoint(
    aws: Aws,
    name: str,
    config_name: str,
    *,
    timeout: float = 1800,
    interval: float = 0.5,
    on_status: Callable[[EndpointState], None] | None = None,
) -> EndpointState:
    """Poll until the endpoint is InService on ``config_name``; raise when it fails or rolls back."""
    changing = False

    def settled(state: EndpointState) -> bool:
        nonlocal changing
        changing = changing or state.status in TRANSITIONAL
        if state.status == "InService" and state.config_name == config_name:
            return True
        reason = f": {state.failure_reason}" if state.failure_reason else ""
        if state.status == "Failed":
            raise DeployError(
                f"the endpoint {name} failed{reason}; its containers' logs: `dockyard logs {name}`"
            )
        if state.status in ("UpdateRollbackFailed", "OutOfService"):
            raise DeployError(f"the endpoint {name} is {state.status}{reason}")
        if state.status == "InService" and changing:
            raise DeployError(
                f"the update of {name} to {config_name} did not complete and traffic stays on "
                f"{state.config_name}{reason}; see `dockyard logs {name}`"
            )
        return False

    return _poll(aws, name, timeout, interval, on_status, settled)


# Not boto3's endpoint_in_service waiter: it reports no intermediate state (the progress display), waits
# out OutOfService and UpdateRollbackFailed until its attempts run out, and cannot tell an update that
# rolled back (InService, on the old config) from one that succeeded.
def _poll(
    aws: Aws,
    name: str,
    timeout: float,
    interval: float,
    on_status: Callable[[EndpointState], None] | None,
    done: Callable[[EndpointState], bool],
) -> EndpointState:
    deadline = time.monotonic() + timeout
    while True:
        state = EndpointState.from_description(aws.call("sagemaker", "describe_endpoint", EndpointName=name))
        if on_status is not None:
            on_status(state)
        if done(state):
            return state
        if time.monotonic() > deadline:
            raise DeployError(
                f"the endpoint {name} is still {state.status} after {timeout:g} s; it may yet finish: "
                f"`dockyard endpoints describe {name}` shows its state"
            )
        time.sleep(interval)
