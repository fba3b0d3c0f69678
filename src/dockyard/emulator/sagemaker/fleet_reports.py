"""The control plane's record of what the fleet did: its :class:`FleetEvents`, written to the store.

The fleet holds this object, not the provider: data flows one way (provider -> fleet -> these reports ->
store). A report is applied only if it is about the deployment the endpoint is waiting for, so a late
report of superseded work is ignored. Reports come on the fleet's worker threads and take the store's
``changing`` lock, as requests do, around their read-check-write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from dockyard.emulator.context import ResourceKey
from dockyard.emulator.sagemaker.deployment import DeploymentSpec
from dockyard.emulator.sagemaker.domain import (
    DELETING,
    FAILED,
    IN_SERVICE,
    OUT_OF_SERVICE,
    UPDATING,
    Endpoint,
)
from dockyard.emulator.sagemaker.store import Store

log = logging.getLogger("dockyard.emulator.sagemaker")


class FleetReports:
    """Implements :class:`~dockyard.emulator.sagemaker.deployment.FleetEvents` and
    :class:`~dockyard.emulator.sagemaker.availability.AvailabilityEvents`."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def deployment_succeeded(self, spec: DeploymentSpec) -> None:
        with self.store.changing:
            endpoint = self.store.get(Endpoint, spec.account, spec.region, spec.endpoint_name)
            if endpoint is None or endpoint.pending != spec:
                log.debug("ignored a report on a deployment of %s nobody waits for", spec.endpoint)
                return
            now = self.clock()
            self.store.put(
                endpoint.moved_to(
                    IN_SERVICE,
                    now,
                    serving=spec,
                    config_name=spec.config_name,
                    pending=None,
                    pending_config=None,
                    pending_since=None,
                    failure_reason=None,
                    deployed_at=now,
                )
            )

    def deployment_failed(self, spec: DeploymentSpec, reason: str) -> None:
        with self.store.changing:
            endpoint = self.store.get(Endpoint, spec.account, spec.region, spec.endpoint_name)
            if endpoint is None:
                return
            now = self.clock()
            if endpoint.pending == spec and endpoint.status == UPDATING:
                # The new fleet never took traffic: the old one serves on, the failure is recorded.
                updated = endpoint.moved_to(
                    IN_SERVICE,
                    now,
                    pending=None,
                    pending_config=None,
                    pending_since=None,
                    failure_reason=reason,
                )
            elif endpoint.pending == spec or (
                endpoint.status in (IN_SERVICE, OUT_OF_SERVICE) and endpoint.serving == spec
            ):
                # A new endpoint that never came up, or a serving one that could not be brought back.
                updated = endpoint.moved_to(
                    FAILED, now, pending=None, pending_since=None, failure_reason=reason
                )
            else:
                log.debug("ignored a failure of a deployment of %s nobody waits for", spec.endpoint)
                return
            self.store.put(updated)

    def endpoint_removed(self, endpoint: ResourceKey) -> None:
        with self.store.changing:
            record = self.store.get(Endpoint, endpoint.account, endpoint.region, endpoint.name)
            if record is not None and record.status == DELETING:
                self.store.delete(Endpoint, endpoint.account, endpoint.region, endpoint.name)

    def endpoint_out_of_service(self, spec: DeploymentSpec, reason: str) -> bool:
        with self.store.changing:
            endpoint = self.store.get(Endpoint, spec.account, spec.region, spec.endpoint_name)
            if endpoint is None or endpoint.serving != spec:
                return False
            if endpoint.status == IN_SERVICE:
                self.store.put(endpoint.moved_to(OUT_OF_SERVICE, self.clock(), failure_reason=reason))
            elif endpoint.status == OUT_OF_SERVICE and endpoint.failure_reason != reason:
                self.store.put(replace(endpoint, failure_reason=reason))  # the cause changed
            return endpoint.status in (IN_SERVICE, OUT_OF_SERVICE)

    def endpoint_back_in_service(self, spec: DeploymentSpec) -> None:
        with self.store.changing:
            endpoint = self.store.get(Endpoint, spec.account, spec.region, spec.endpoint_name)
            if endpoint is not None and endpoint.status == OUT_OF_SERVICE and endpoint.serving == spec:
                self.store.put(endpoint.moved_to(IN_SERVICE, self.clock(), failure_reason=None))
