"""Serverless variants (``ServerlessConfig``): a container started on demand, stopped when idle.

Neutral ground, like :mod:`route_table`: the fleet builds a :class:`ServerlessPool` per serverless
variant with the blocking ``start`` and ``stop`` of one container; the runtime acquires its instance for
each request (a cold start when there is none) and the pool's reaper thread stops the container after
``idle_seconds`` without a request (scale to zero). With ProvisionedConcurrency the container, once
started, is kept warm. One container serves up to MaxConcurrency requests at once; past that the
runtime answers ``ThrottlingException``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dockyard.emulator.route_table import Instance

log = logging.getLogger("dockyard.emulator")

IDLE_ENV = "DOCKYARD_SERVERLESS_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 300.0  # SageMaker does not publish its idle period; a few minutes, like it
MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)
MB_PER_VCPU = 2048  # AWS gives CPU in proportion to memory without publishing the ratio: dockyard's


def idle_seconds(environ: Mapping[str, str] | None = None) -> float:
    raw = (os.environ if environ is None else environ).get(IDLE_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_IDLE_SECONDS
    except ValueError:
        return DEFAULT_IDLE_SECONDS
    return value if value > 0 else DEFAULT_IDLE_SECONDS


def vcpus_for(memory_mb: int) -> float:
    return memory_mb / MB_PER_VCPU


@dataclass(eq=False)
class ServerlessPool:
    memory_mb: int
    max_concurrency: int
    provisioned: int
    start: Callable[[], tuple[Instance, object]]  # blocking: a started, healthy container and its handle
    stop: Callable[[object], None]  # blocking
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    instance: Instance | None = None
    last_used: float = 0.0
    cold_starts: int = 0
    _handle: object = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reaper: threading.Thread | None = None
    _closed: threading.Event = field(default_factory=threading.Event)

    def current(self) -> Instance | None:
        instance = self.instance
        return instance if instance is not None and instance.healthy else None

    def cold_start(self) -> Instance:
        """Start the container (blocking; the runtime calls it in a thread, one at a time per pool)."""
        started = time.monotonic()
        with self._lock:  # one that failed (unreachable) is replaced, not left running
            stale, self.instance, self._handle = self._handle, None, None
        if stale is not None:
            self._stop(stale)
        instance, handle = self.start()
        with self._lock:
            self.instance, self._handle = instance, handle
            self.last_used = time.monotonic()
            self.cold_starts += 1
            if self._reaper is None and not self.provisioned:
                self._reaper = threading.Thread(target=self._reap, name="serverless-reaper", daemon=True)
                self._reaper.start()
        log.info(
            "serverless container %s started in %.2f s", instance.instance_id, time.monotonic() - started
        )
        return instance

    def touch(self) -> None:
        self.last_used = time.monotonic()

    def _reap(self) -> None:
        tick = min(1.0, self.idle_seconds / 4)
        while not self._closed.wait(tick):
            with self._lock:
                instance = self.instance
                if instance is None or instance.outstanding > 0:
                    continue
                if time.monotonic() - self.last_used < self.idle_seconds:
                    continue
                handle, self.instance, self._handle = self._handle, None, None
                instance.healthy = False  # out of routing before it stops
            log.info("serverless container %s idle: stopping", instance.instance_id)
            self._stop(handle)

    def _stop(self, handle: object) -> None:
        try:
            self.stop(handle)
        except Exception:
            log.exception("stopping a serverless container failed")

    def close(self) -> None:
        self._closed.set()
