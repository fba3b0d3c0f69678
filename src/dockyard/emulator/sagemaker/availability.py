"""Whether each endpoint can take requests, as the fleet's monitor sees it, reported to the control plane.

SageMaker's data plane is independent of its control plane, and so is the emulator's: a container that
answers /ping keeps serving while the Docker engine's API is unreachable (its published port does not go
through the engine). The engine being away only means the fleet can neither watch containers through it
nor replace them. What makes an endpoint unable to take requests is therefore *no healthy instance*:
once an endpoint has had none for ``grace`` seconds (at once when the engine does not answer, since then
nothing can heal it), it is reported OutOfService with a sentence naming the cause; when an instance
passes its health check again (the fleet has replaced the dead ones, or re-adopted them), it is reported
back InService.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from dockyard.containers.engine import engine_problem
from dockyard.emulator.context import ResourceKey
from dockyard.emulator.sagemaker.deployment import DeploymentSpec
from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from docker import DockerClient

log = logging.getLogger("dockyard.emulator.fleet")

GRACE = 10.0  # seconds without a healthy instance before an endpoint is reported OutOfService

# None when the engine answers, else a sentence saying that it does not (and why).
EngineProblem = Callable[[], str | None]


class AvailabilityEvents(Protocol):
    """What the monitor reports about an endpoint's ability to take requests (from its thread)."""

    def endpoint_out_of_service(self, spec: DeploymentSpec, reason: str) -> bool:
        """``spec`` serves, but no instance of it can take a request; ``reason`` says why. Whether the
        endpoint is serving ``spec`` (and is now OutOfService)."""

    def endpoint_back_in_service(self, spec: DeploymentSpec) -> None:
        """An instance of ``spec`` takes requests again."""


def no_instance_reason(spec: DeploymentSpec, engine_problem: str | None) -> str:
    """The FailureReason of an endpoint without a healthy instance."""
    if engine_problem is not None:
        return (
            f"{engine_problem}. No instance of endpoint {spec.endpoint_name} passes its health check, and "
            "the local fleet cannot replace them until the engine answers again."
        )
    return (
        f"No instance of endpoint {spec.endpoint_name} passes its health check; the local fleet is "
        "replacing them."
    )


class Availability:
    """Called by the fleet's monitor once per round for each endpoint it runs."""

    def __init__(
        self,
        events: AvailabilityEvents | None,
        engine_problem: EngineProblem,
        grace: float = GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.events = events
        self.engine_problem = engine_problem
        self.grace = grace
        self.clock = clock
        self._without_since: dict[ResourceKey, float] = {}  # endpoint -> first round without a healthy one
        self._reported: dict[ResourceKey, str] = {}  # endpoint -> the reason reported OutOfService
        # Endpoints seen serving since the last outage. The first sight is reported too: an endpoint
        # recorded OutOfService by an earlier emulator process is back once this one sees it healthy.
        self._serving: set[ResourceKey] = set()

    def observe(self, spec: DeploymentSpec, healthy: int, updating: bool) -> None:
        """``healthy`` instances of the endpoint of ``spec`` passed their last health check."""
        if self.events is None or any(variant.serverless for variant in spec.variants):
            return  # a serverless variant has no instance until a request starts one
        endpoint = spec.endpoint
        if healthy > 0:
            self._without_since.pop(endpoint, None)
            if endpoint not in self._serving:
                self._serving.add(endpoint)
                if self._reported.pop(endpoint, None) is not None:
                    log.warning("endpoint %s takes requests again", endpoint)
                self.events.endpoint_back_in_service(spec)
            return
        if updating:
            return  # a deployment step owns the endpoint's status until it ends
        since = self._without_since.setdefault(endpoint, self.clock())
        problem = self.engine_problem()
        if problem is None and self.clock() - since < self.grace:
            return
        reason = no_instance_reason(spec, problem)
        self._serving.discard(endpoint)
        if self._reported.get(endpoint) != reason:
            self._reported[endpoint] = reason
            log.warning("endpoint %s is out of service: %s", endpoint, reason)
        # Said every round while it lasts: a report made while the endpoint was busy is ignored.
        self.events.endpoint_out_of_service(spec, reason)

    def engine_down(self, spec: DeploymentSpec) -> bool:
        """A deployment of ``spec`` failed: when the engine does not answer and ``spec`` is what the
        endpoint serves (an emulator started while the engine was away cannot adopt its containers),
        the endpoint is reported OutOfService and True is returned: the fleet tries again later."""
        if self.events is None:
            return False
        problem = self.engine_problem()
        if problem is None:
            return False
        reason = no_instance_reason(spec, problem)
        self._serving.discard(spec.endpoint)
        self._reported[spec.endpoint] = reason
        return self.events.endpoint_out_of_service(spec, reason)

    def forget(self, endpoint: ResourceKey) -> None:
        """The endpoint's fleet is gone (deleted)."""
        self._without_since.pop(endpoint, None)
        self._reported.pop(endpoint, None)
        self._serving.discard(endpoint)


def engine_probe(client: Callable[[], DockerClient]) -> EngineProblem:
    """An :data:`EngineProblem` for the engine ``client()`` connects to (which may fail to connect)."""

    def problem() -> str | None:
        try:
            connected = client()
        except DockyardError:
            return engine_problem()  # the same sentence, from a client made for the question
        return engine_problem(connected)

    return problem
