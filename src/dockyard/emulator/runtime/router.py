"""The routing table: which instances serve each endpoint's variants now, and how one is chosen.

The reconciler (worker threads) builds an immutable :class:`EndpointRoute` per endpoint and swaps it in
whole, so a request sees either the old fleet or the new one, never a mix; the runtime (the event-loop
thread) only reads routes and counts the requests in flight on each :class:`Instance`, which is how
the reconciler knows when an old fleet has drained. Choosing follows SageMaker: a variant by
TargetVariant or at random in proportion to its current weight, then the healthy instance with the
fewest outstanding requests (LEAST_OUTSTANDING_REQUESTS).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit


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
class EndpointRoute:
    endpoint_name: str
    account: str
    region: str
    variants: tuple[VariantRoute, ...] = ()

    def variant(self, name: str) -> VariantRoute | None:
        return next((variant for variant in self.variants if variant.name == name), None)

    def choose_variant(self) -> VariantRoute | None:
        """A variant with a healthy instance, at random in proportion to its weight."""
        candidates = [variant for variant in self.variants if variant.healthy()]
        if not candidates:
            return None
        weights = [max(variant.weight, 0.0) for variant in candidates]
        if sum(weights) <= 0:  # every weight 0: no preference left to honour
            return random.choice(candidates)
        return random.choices(candidates, weights)[0]

    def with_variant(self, variant: VariantRoute) -> EndpointRoute:
        variants = tuple(variant if old.name == variant.name else old for old in self.variants)
        return replace(self, variants=variants)

    def instances(self) -> list[Instance]:
        return [instance for variant in self.variants for instance in variant.instances]


@dataclass
class Router:
    """Endpoint name -> its current route. Writers hold ``lock`` to read-modify-write a route."""

    _routes: dict[str, EndpointRoute] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def get(self, endpoint_name: str) -> EndpointRoute | None:
        return self._routes.get(endpoint_name)

    def set(self, route: EndpointRoute) -> None:
        self._routes[route.endpoint_name] = route  # one dict store: atomic for the readers

    def drop(self, endpoint_name: str) -> EndpointRoute | None:
        return self._routes.pop(endpoint_name, None)

    def names(self) -> list[str]:
        return list(self._routes)
