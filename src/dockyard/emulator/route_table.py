"""The routing table: which instances serve each endpoint's variants now, and how one is chosen.

The one contract between the fleet (``sagemaker/``, which writes routes) and the runtime (``runtime/``,
which reads them); neither package imports the other, both get the one :class:`Router` where the
emulator's components are assembled. The reconciler (worker threads) builds an immutable
:class:`EndpointRoute` per endpoint and swaps it in whole, so a request sees either the old fleet or the
new one, never a mix; the runtime (the event-loop thread) only reads routes and counts the requests in
flight on each :class:`Instance`, which is how the reconciler knows when an old fleet has drained.
Choosing follows SageMaker: a variant by TargetVariant or at random in proportion to its current weight,
then the healthy instance with the fewest outstanding requests (LEAST_OUTSTANDING_REQUESTS).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dockyard.emulator.context import ResourceKey
from dockyard.emulator.target_models import ModelSource

if TYPE_CHECKING:
    from dockyard.emulator.serverless import ServerlessPool

# How the runtime tells the fleet that it could not reach an instance (endpoint, instance id): the fleet
# checks that instance at once instead of at its next round. Called from the event loop: must not block.
ReportUnreachable = Callable[[ResourceKey, str], None]


@dataclass(eq=False)
class Instance:
    """One container of a variant. ``healthy`` is cleared (by either side) the moment it is seen failing;
    ``outstanding`` is changed only by the runtime's event loop."""

    instance_id: str
    url: str
    healthy: bool = True
    outstanding: int = 0
    origin: tuple[str, int] = field(init=False)  # (host, port) of ``url``, for the relay

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.origin = (parts.hostname or "127.0.0.1", parts.port or 80)


@dataclass(frozen=True)
class VariantRoute:
    name: str
    weight: float
    instances: tuple[Instance, ...] = ()
    models: ModelSource | None = None  # a multi-model variant: where its TargetModels come from
    serverless: ServerlessPool | None = None  # a serverless variant: its container comes on demand
    # An inference pipeline: (ContainerHostname, variant) of each container in order (the first is
    # this variant; the others are hidden variants, never chosen for traffic themselves).
    pipeline: tuple[tuple[str, str], ...] = ()
    direct: bool = False
    hidden: bool = False

    def healthy(self) -> list[Instance]:
        return [instance for instance in self.instances if instance.healthy]

    def pick(self) -> Instance | None:
        """The healthy instance with the fewest requests in flight (ties broken at random)."""
        best: list[Instance] = []
        for instance in self.instances:
            if not instance.healthy:
                continue
            if not best or instance.outstanding < best[0].outstanding:
                best = [instance]
            elif instance.outstanding == best[0].outstanding:
                best.append(instance)
        if not best:
            return None
        return best[0] if len(best) == 1 else random.choice(best)


@dataclass(frozen=True)
class CaptureSettings:
    """An endpoint config's DataCaptureConfig, as the runtime acts on it (and as the fleet stores it)."""

    destination: str  # DestinationS3Uri: s3://bucket[/prefix]
    sampling_percentage: int
    enabled: bool
    capture_input: bool
    capture_output: bool
    csv_content_types: tuple[str, ...] = ()
    json_content_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class EndpointRoute:
    """``shadows``: the shadow variants, each with its mirrored share of requests (0..1) as its weight."""

    endpoint: ResourceKey
    variants: tuple[VariantRoute, ...] = ()
    shadows: tuple[VariantRoute, ...] = ()
    capture: CaptureSettings | None = None

    def variant(self, name: str) -> VariantRoute | None:
        return next((v for v in self.variants if v.name == name and not v.hidden), None)

    def member(self, name: str) -> VariantRoute | None:
        """Any variant by name, a pipeline's hidden ones included."""
        return next((variant for variant in self.variants if variant.name == name), None)

    def choose_variant(self) -> VariantRoute | None:
        """A variant with a healthy instance, at random in proportion to its weight."""
        candidates = [v for v in self.variants if not v.hidden and (v.serverless is not None or v.healthy())]
        if not candidates:
            return None
        weights = [max(variant.weight, 0.0) for variant in candidates]
        if sum(weights) <= 0:  # every weight 0: no preference left to honour
            return random.choice(candidates)
        return random.choices(candidates, weights)[0]


class Router:
    """Endpoint -> its current route. Only the fleet writes, each endpoint from one thread at a time
    (its lock in the reconciler), and each write is one dict store: readers need no lock."""

    def __init__(self) -> None:
        self._routes: dict[ResourceKey, EndpointRoute] = {}

    def get(self, endpoint: ResourceKey) -> EndpointRoute | None:
        return self._routes.get(endpoint)

    def set(self, route: EndpointRoute) -> None:
        self._routes[route.endpoint] = route

    def drop(self, endpoint: ResourceKey) -> None:
        self._routes.pop(endpoint, None)

    def clear(self) -> None:
        self._routes.clear()
