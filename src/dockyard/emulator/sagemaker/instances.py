"""The containers of the fleet: started, found again, health-checked and removed, with their logs.

Every container carries labels that say whose it is (this state directory's emulator), which endpoint,
variant and variant spec (a digest) it serves, the endpoint named by account, region and name, so that
a later emulator process can adopt it instead of restarting it (and never adopts another region's), and
so that nothing it started can be left behind unnoticed. Its output is appended to
``<state>/logs/<account>/<region>/<endpoint>/<variant>/<container>.log`` (:func:`endpoint_log_dir`). Failures
are reported as :class:`StartFailure` with SageMaker's FailureReason wording and the last log lines
(:mod:`failure_reasons`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from dockyard.containers.engine import docker_errors
from dockyard.containers.hardening import HARDENING_VERSION, LABEL_HARDENING
from dockyard.containers.local_run import LABEL_ROLE, LocalContainer, RunSpec, inspect_image
from dockyard.emulator.context import ResourceKey
from dockyard.emulator.ecr.uris import missing_image_reason
from dockyard.emulator.ecr.uris import parse_image as parse_ecr_image
from dockyard.emulator.route_table import Instance
from dockyard.emulator.sagemaker.deployment import DeploymentSpec, VariantDeployment
from dockyard.emulator.sagemaker.failure_reasons import cannot_start, with_log_tail
from dockyard.emulator.sagemaker.multi_model import run_options
from dockyard.emulator.sagemaker.networks import network_for
from dockyard.emulator.settings import PULL_ENV
from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from docker import DockerClient

ROLE = "emulator"
LABEL_EMULATOR = "dockyard.emulator"  # which emulator (state directory) started it
LABEL_ACCOUNT = "dockyard.account"
LABEL_REGION = "dockyard.region"
LABEL_ENDPOINT = "dockyard.endpoint"
LABEL_VARIANT = "dockyard.variant"
LABEL_SPEC = "dockyard.spec"  # digest of the variant's fleet-defining fields
LABEL_INSTANCE = "dockyard.instance"
LOG_TAIL = 40  # read, then reduced to what fits in FailureReason
POLL = 0.25


class StartFailure(Exception):
    """An instance could not be brought up; ``reason`` is the endpoint's FailureReason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Cancelled(Exception):
    """The work was superseded (a newer deployment, a removal, the emulator closing)."""


def emulator_id(state_dir: Path) -> str:
    """What the containers of the emulator that keeps its state in ``state_dir`` are labelled with."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]


def endpoint_log_dir(state_dir: Path, endpoint: ResourceKey) -> Path:
    """Where the output of ``endpoint``'s containers is kept: ``<variant>/<container>.log`` below it."""
    return state_dir / "logs" / endpoint.account / endpoint.region / endpoint.name


def variant_digest(endpoint_name: str, variant: VariantDeployment) -> str:
    """What makes a variant's containers interchangeable: everything but its weight and count."""
    fields = dataclasses.asdict(variant)
    fields.pop("weight")
    fields.pop("instance_count")
    fields.pop("shadow")  # the same containers serve as a production or a shadow variant
    text = json.dumps([endpoint_name, fields], sort_keys=True, default=dict)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(eq=False)
class FleetInstance:
    """One container of a variant and its entry in the routing table."""

    box: LocalContainer
    route: Instance
    variant: str
    digest: str
    failures: int = 0  # consecutive failed health checks

    @property
    def name(self) -> str:
        return self.box.name


class Containers:
    """Docker work for the fleet of one emulator (one state directory)."""

    def __init__(
        self,
        client_factory: Callable[[], DockerClient],
        state_dir: Path,
        prefix: str,
        emulator_id: str,
        pull: bool = False,
    ) -> None:
        self._client_factory = client_factory
        self.pull = pull  # whether a missing image may be pulled
        self._client: DockerClient | None = None
        self._client_lock = threading.Lock()
        self.state_dir = state_dir
        self.prefix = prefix
        self.emulator_id = emulator_id
        self.closed = threading.Event()  # stops the log pumps
        # A busy container writes an access-log line per request. Copying them in this process costs
        # about 35 µs of CPU per request (the SDK's frame parsing, GIL contention with the runtime's
        # event loop), so the docker CLI does it, when there is one, straight into the log file.
        self.docker_cli = shutil.which("docker")
        self._followers: dict[str, subprocess.Popen[bytes]] = {}  # container name -> `docker logs -f`
        self._followers_lock = threading.Lock()

    @property
    def client(self) -> DockerClient:
        with self._client_lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def close(self) -> None:
        """Close the engine client (a later call opens a new one)."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # ---- starting --------------------------------------------------------------------------------

    def ensure_image(self, variant: VariantDeployment) -> None:
        """The variant's image is here, or is pulled when pulls are allowed; else SageMaker's
        missing-image reason."""
        image = variant.container.image
        try:
            inspect_image(self.client, image)
            return
        except DockyardError:
            pass
        if parse_ecr_image(image) is not None:
            # The local ECR's images live in this engine; there is no remote ECR to pull from.
            raise StartFailure(missing_image_reason(variant.name, image))
        if not self.pull:
            raise StartFailure(
                f"{_missing_image(variant)} (The image {image} is not in the local Docker engine and the "
                f"emulator does not pull images unless allowed: run `docker pull {image}`, or start the "
                f"emulator with --pull ({PULL_ENV}=1).)"
            )
        try:
            with docker_errors(f"pulling {image}"):
                self.client.images.pull(image)
        except DockyardError as exc:
            raise StartFailure(
                f"{_missing_image(variant)} (The image {image} is not in the local Docker engine and "
                f"could not be pulled: {exc.message})"
            ) from None

    def start(
        self, spec: DeploymentSpec, variant: VariantDeployment, model_dir: Path | None, digest: str
    ) -> FleetInstance:
        name = f"{self.prefix}{spec.endpoint_name}-{variant.name}-{secrets.token_hex(3)}"
        run = self._run_spec(spec, variant, model_dir, digest, name)
        box = LocalContainer(run, self.client)
        try:
            box.start()
        except DockyardError as exc:
            box.close()
            raise StartFailure(cannot_start(variant, exc.message)) from None
        # A container that exited at once has no address; its health check reports the exit.
        url = box.url if box.reachable else "http://127.0.0.1:0"
        instance = FleetInstance(box, Instance(name, url, healthy=False), variant.name, digest)
        self._pump_logs(spec.endpoint, instance, since=None)
        return instance

    def adopt(
        self, spec: DeploymentSpec, variant: VariantDeployment, model_dir: Path | None, digest: str, name: str
    ) -> FleetInstance:
        box = LocalContainer.adopt(self._run_spec(spec, variant, model_dir, digest, name), self.client)
        instance = FleetInstance(box, Instance(name, box.url, healthy=False), variant.name, digest)
        log = self._log_path(spec.endpoint, instance)
        self._pump_logs(spec.endpoint, instance, since=log.stat().st_mtime if log.exists() else None)
        return instance

    def _run_spec(
        self, spec: DeploymentSpec, variant: VariantDeployment, model_dir: Path | None, digest: str, name: str
    ) -> RunSpec:
        labels = {
            LABEL_ROLE: ROLE,
            LABEL_EMULATOR: self.emulator_id,
            LABEL_ACCOUNT: spec.account,
            LABEL_REGION: spec.region,
            LABEL_ENDPOINT: spec.endpoint_name,
            LABEL_VARIANT: variant.name,
            LABEL_SPEC: digest,
            LABEL_INSTANCE: name,
            LABEL_HARDENING: HARDENING_VERSION,
        }
        isolated = variant.container.network_isolation
        return RunSpec(
            image=variant.container.image,
            model=model_dir,
            instance_type=variant.instance_type,
            name=name,
            labels=labels,
            network=network_for(self.client, isolated),
            publish=not isolated,
            **run_options(self.state_dir, variant, digest),
        )

    def wait_healthy(
        self, instance: FleetInstance, variant: VariantDeployment, cancelled: Callable[[], bool]
    ) -> None:
        """Poll /ping until 200 within the variant's startup window, as SageMaker does."""
        box = instance.box
        deadline = time.monotonic() + variant.startup_timeout
        while True:
            if cancelled():
                raise Cancelled
            try:
                status, code = box.state()
            except DockyardError as exc:
                raise StartFailure(cannot_start(variant, exc.message)) from None
            if status != "running":
                detail = f"The container exited with code {code} during startup."
                raise StartFailure(with_log_tail(cannot_start(variant, detail), self.tail(instance)))
            if self.ping(instance):
                instance.route.healthy = True
                return
            if time.monotonic() >= deadline:
                reason = (
                    f"The primary container for production variant {variant.name} did not pass the ping "
                    "health check. Please check CloudWatch logs for this endpoint."
                )
                raise StartFailure(with_log_tail(reason, self.tail(instance)))
            time.sleep(POLL)

    # ---- watching --------------------------------------------------------------------------------

    @staticmethod
    def ping(instance: FleetInstance) -> bool:
        try:
            return instance.box.ping().status_code == 200
        except httpx.HTTPError:
            return False

    @staticmethod
    def running(instance: FleetInstance) -> bool:
        try:
            return instance.box.state()[0] == "running"
        except DockyardError:
            return False

    @staticmethod
    def tail(instance: FleetInstance) -> str:
        try:
            return instance.box.logs(LOG_TAIL)
        except DockyardError:
            return ""

    # ---- finding and removing ----------------------------------------------------------------------

    def labelled(self, endpoint: ResourceKey | None = None) -> list[dict[str, Any]]:
        """``{"name", "status", "labels"}`` of this emulator's containers (of one endpoint)."""
        filters = [f"{LABEL_EMULATOR}={self.emulator_id}"]
        if endpoint is not None:
            filters += [
                f"{LABEL_ACCOUNT}={endpoint.account}",
                f"{LABEL_REGION}={endpoint.region}",
                f"{LABEL_ENDPOINT}={endpoint.name}",
            ]
        with docker_errors("listing the emulator's containers"):
            # The plain list (one call): the SDK's Container objects inspect each one, which races with
            # containers being removed meanwhile.
            found: list[dict[str, Any]] = self.client.api.containers(all=True, filters={"label": filters})
        return [
            {"name": str(c["Names"][0]).lstrip("/"), "status": c["State"], "labels": c.get("Labels") or {}}
            for c in found
        ]

    def remove(self, instance: FleetInstance, grace: float) -> None:
        instance.route.healthy = False
        try:
            if self.running(instance):
                instance.box.stop(grace)
        except DockyardError:
            pass  # it is being removed with force next
        finally:
            instance.box.close()
            self.end_follower(instance.name, wait=5)

    def remove_all(self) -> None:
        """Remove every container this emulator (state directory) started, of every endpoint."""
        found = self.labelled()
        if found:
            with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
                list(pool.map(lambda item: self.remove_named(item["name"]), found))

    def remove_named(self, name: str) -> None:
        with contextlib.suppress(DockyardError), docker_errors(f"removing {name}"):
            self.client.containers.get(name).remove(force=True)  # gone already: fine
        self.end_follower(name, wait=5)

    # ---- logs ------------------------------------------------------------------------------------

    def _log_path(self, endpoint: ResourceKey, instance: FleetInstance) -> Path:
        return endpoint_log_dir(self.state_dir, endpoint) / instance.variant / f"{instance.name}.log"

    def log_files(self, endpoint: ResourceKey) -> list[Path]:
        return sorted(endpoint_log_dir(self.state_dir, endpoint).glob("*/*.log"))

    def _pump_logs(self, endpoint: ResourceKey, instance: FleetInstance, since: float | None) -> None:
        path = self._log_path(endpoint, instance)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.docker_cli is not None:
            self.end_follower(instance.name, wait=0)  # never two copiers of one container
            follower = _follow_logs(self.docker_cli, instance.name, path, since)
            with self._followers_lock:
                self._followers[instance.name] = follower
            return
        with contextlib.suppress(DockyardError):  # already gone: its health check will say so
            instance.box.stream_logs(_LogWriter(path, self.closed), since=since)

    def stop_logs(self, instance: FleetInstance) -> None:
        """Stop copying the instance's output (the next emulator process copies from where this stopped)."""
        instance.box.stop_logs()
        self.end_follower(instance.name, wait=0)

    def end_follower(self, name: str, wait: float) -> None:
        """Reap the log copier of container ``name``: it ends by itself once the container is gone, so
        wait up to ``wait`` seconds for that, then stop it."""
        with self._followers_lock:
            follower = self._followers.pop(name, None)
        if follower is None:
            return
        try:
            follower.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            follower.terminate()
            follower.wait()

    def end_followers(self) -> None:
        with self._followers_lock:
            names = list(self._followers)
        for name in names:
            self.end_follower(name, wait=0)


def _follow_logs(docker_cli: str, container: str, path: Path, since: float | None) -> subprocess.Popen[bytes]:
    command = [docker_cli, "logs", "--follow"]
    if since is not None:
        command += ["--since", f"{since:.6f}"]
    with path.open("ab") as log:
        return subprocess.Popen(  # it ends by itself when the container is removed
            [*command, container], stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )


class _LogWriter:
    """Appends a container's output to its log file: one descriptor for the container's life (a busy
    container writes an access-log line per request), closed when the pump lets go of the writer."""

    def __init__(self, path: Path, closed: threading.Event) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.closed = closed
        weakref.finalize(self, os.close, self.fd)

    def __call__(self, chunk: bytes) -> None:
        if self.closed.is_set():
            raise Cancelled  # ends the pump: a later emulator process copies from here on
        os.write(self.fd, chunk)


def _missing_image(variant: VariantDeployment) -> str:
    return (
        "Please make sure all images included in the model for the production variant "
        f"{variant.name} exist, and that the execution role used to create the model has "
        "permissions to access them."
    )
