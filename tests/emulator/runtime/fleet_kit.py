"""What the fleet and runtime tests share: images, specs, an events recorder, and leftover checks.

Images come from tests/fixture_images.py (built once per session, removed at its end): the
``dockyard`` image (dockyard's own server; reads /opt/ml/model/weights.json) and the tiny ``faulty``
(a CSV echo server with faults chosen by environment) and ``crash`` images.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker

from dockyard.archive import pack
from dockyard.emulator.context import DEFAULT_ACCOUNT, DEFAULT_REGION, ResourceKey
from dockyard.emulator.route_table import Router
from dockyard.emulator.runtime.invoke import EndpointStatus, Runtime
from dockyard.emulator.sagemaker.deployment import ContainerSpec, DeploymentSpec, VariantDeployment
from dockyard.emulator.sagemaker.instances import LABEL_EMULATOR
from dockyard.emulator.sagemaker.reconciler import Reconciler
from tests.fixture_images import build_fixture_image, write_model

PREFIX = "dy-fleet-"


def key(name: str, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> ResourceKey:
    return ResourceKey(account, region, name)


@dataclass(frozen=True)
class Event:
    kind: str  # succeeded | failed | removed
    endpoint: ResourceKey
    spec: DeploymentSpec | None = None
    reason: str = ""


class Recorder:
    """FleetEvents that remembers every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def _add(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def deployment_succeeded(self, spec: DeploymentSpec) -> None:
        self._add(Event("succeeded", spec.endpoint, spec))

    def deployment_failed(self, spec: DeploymentSpec, reason: str) -> None:
        self._add(Event("failed", spec.endpoint, spec, reason))

    def endpoint_removed(self, endpoint: ResourceKey) -> None:
        self._add(Event("removed", endpoint))

    def wait(self, endpoint: str | ResourceKey, count: int = 1, timeout: float = 90) -> Event:
        """The ``count``-th event of ``endpoint`` (a bare name: in the default account and region)."""
        if isinstance(endpoint, str):
            endpoint = key(endpoint)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                mine = [event for event in self.events if event.endpoint == endpoint]
                if len(mine) >= count:
                    return mine[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no event {count} for {endpoint} within {timeout} s: {self.events}")
                self._changed.wait(left)


def images(client: docker.DockerClient, base_image: str) -> Callable[[str], str]:
    return lambda name: build_fixture_image(client, base_image, name)


def model_archive(directory: Path, weights: list[int] | None = None) -> Path:
    """A model.tar.gz for the dockyard image (a dot product with ``weights``)."""
    model = write_model(directory / "model")
    if weights is not None:
        (model / "weights.json").write_text(f'{{"weights": {weights}}}')
    archive = directory / "model.tar.gz"
    pack(model, archive)
    return archive


def variant(
    image: str,
    name: str = "AllTraffic",
    *,
    model_url: str | None = None,
    count: int = 1,
    weight: float = 1.0,
    timeout: int = 60,
    environment: dict[str, str] | None = None,
) -> VariantDeployment:
    container = ContainerSpec(image=image, model_data_url=model_url, environment=environment or {})
    return VariantDeployment(
        name=name,
        model_name=f"model-{name}",
        container=container,
        instance_type="ml.c5.large",
        instance_count=count,
        weight=weight,
        startup_timeout=timeout,
    )


def deployment(
    endpoint: str,
    *variants: VariantDeployment,
    config: str = "config-1",
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
) -> DeploymentSpec:
    return DeploymentSpec(
        endpoint_name=endpoint,
        endpoint_arn=f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}",
        config_name=config,
        variants=variants,
        account=account,
        region=region,
    )


def reconciler(state_dir: Path, events: Recorder) -> Reconciler:
    """A started fleet with the tests' container prefix, a quick monitor and a short stop grace."""
    # The tests' model archives sit next to the state directory: an allowed root for file:// model data.
    fleet = Reconciler(
        state_dir,
        Router(),
        events,
        model_data_roots=(state_dir.parent,),
        container_prefix=PREFIX,
        monitor_interval=0.3,
        stop_grace=5.0,
    )
    fleet.start()
    return fleet


def runtime_of(fleet: Reconciler, endpoint_status: EndpointStatus, **options: float) -> Runtime:
    """The runtime over ``fleet``'s routes, wired as the emulator wires it."""
    return Runtime(fleet.router, endpoint_status, fleet.report_unreachable, **options)


def containers_of(client: docker.DockerClient, fleet: Reconciler) -> list[str]:
    """Names of every container (running or not) with this fleet's emulator label."""
    label = f"{LABEL_EMULATOR}={fleet.containers.emulator_id}"
    found = client.api.containers(all=True, filters={"label": label})  # one call: no per-container inspect
    return sorted(str(c["Names"][0]).lstrip("/") for c in found)
