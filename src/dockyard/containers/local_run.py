"""Start an image the way SageMaker starts it, here: for `dockyard run`, `dockyard check` and the emulator.

SageMaker runs ``docker run IMAGE serve`` with the unpacked model at ``/opt/ml/model`` (read-only), the
model's environment, the instance's CPUs and memory, and probes ``GET /ping`` on port 8080 until it
answers 200 within the startup window. :class:`LocalContainer` does the same with the container's port
published on 127.0.0.1 only, and always removes what it created (container, temporary model directory,
temporary image), also on Ctrl-C.

The model is given to the container in one of two ways:

- ``read-only`` (``run``, the emulator): a read-only bind mount, exactly as on SageMaker.
- ``layer`` (``check``): the model is committed into a throwaway image layer below the container, so
  that anything the server writes there shows up in ``docker diff`` (writes to a bind mount do not).
  The check reports those writes, which would fail on SageMaker's read-only directory.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from dockyard.containers.engine import connect, docker_errors
from dockyard.containers.hardening import hardened_host_config
from dockyard.containers.model_layer import model_tar, writes_under_model_dir
from dockyard.containers.run_spec import (
    CONTAINER_PORT,
    KILL_WAIT,
    LABEL_IMAGE,
    LABEL_ROLE,
    LOG_TAIL,
    MODEL_DIR,
    PING_TIMEOUT,
    POLL_INTERVAL,
    STOP_GRACE,
    ImageInfo,
    Limits,
    ModelAccess,
    RunSpec,
    StopResult,
    inspect_image,
    limits_for,
    limits_of_size,
)
from dockyard.errors import ContainerError, DockyardError, UsageError

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

# What callers have always imported from here.
__all__ = [
    "CONTAINER_PORT",
    "LABEL_IMAGE",
    "LABEL_ROLE",
    "MODEL_DIR",
    "PING_TIMEOUT",
    "STOP_GRACE",
    "ImageInfo",
    "Limits",
    "LocalContainer",
    "ModelAccess",
    "RunSpec",
    "StopResult",
    "inspect_image",
    "limits_for",
]


class LocalContainer:
    """One container started as SageMaker starts it. Use as a context manager: leaving it stops
    (SIGTERM, then SIGKILL after 30 s) and removes the container and everything made for it."""

    def __init__(self, spec: RunSpec, client: DockerClient | None = None) -> None:
        self.spec = spec
        self._owns_client = client is None  # then closing this object closes the client too
        self.client = client or connect()
        self.name = spec.name or f"dockyard-run-{secrets.token_hex(4)}"
        try:
            self.image = inspect_image(self.client, spec.image)
            self.limits = (
                limits_for(self.client, spec.instance_type)
                if spec.memory_mb is None
                else limits_of_size(self.client, spec.memory_mb, spec.cpus or 1.0)
            )
        except BaseException:
            self._close_client()
            raise
        self.container: Container | None = None
        self.ports: dict[int, int] = {}  # container port -> host port on 127.0.0.1
        self.address: str | None = None  # the container's address on spec.network (unpublished ports)
        self._tempdir: Path | None = None
        self._layer_image: str | None = None
        self._log_thread: threading.Thread | None = None
        self._log_stream: Iterator[bytes] | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalContainer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return self._base_url(self.spec.container_port)

    @property
    def reachable(self) -> bool:
        """Whether the server's port has an address here (a container that exited at once has none)."""
        return self.spec.container_port in self.ports or self.address is not None

    def _base_url(self, container_port: int) -> str:
        if container_port in self.ports or self.address is None:
            return f"http://127.0.0.1:{self.host_port_of(container_port)}"
        return f"http://{self.address}:{container_port}"

    @classmethod
    def adopt(cls, spec: RunSpec, client: DockerClient | None = None) -> LocalContainer:
        """The running container called ``spec.name``, started earlier (by another process) from
        ``spec``: taken over as if this object had started it."""
        if spec.name is None:
            raise UsageError("adopting a container needs its name")
        box = cls(spec, client)
        try:
            with docker_errors(f"finding {spec.name}"):
                box.container = box.client.containers.get(spec.name)
            box._read_ports()
        except BaseException:
            box._close_client()
            raise
        return box

    def start(self) -> None:
        spec = self.spec
        image = spec.image
        volumes: dict[str, dict[str, str]] = {}
        model_dir = self._model_directory()
        if model_dir is not None and spec.model_access == "read-only":
            volumes[str(model_dir)] = {"bind": MODEL_DIR, "mode": "ro"}
        elif model_dir is not None:
            image = self._commit_model_layer(model_dir)
        for host, inside in spec.mounts.items():
            volumes[host] = {"bind": inside, "mode": "ro"}
        # Host port 0: the engine picks a free one.
        ports: dict[str, tuple[str, int]] = {f"{spec.container_port}/tcp": ("127.0.0.1", spec.host_port or 0)}
        for port in spec.extra_ports:
            ports[f"{port}/tcp"] = ("127.0.0.1", 0)
        if not spec.publish:
            ports = {}
        with docker_errors(f"creating a container from {spec.image}"):
            self.container = self.client.containers.create(
                image,
                command=["serve"],
                name=self.name,
                environment=dict(spec.environment),
                volumes=volumes,
                ports=ports,
                labels=self._labels(),
                network=spec.network,
                **hardened_host_config(self.limits),
            )
        try:
            with docker_errors(f"starting {spec.image}"):
                self.container.start()
        except DockyardError as exc:
            raise ContainerError(f"{spec.image} did not start with `serve`: {exc.message}") from None
        self._read_ports()

    def _labels(self) -> dict[str, str]:
        # What made a container (or the temporary image, which inherits them), for finding leftovers.
        return {LABEL_ROLE: "local-run", LABEL_IMAGE: self.spec.image, **self.spec.labels}

    def _model_directory(self) -> Path | None:
        model = self.spec.model
        if model is None:
            return None
        if model.is_dir():
            return model.resolve()
        if model.is_file() and model.name.endswith((".tar.gz", ".tgz")):
            from dockyard.archive import unpack

            self._tempdir = Path(tempfile.mkdtemp(prefix="dockyard-model-"))
            unpack(model, self._tempdir / "model")
            return self._tempdir / "model"
        if not model.exists():
            raise UsageError(f"model {model} does not exist; give a model directory or a model.tar.gz")
        raise UsageError(f"model {model} is neither a directory nor a .tar.gz archive")

    def _commit_model_layer(self, model_dir: Path) -> str:
        """An image = the given image + the model at /opt/ml/model, in a layer of its own."""
        with docker_errors(f"preparing the model layer for {self.spec.image}"):
            holder = self.client.containers.create(
                self.image.id, command=["serve"], name=f"{self.name}-prep", labels=self._labels()
            )
            try:
                with model_tar(model_dir) as archive:
                    holder.put_archive("/", archive)
                committed = holder.commit(repository=f"{self.name}-model", tag="check")
            finally:
                holder.remove(force=True)
        self._layer_image = str(committed.id)
        return self._layer_image

    def _read_ports(self) -> None:
        assert self.container is not None
        with docker_errors(f"reading the ports of {self.name}"):
            self.container.reload()
        published: dict[str, Any] = self.container.attrs["NetworkSettings"]["Ports"] or {}
        for key, bindings in published.items():
            if bindings:
                self.ports[int(key.split("/")[0])] = int(bindings[0]["HostPort"])
        if self.spec.network is not None:
            joined = (self.container.attrs["NetworkSettings"].get("Networks") or {}).get(self.spec.network)
            self.address = (joined or {}).get("IPAddress") or None

    def close(self) -> None:
        """Stop (if running) and remove the container; remove the temporary model and image."""
        try:
            self._remove_container()
        finally:
            try:
                if self._layer_image is not None:
                    with docker_errors(f"removing the temporary image of {self.name}"):
                        self.client.images.remove(self._layer_image, force=True)
                    self._layer_image = None
            finally:
                if self._tempdir is not None:
                    shutil.rmtree(self._tempdir, ignore_errors=True)
                    self._tempdir = None
                self._close_client()

    def _close_client(self) -> None:
        if self._owns_client:
            self._owns_client = False
            self.client.close()

    def _remove_container(self) -> None:
        if self.container is None:
            return
        try:
            if self.state()[0] == "running":
                self.stop()
        except KeyboardInterrupt:  # a second Ctrl-C: do not wait for the grace period
            self._signal("SIGKILL")
            raise
        finally:
            with docker_errors(f"removing {self.name}"):
                self.container.remove(force=True)
            self.container = None

    # ---- state -------------------------------------------------------------------------------

    def state(self) -> tuple[str, int]:
        """``(status, exit_code)``, e.g. ("running", 0) or ("exited", 1)."""
        assert self.container is not None
        with docker_errors(f"inspecting {self.name}"):
            self.container.reload()
        state: dict[str, Any] = self.container.attrs["State"]
        return str(state["Status"]), int(state.get("ExitCode") or 0)

    def logs(self, tail: int = LOG_TAIL) -> str:
        assert self.container is not None
        with docker_errors(f"reading the logs of {self.name}"):
            raw: bytes = self.container.logs(tail=tail)
        return raw.decode("utf-8", "replace").rstrip()

    def stream_logs(self, write: Callable[[bytes], None], since: float | None = None) -> None:
        """Copy the container's output to ``write`` from a background thread, until it stops;
        ``since`` (epoch seconds): only what it wrote from then on."""
        assert self.container is not None
        options: dict[str, Any] = {} if since is None else {"since": since}
        with docker_errors(f"reading the logs of {self.name}"):
            stream: Iterator[bytes] = self.container.logs(stream=True, follow=True, **options)

        self._log_stream = stream

        def pump() -> None:
            try:
                for chunk in stream:
                    write(chunk)
            except Exception:  # the container went away, or write() said stop: nothing left to copy
                return
            finally:
                self.stop_logs()

        self._log_thread = threading.Thread(target=pump, name=f"logs-{self.name}", daemon=True)
        self._log_thread.start()

    def stop_logs(self) -> None:
        """Stop copying the container's output (closes the engine's log stream)."""
        stream, self._log_stream = self._log_stream, None
        close = getattr(stream, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):  # closing a stream that already broke
                close()

    def exited_error(self, code: int, when: str) -> ContainerError:
        tail = self.logs()
        lines = f"; its last log lines:\n{tail}" if tail else " without writing any log line"
        return ContainerError(f"the container of {self.spec.image} exited with code {code} {when}{lines}")

    # ---- probing -----------------------------------------------------------------------------

    def host_port_of(self, container_port: int | None = None) -> int:
        return self.ports[container_port or self.spec.container_port]

    def ping(self, container_port: int | None = None) -> httpx.Response:
        return _ping_client().get(f"{self._base_url(container_port or self.spec.container_port)}/ping")

    def wait_ready(self, timeout: float, container_port: int | None = None) -> float:
        """Poll ``GET /ping`` until it answers 200; the seconds that took. A ContainerError names what
        happened instead: the container exited (code and last log lines), /ping answered another
        status, or nothing answered on the port."""
        port = container_port or self.spec.container_port
        started = time.monotonic()
        deadline = started + timeout
        last = "nothing answered"
        while True:
            status, code = self.state()
            if status != "running":
                raise self.exited_error(code, "during startup")
            try:
                response = self.ping(port)
                if response.status_code == 200:
                    return time.monotonic() - started
                last = str(response.status_code)
            except httpx.TimeoutException:
                last = "timeout"
            except httpx.TransportError:
                last = "nothing answered"
            if time.monotonic() >= deadline:
                raise ContainerError(self._not_ready(last, timeout, port))
            time.sleep(POLL_INTERVAL)

    def _not_ready(self, last: str, timeout: float, port: int) -> str:
        window = f"within {timeout:g} s"
        if last == "nothing answered":
            return (
                f"nothing answered on port {port} {window}; the container is running: "
                f"does its server listen on 0.0.0.0:{port}?"
            )
        if last == "timeout":
            return f"GET /ping did not answer within {PING_TIMEOUT:g} s (SageMaker's limit) {window}"
        if last == "404":
            return f"GET /ping answered 404 Not Found {window}: the server on port {port} has no /ping route"
        return f"GET /ping answered {last}, not 200, {window}: the server never reported itself ready"

    # ---- stopping ----------------------------------------------------------------------------

    def stop(self, grace: float = STOP_GRACE) -> StopResult:
        """SIGTERM, then SIGKILL if still running after ``grace`` seconds (SageMaker's shutdown)."""
        self._signal("SIGTERM")
        started = time.monotonic()
        killed = False
        while True:
            status, code = self.state()
            elapsed = time.monotonic() - started
            if status != "running":
                return StopResult(elapsed, code, killed)
            if not killed and elapsed >= grace:
                self._signal("SIGKILL")
                killed = True
            elif killed and elapsed >= grace + KILL_WAIT:
                raise ContainerError(f"{self.name} is still running {KILL_WAIT:g} s after SIGKILL")
            time.sleep(0.1)

    def _signal(self, name: str) -> None:
        assert self.container is not None
        try:
            with docker_errors(f"sending {name} to {self.name}"):
                self.container.kill(signal=name)
        except DockyardError:
            if self.state()[0] == "running":
                raise  # otherwise it had exited already, which is what the signal was for

    def model_writes(self) -> list[str]:
        """Changes under /opt/ml/model in the container's own layer, as "added /opt/ml/model/x"."""
        assert self.container is not None
        with docker_errors(f"listing the changes in {self.name}"):
            changes: list[dict[str, Any]] = self.container.diff() or []
        return writes_under_model_dir(changes)


@functools.cache
def _ping_client() -> httpx.Client:
    """One client for every health check: a new one per ping would build a TLS context (tens of ms of
    CPU) each time, and the emulator pings every instance continuously."""
    return httpx.Client(timeout=PING_TIMEOUT)
