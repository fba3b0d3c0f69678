"""Removes unpacked model data that nothing uses any more, so that deleted endpoints leave nothing behind.

A directory under ``<state>/models/`` is in use while a container of this emulator (running or stopped)
mounts it, or for ``grace`` seconds after :class:`ModelDataCache` last handed it out (a deployment between
unpacking and starting its containers). Anything else is removed: its endpoints were deleted, or their
fleets moved to other model data. A model that is deployed again later is fetched and unpacked again.
Leftovers of fetches that a killed emulator never finished (``<state>/downloads/``) are removed too.

The counts and bytes held and collected are what ``dockyard emulator status`` reports.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.containers.engine import docker_errors
from dockyard.emulator.sagemaker.instances import LABEL_EMULATOR, Containers
from dockyard.emulator.sagemaker.model_data import ModelDataCache
from dockyard.errors import DockyardError

log = logging.getLogger("dockyard.emulator.collector")

GRACE = 600.0  # longer than fetching, unpacking and creating an instance's container takes


@dataclass(frozen=True)
class ModelDataReport:
    held_directories: int
    held_bytes: int
    collected_directories: int
    collected_bytes: int

    def as_dict(self) -> dict[str, int]:
        return {
            "held_directories": self.held_directories,
            "held_bytes": self.held_bytes,
            "collected_directories": self.collected_directories,
            "collected_bytes": self.collected_bytes,
        }


class Collector:
    def __init__(self, model_data: ModelDataCache, containers: Containers, grace: float = GRACE) -> None:
        self.model_data = model_data
        self.containers = containers
        self.grace = grace
        self.collected_directories = 0
        self.collected_bytes = 0
        self._lock = threading.Lock()  # one collection at a time

    def collect(self) -> int:
        """Remove every unused model directory; how many were removed (0 when the engine is away:
        without the list of mounts nothing can be known unused)."""
        with self._lock:
            try:
                mounted = self._mounted()
            except DockyardError as exc:
                log.warning("model data not collected: %s", exc.message)
                return 0
            removed = 0
            for directory in _children(self.model_data.models):
                with self.model_data.lock:
                    if not directory.exists() or directory.resolve() in mounted or self._recent(directory):
                        continue
                    size = _size(directory)
                    shutil.rmtree(directory, ignore_errors=True)
                if not directory.exists():
                    removed += 1
                    self.collected_directories += 1
                    self.collected_bytes += size
                    log.info("removed unused model data %s (%d bytes)", directory.name, size)
            for leftover in _children(self.model_data.downloads):
                with contextlib.suppress(OSError):  # finished meanwhile
                    if time.time() - leftover.stat().st_mtime > self.grace:
                        shutil.rmtree(leftover, ignore_errors=True)
            return removed

    def report(self) -> ModelDataReport:
        held = _children(self.model_data.models)
        return ModelDataReport(
            len(held), sum(_size(d) for d in held), self.collected_directories, self.collected_bytes
        )

    def _recent(self, directory: Path) -> bool:
        used = self.model_data.used_since(directory)
        if used is not None:
            return time.monotonic() - used < self.grace
        # Not handed out by this process: judge by when it was unpacked (a deployment of a previous
        # process may have been cut short between unpacking and starting its container).
        return time.time() - directory.stat().st_mtime < self.grace

    def _mounted(self) -> set[Path]:
        label = f"{LABEL_EMULATOR}={self.containers.emulator_id}"
        with docker_errors("listing the emulator's containers"):
            found: list[dict[str, Any]] = self.containers.client.api.containers(
                all=True, filters={"label": label}
            )
        return {
            Path(str(mount["Source"])).resolve()
            for container in found
            for mount in container.get("Mounts") or []
            if mount.get("Source")
        }


def _children(directory: Path) -> list[Path]:
    try:
        return sorted(path for path in directory.iterdir() if path.is_dir() and not path.is_symlink())
    except OSError:
        return []


def _size(directory: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(root, name)).st_size
    return total
