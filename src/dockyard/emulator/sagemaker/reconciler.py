"""The fleet: makes the containers of each endpoint match its deployment spec, and keeps them healthy.

All Docker side effects of the emulator happen here (through :mod:`instances`), on worker threads, and
every outcome is reported through :class:`FleetEvents`. One deployment step, whatever asked for it:

1. per variant, keep the running instances whose variant digest is unchanged (an update of weights or
   counts only is therefore done in place), adopt matching containers left by an earlier emulator
   process, and start what is missing (model data unpacked once per digest, an absent image pulled
   only when the emulator was started with ``--pull``);
2. wait until every new instance passes /ping within its startup window; if one fails, remove what this
   step started and report the failure: traffic stays where it was;
3. swap the endpoint's route in one store (blue/green), then drain the instances no longer routed to
   (wait for their requests in flight) and stop them.

A monitor thread pings every instance; one that died, or failed ``failure_threshold`` pings in a row,
leaves routing at once and is replaced.

Endpoints are known by their :class:`ResourceKey` (account, region, name) everywhere here, as in the
store: two regions or accounts may each have an endpoint of one name, and they share nothing. The
routing table is given, not owned: the runtime reads the same :class:`Router`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.containers.engine import connect
from dockyard.containers.hardening import HARDENING_VERSION, LABEL_HARDENING
from dockyard.emulator.context import ResourceKey
from dockyard.emulator.route_table import Router
from dockyard.emulator.sagemaker import instance_groups as groups
from dockyard.emulator.sagemaker.availability import GRACE as OUTAGE_GRACE
from dockyard.emulator.sagemaker.availability import Availability, AvailabilityEvents, engine_probe
from dockyard.emulator.sagemaker.collector import GRACE as COLLECT_GRACE
from dockyard.emulator.sagemaker.collector import Collector
from dockyard.emulator.sagemaker.deployment import (
    DeploymentSpec,
    FleetEvents,
    VariantDeployment,
    VariantView,
)
from dockyard.emulator.sagemaker.fleet_views import variant_views
from dockyard.emulator.sagemaker.instances import (
    LABEL_SPEC,
    LABEL_VARIANT,
    Cancelled,
    Containers,
    FleetInstance,
    StartFailure,
    emulator_id,
    variant_digest,
)
from dockyard.emulator.sagemaker.model_data import ModelDataCache, ModelDataError
from dockyard.emulator.sagemaker.routes import Routes
from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from docker import DockerClient

log = logging.getLogger("dockyard.emulator.fleet")

STOP_GRACE = 30.0  # SageMaker: SIGTERM, then SIGKILL 30 s later
DRAIN_TIMEOUT = 70.0  # longer than any request may take (60 s)
MONITOR_INTERVAL = 1.0
COLLECT_INTERVAL = 60.0  # how often unused model data is looked for, besides after each removal
FAILURE_THRESHOLD = 3
RETRY_INTERVAL = 2.0  # between deployments of a serving endpoint while the engine does not answer


@dataclass
class _Fleet:
    """What runs for an endpoint now."""

    spec: DeploymentSpec
    instances: dict[str, list[FleetInstance]] = field(default_factory=dict)  # variant -> instances
    updating: bool = False

    def all(self) -> list[FleetInstance]:
        return [instance for group in self.instances.values() for instance in group]


class Reconciler:
    """Implements :class:`~dockyard.emulator.sagemaker.deployment.Fleet`."""

    def __init__(
        self,
        state_dir: Path,
        router: Router,
        events: FleetEvents,
        *,
        s3_endpoint_url: str | None = None,
        model_data_roots: tuple[Path, ...] = (),
        client_factory: Callable[[], DockerClient] = connect,
        container_prefix: str = "dockyard-ep-",
        monitor_interval: float = MONITOR_INTERVAL,
        failure_threshold: int = FAILURE_THRESHOLD,
        stop_grace: float = STOP_GRACE,
        drain_timeout: float = DRAIN_TIMEOUT,
        pull: bool = False,
        collect_grace: float = COLLECT_GRACE,
        availability: AvailabilityEvents | None = None,
        outage_grace: float = OUTAGE_GRACE,
    ) -> None:
        self.state_dir = state_dir
        self.router = router
        self.events = events
        self.model_data = ModelDataCache(state_dir, s3_endpoint_url, model_data_roots)
        self.containers = Containers(
            client_factory, state_dir, container_prefix, emulator_id(state_dir), pull
        )
        self.collector = Collector(self.model_data, self.containers, collect_grace)
        self.routes = Routes(router, state_dir, self.model_data, self.containers, variant_digest)
        probe = engine_probe(lambda: self.containers.client)  # whether endpoints can take requests:
        self.availability = Availability(availability, probe, outage_grace)  # to ``availability``
        self.monitor_interval = monitor_interval
        self.failure_threshold = failure_threshold
        self.stop_grace = stop_grace
        self.drain_timeout = drain_timeout
        self._fleets: dict[ResourceKey, _Fleet] = {}
        self._locks: defaultdict[ResourceKey, threading.Lock] = defaultdict(threading.Lock)
        self._generation: defaultdict[ResourceKey, int] = defaultdict(int)
        self._workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fleet")
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._suspects: set[str] = set()
        self._replacing: set[str] = set()
        self._monitor: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._monitor = threading.Thread(target=self._watch, name="fleet-monitor", daemon=True)
        self._monitor.start()

    def close(self) -> None:
        """Stop background work; the containers keep running for the next emulator process."""
        self._stopping.set()
        self._wake.set()
        self.containers.closed.set()
        if self._monitor is not None:
            self._monitor.join(timeout=15)  # first: it submits replacements to the workers
        self._workers.shutdown(wait=True, cancel_futures=True)
        for fleet in self._fleets.values():
            for instance in fleet.all():
                self.containers.stop_logs(instance)
        self.containers.end_followers()
        self.containers.close()

    def stop_all(self) -> None:
        """Stop and remove every container this emulator (state directory) started."""
        for endpoint in list(self._generation):
            self._generation[endpoint] += 1
        self._fleets.clear()
        self.router.clear()
        self.containers.remove_all()

    def log_files(self, endpoint: ResourceKey) -> list[Path]:
        return self.containers.log_files(endpoint)

    # ---- Fleet -------------------------------------------------------------------------------------

    def deploy(self, spec: DeploymentSpec) -> None:
        generation = self._bump(spec.endpoint)
        self._workers.submit(self._guarded, self._deploy, spec.endpoint, spec, generation)

    def remove(self, endpoint: ResourceKey) -> None:
        generation = self._bump(endpoint)
        self._workers.submit(self._guarded, self._remove, endpoint, None, generation)

    def view(self, endpoint: ResourceKey) -> tuple[VariantView, ...]:
        fleet = self._fleets.get(endpoint)
        return () if fleet is None else variant_views(fleet.spec, fleet.instances, fleet.updating)

    def report_unreachable(self, endpoint: ResourceKey, instance_id: str) -> None:
        """The runtime could not reach ``instance_id``: check it now (a
        :data:`~dockyard.emulator.route_table.ReportUnreachable`, called from the event loop)."""
        self._suspects.add(instance_id)
        self._wake.set()

    # ---- deployment --------------------------------------------------------------------------------

    def _bump(self, endpoint: ResourceKey) -> int:
        self._generation[endpoint] += 1
        return self._generation[endpoint]

    def _guarded(
        self,
        work: Callable[[ResourceKey, DeploymentSpec | None], None],
        name: ResourceKey,
        spec: DeploymentSpec | None,
        generation: int,
    ) -> None:
        with self._locks[name]:
            if self._generation[name] != generation or self._stopping.is_set():
                return  # superseded while queued
            try:
                work(name, spec)
            except Cancelled:
                log.info("work on endpoint %s was superseded", name)
            except Exception:
                log.exception("fleet work on endpoint %s failed", name)

    def _cancelled(self, name: ResourceKey, generation: int) -> Callable[[], bool]:
        return lambda: self._generation[name] != generation or self._stopping.is_set()

    def _deploy(self, name: ResourceKey, spec: DeploymentSpec | None) -> None:
        assert spec is not None
        cancelled = self._cancelled(name, self._generation[name])
        current = self._fleets.get(name)
        if current is not None:
            current.updating = True
        leftovers: list[dict[str, Any]] = []
        kept: dict[str, list[FleetInstance]] = {}
        started: list[tuple[FleetInstance, VariantDeployment]] = []
        try:
            leftovers = self.containers.labelled(name) if current is None else []  # the engine may be away
            available = current.all() if current is not None else []
            for variant in spec.variants:
                digest = variant_digest(name.name, variant)
                same = [i for i in available if i.digest == digest][: variant.instance_count]
                for instance in same:
                    available.remove(instance)
                group = list(same)
                missing = variant.instance_count - len(group)
                if missing > 0:
                    model_dir = self.model_data.prepare(variant.container, spec.region)
                    self.containers.ensure_image(variant)
                    adoptable = [
                        item["name"]
                        for item in leftovers
                        if item["status"] == "running"
                        and item["labels"].get(LABEL_VARIANT) == variant.name
                        and item["labels"].get(LABEL_SPEC) == digest
                        # one confined as this emulator confines containers, else it is replaced
                        and item["labels"].get(LABEL_HARDENING) == HARDENING_VERSION
                    ][:missing]
                    for container_name in adoptable:
                        leftovers = [item for item in leftovers if item["name"] != container_name]
                        adopted = self.containers.adopt(spec, variant, model_dir, digest, container_name)
                        started.append((adopted, variant))
                        group.append(adopted)
                    for _ in range(variant.instance_count - len(group)):
                        instance = self.containers.start(spec, variant, model_dir, digest)
                        started.append((instance, variant))
                        group.append(instance)
                kept[variant.name] = group
            groups.wait_all_healthy(self.containers, started, cancelled)
        except Exception as exc:  # whatever went wrong, nothing half-made may stay behind
            groups.discard(self.containers, [instance for instance, _ in started], self.stop_grace)
            if current is not None:
                current.updating = False
            else:
                self._discard_names([item["name"] for item in leftovers])
            if isinstance(exc, Cancelled):
                raise
            if current is None and self.availability.engine_down(spec):
                self._retry(spec)  # a serving endpoint the engine's absence keeps from being adopted
                return
            self.events.deployment_failed(spec, groups.step_failure_reason(exc))
            return
        # Blue/green: one store moves all traffic to the new fleet.
        self.routes.set(spec, kept)
        fleet = self._fleets[name] = _Fleet(spec, kept, updating=current is not None)
        serving = fleet.all()
        retired = [i for i in (current.all() if current is not None else []) if i not in serving]
        groups.drain(retired, self.drain_timeout)
        groups.discard(self.containers, retired, self.stop_grace)
        self._discard_names([item["name"] for item in leftovers])
        fleet.updating = False
        self.events.deployment_succeeded(spec)

    def _retry(self, spec: DeploymentSpec) -> None:
        """Deploy ``spec`` again a little later, unless other work on its endpoint came first."""
        generation = self._generation[spec.endpoint]

        def again() -> None:
            if self._generation[spec.endpoint] == generation and not self._stopping.is_set():
                with contextlib.suppress(RuntimeError):  # the emulator closed meanwhile
                    self.deploy(spec)

        timer = threading.Timer(RETRY_INTERVAL, again)
        timer.daemon = True
        timer.start()

    def _discard_names(self, names: list[str]) -> None:
        for container_name in names:
            self.containers.remove_named(container_name)

    def _remove(self, name: ResourceKey, _spec: DeploymentSpec | None) -> None:
        self.routes.drop(name)
        fleet = self._fleets.pop(name, None)
        self.availability.forget(name)
        instances = fleet.all() if fleet is not None else []
        groups.drain(instances, self.drain_timeout)
        groups.discard(self.containers, instances, self.stop_grace)
        known = {i.name for i in instances}
        self._discard_names(
            [item["name"] for item in self.containers.labelled(name) if item["name"] not in known]
        )
        self.collector.collect()  # its model data, unless another endpoint mounts it too
        self.events.endpoint_removed(name)

    # ---- self-healing ------------------------------------------------------------------------------

    def _watch(self) -> None:
        collected = time.monotonic()
        while not self._stopping.is_set():
            self._wake.wait(self.monitor_interval)
            self._wake.clear()
            if time.monotonic() - collected > COLLECT_INTERVAL and not self._stopping.is_set():
                collected = time.monotonic()
                self._workers.submit(self.collector.collect)
            for name, fleet in list(self._fleets.items()):
                for instance in fleet.all():
                    if self._stopping.is_set():
                        return
                    if instance.name in self._replacing:
                        continue
                    self._check(name, instance)
                healthy = sum(1 for instance in fleet.all() if instance.route.healthy)
                self.availability.observe(fleet.spec, healthy, fleet.updating)

    def _check(self, name: ResourceKey, instance: FleetInstance) -> None:
        suspect = instance.name in self._suspects
        self._suspects.discard(instance.name)
        if self.containers.ping(instance):
            instance.failures = 0
            instance.route.healthy = True
            return
        instance.failures += 1
        dead = not self.containers.running(instance)
        if (dead or suspect or instance.failures >= self.failure_threshold) and not self._stopping.is_set():
            instance.route.healthy = False  # out of routing at once
            self._replacing.add(instance.name)
            self._workers.submit(self._replace, name, instance)

    def _replace(self, name: ResourceKey, failing: FleetInstance) -> None:
        try:
            with self._locks[name]:
                fleet = self._fleets.get(name)
                if fleet is None or failing not in fleet.all() or self._stopping.is_set():
                    return
                variant = next(v for v in fleet.spec.variants if v.name == failing.variant)
                generation = self._generation[name]
                model_dir = self.model_data.prepare(variant.container, fleet.spec.region)
                fresh = self.containers.start(fleet.spec, variant, model_dir, failing.digest)
                try:
                    self.containers.wait_healthy(fresh, variant, self._cancelled(name, generation))
                except (StartFailure, Cancelled):
                    self.containers.remove(fresh, 0)
                    raise
                group = [fresh if i is failing else i for i in fleet.instances[variant.name]]
                fleet.instances[variant.name] = group
                self.routes.set(fleet.spec, fleet.instances)
                self.containers.remove(failing, 1.0)
        except (StartFailure, ModelDataError, Cancelled, DockyardError) as exc:
            log.warning("replacing %s of endpoint %s failed: %s", failing.name, name, exc)
        finally:
            self._replacing.discard(failing.name)


def remove_fleet_containers(state_dir: Path, client_factory: Callable[[], DockerClient] = connect) -> None:
    """Stop and remove every container started by the emulator that keeps its state in ``state_dir``
    (which need not be running); their records stay, and the next start deploys them again."""
    containers = Containers(client_factory, state_dir, "", emulator_id(state_dir))
    try:
        containers.remove_all()
    finally:
        containers.close()
