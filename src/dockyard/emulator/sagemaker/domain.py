"""The control plane's resources as plain dataclasses, and the endpoint's lifecycle as a state machine.

Records are immutable: an operation builds the next version with :func:`dataclasses.replace` and the
store saves it whole. Members the emulator only keeps and returns (a variant's VolumeSizeInGB, a model's
VpcConfig, ...) stay in ``definition`` as the request gave them; what the emulator acts on is typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.emulator.context import ResourceKey
from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker.deployment import ContainerSpec, DeploymentSpec


@dataclass(frozen=True)
class Model:
    account: str
    region: str
    name: str
    arn: str
    created: float
    container: ContainerSpec  # what runs: the first container, or the model package's
    definition: dict[str, Any] = field(default_factory=dict)  # CreateModel members, as given
    # An inference pipeline's further containers, with every container's hostname, in order.
    pipeline: tuple[ContainerSpec, ...] = ()
    hostnames: tuple[str, ...] = ()
    direct: bool = False


@dataclass(frozen=True)
class EndpointConfig:
    account: str
    region: str
    name: str
    arn: str
    created: float
    variants: tuple[dict[str, Any], ...]  # ProductionVariants, every member as given
    definition: dict[str, Any] = field(default_factory=dict)  # the other members, as given


@dataclass(frozen=True)
class ModelPackageGroup:
    account: str
    region: str
    name: str
    arn: str
    created: float
    description: str | None = None
    last_version: int = 0  # versions are never reused, even after a delete


@dataclass(frozen=True)
class ModelPackage:
    account: str
    region: str
    name: str  # "<group>/<version>" for a versioned package, else its own name
    arn: str
    created: float
    modified: float
    approval_status: str
    group: str | None = None
    version: int | None = None
    approval_description: str | None = None
    definition: dict[str, Any] = field(default_factory=dict)  # CreateModelPackage members, as given

    @property
    def package_name(self) -> str:
        """What SageMaker calls ModelPackageName: the group's name for a versioned package."""
        return self.group if self.group is not None else self.name


# ---- endpoints ---------------------------------------------------------------------------------

CREATING = "Creating"
IN_SERVICE = "InService"
UPDATING = "Updating"
DELETING = "Deleting"
FAILED = "Failed"
OUT_OF_SERVICE = "OutOfService"

# The statuses an endpoint can move to from each status. Requests and fleet reports both go through
# these: SageMaker refuses to change an endpoint while an operation on it is in progress (delete
# included), and a Failed endpoint can only be deleted. InService -> Failed is the fleet's report that
# a serving deployment could not be brought back (e.g. its image is gone after a restart).
# InService <-> OutOfService is the fleet's report that no instance can take requests (the Docker engine
# gone, every container dead) and that one can again; meanwhile the endpoint may only be deleted.
TRANSITIONS: dict[str, frozenset[str]] = {
    CREATING: frozenset({IN_SERVICE, FAILED}),
    IN_SERVICE: frozenset({UPDATING, DELETING, FAILED, OUT_OF_SERVICE}),
    UPDATING: frozenset({IN_SERVICE}),
    OUT_OF_SERVICE: frozenset({IN_SERVICE, DELETING, FAILED}),
    FAILED: frozenset({DELETING}),
    DELETING: frozenset(),
}


@dataclass(frozen=True)
class Endpoint:
    account: str
    region: str
    name: str
    arn: str
    created: float
    modified: float
    status: str
    config_name: str  # the config now serving (while Creating: the one being created)
    failure_reason: str | None = None
    serving: DeploymentSpec | None = None  # what serves traffic now
    pending: DeploymentSpec | None = None  # what the fleet is bringing up (Creating, Updating)
    pending_config: str | None = None  # UpdateEndpoint's new config (None for a weights/capacity change)
    pending_since: float | None = None
    deployed_at: float | None = None  # when ``serving`` took all traffic (DeployedImages' ResolutionTime)

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.account, self.region, self.name)

    def require(self, status: str) -> None:
        """ValidationException (SageMaker's wording) unless the endpoint may move to ``status``."""
        if status not in TRANSITIONS[self.status]:
            state = {FAILED: "failed", OUT_OF_SERVICE: "out-of-service"}.get(self.status, "in-progress")
            raise ValidationException(f'Cannot update {state} endpoint "{self.arn}".')

    def moved_to(self, status: str, now: float, **changes: Any) -> Endpoint:
        self.require(status)
        return replace(self, status=status, modified=now, **changes)


# ---- transform jobs ----------------------------------------------------------------------------

JOB_IN_PROGRESS = "InProgress"
JOB_COMPLETED = "Completed"
JOB_FAILED = "Failed"
JOB_STOPPING = "Stopping"
JOB_STOPPED = "Stopped"

# A batch transform job's lifecycle, as SageMaker's: it runs, then completes or fails; StopTransformJob
# moves a running job to Stopping, and the runner ends it as Stopped (or Completed/Failed when it had
# finished meanwhile).
JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    JOB_IN_PROGRESS: frozenset({JOB_COMPLETED, JOB_FAILED, JOB_STOPPING}),
    JOB_STOPPING: frozenset({JOB_STOPPED, JOB_COMPLETED, JOB_FAILED}),
    JOB_COMPLETED: frozenset(),
    JOB_FAILED: frozenset(),
    JOB_STOPPED: frozenset(),
}


@dataclass(frozen=True)
class TransformJob:
    account: str
    region: str
    name: str
    arn: str
    created: float
    modified: float
    status: str
    model_name: str
    container: ContainerSpec  # the model's container, as it was when the job was created
    definition: dict[str, Any] = field(default_factory=dict)  # CreateTransformJob members, as given
    failure_reason: str | None = None
    started: float | None = None
    ended: float | None = None

    def moved_to(self, status: str, now: float, **changes: Any) -> TransformJob:
        if status not in JOB_TRANSITIONS[self.status]:
            raise ValidationException(
                f"Transform job {self.name} is {self.status}: it cannot become {status}."
            )
        return replace(self, status=status, modified=now, **changes)
