"""The routing table's entries, as the fleet writes them: each variant's instances, plus what the
runtime needs for the modes whose containers are not all started at deployment: a multi-model
variant's model source, a serverless variant's pool (kept across route rebuilds: it holds the
container started on demand)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.emulator.context import ResourceKey
from dockyard.emulator.route_table import EndpointRoute, Instance, Router, VariantRoute
from dockyard.emulator.sagemaker.deployment import DeploymentSpec, VariantDeployment
from dockyard.emulator.sagemaker.model_data import ModelDataCache
from dockyard.emulator.sagemaker.multi_model import model_source
from dockyard.emulator.serverless import ServerlessPool, idle_seconds

if TYPE_CHECKING:
    from dockyard.emulator.sagemaker.instances import Containers, FleetInstance

STOP_GRACE = 5.0


class Routes:
    def __init__(
        self,
        router: Router,
        state_dir: Path,
        model_data: ModelDataCache,
        containers: Containers,
        digest_of: Callable[[str, VariantDeployment], str],
    ) -> None:
        self.router = router
        self.state_dir = state_dir
        self.model_data = model_data
        self.containers = containers
        self.digest_of = digest_of
        self._pools: dict[tuple[ResourceKey, str], ServerlessPool] = {}
        self._lock = threading.Lock()

    def set(self, spec: DeploymentSpec, instances: Mapping[str, list[FleetInstance]]) -> None:
        self.router.set(self.route(spec, instances))

    def drop(self, endpoint: ResourceKey) -> None:
        self.router.drop(endpoint)
        with self._lock:
            gone = [key for key in self._pools if key[0] == endpoint]
            pools = [self._pools.pop(key) for key in gone]
        for pool in pools:
            pool.close()  # its container goes with the endpoint's other labelled containers

    def route(self, spec: DeploymentSpec, instances: Mapping[str, list[FleetInstance]]) -> EndpointRoute:
        # A shadow variant's weight is relative to the production variants': its share of the requests.
        total = sum(v.weight for v in spec.variants if not v.shadow) or 1.0
        variants: list[VariantRoute] = []
        shadows: list[VariantRoute] = []
        for variant in spec.variants:
            digest = self.digest_of(spec.endpoint_name, variant)
            models = model_source(self.state_dir, self.model_data, variant, digest, spec.region)
            pool = self._pool(spec, variant, digest) if variant.serverless else None
            routes = tuple(instance.route for instance in instances.get(variant.name, []))
            weight = variant.weight / total if variant.shadow else variant.weight
            route = VariantRoute(
                variant.name,
                weight,
                routes,
                models,
                pool,
                variant.pipeline,
                variant.direct,
                variant.hidden,
            )
            (shadows if variant.shadow else variants).append(route)
        capture = spec.capture if spec.capture is not None and spec.capture.enabled else None
        return EndpointRoute(spec.endpoint, tuple(variants), tuple(shadows), capture)

    def _pool(self, spec: DeploymentSpec, variant: VariantDeployment, digest: str) -> ServerlessPool:
        key = (spec.endpoint, digest)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                return pool
            config = variant.serverless or {}

            def start() -> tuple[Instance, object]:
                model_dir = self.model_data.prepare(variant.container, spec.region)
                self.containers.ensure_image(variant)
                instance = self.containers.start(spec, variant, model_dir, digest)
                try:
                    self.containers.wait_healthy(instance, variant, lambda: False)
                except BaseException:
                    self.containers.remove(instance, STOP_GRACE)
                    raise
                instance.route.healthy = True
                return instance.route, instance

            def stop(handle: object) -> None:
                self.containers.remove(handle, STOP_GRACE)  # type: ignore[arg-type]

            pool = ServerlessPool(
                memory_mb=int(config.get("MemorySizeInMB", 1024)),
                max_concurrency=int(config.get("MaxConcurrency", 1)),
                provisioned=int(config.get("ProvisionedConcurrency", 0)),
                start=start,
                stop=stop,
                idle_seconds=idle_seconds(),
            )
            self._pools[key] = pool
            return pool
