"""Multi-model endpoints at invocation time: ``InvokeEndpoint(TargetModel=...)``.

On a container's first request for a TargetModel, the archive under the variant's S3 prefix is fetched
and unpacked (once, into the model data cache, by the fleet's :class:`ModelSource`), staged into the
variant's models directory (mounted read-only at ``/opt/ml/models``), and loaded in that container
with SageMaker's ``POST /models``; the request then goes to ``/models/{name}/invoke``. Each container
holds at most ``max_loaded`` models: past that, the least recently used is unloaded
(``DELETE /models/{name}``), and a container that answers a load with 507 (out of memory) gets one
more unloaded before the load is retried, as SageMaker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path, PurePosixPath

import httpx
import orjson

from dockyard.emulator.errors import ValidationError
from dockyard.emulator.route_table import Instance
from dockyard.emulator.target_models import CONTAINER_MODELS_DIR, MissingTargetModel, ModelSource

MAX_TARGET = 1024  # InvokeEndpoint's TargetModel length limit
LOAD_TIMEOUT = 60.0
INSUFFICIENT_MEMORY = 507


class LoadFailed(Exception):
    """The container refused to load a model: its status and message become a ModelError."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_target(target: object) -> str:
    """The TargetModel, when it names an object under the prefix (never outside it)."""
    if not isinstance(target, str) or not target or len(target) > MAX_TARGET:
        raise ValidationError(f"TargetModel must be a relative S3 key of 1 to {MAX_TARGET} characters.")
    parts = PurePosixPath(target).parts
    if target.startswith("/") or "\\" in target or ".." in parts or not target.isprintable():
        raise ValidationError(
            f"TargetModel {target!r} must be the key of a model archive relative to the endpoint's "
            "model data prefix (no leading '/', no '..')."
        )
    return target


def model_name(target: str) -> str:
    # The container's model name is opaque to it (SageMaker's contract); a digest is always a safe
    # path segment and URL segment.
    return hashlib.sha256(target.encode()).hexdigest()[:32]


def _stage(source: ModelSource, target: str, name: str) -> None:
    """Copy the TargetModel's unpacked directory into the variant's mounted models directory."""
    destination = source.host_dir / name / "model"
    if destination.is_dir():
        return
    unpacked = source.fetch(target)  # MissingTargetModel propagates
    source.host_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=source.host_dir))
    staging.chmod(0o755)  # the container's user reads it, whoever that is
    try:
        shutil.copytree(unpacked, staging / "model", symlinks=True)
        try:
            staging.rename(source.host_dir / name)
        except OSError:
            if not destination.is_dir():  # not a concurrent stage of the same model that won
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class TargetModels:
    """Which models each container holds, in least-recently-used order; used from the event loop."""

    def __init__(self) -> None:
        self._loaded: dict[str, OrderedDict[str, None]] = {}  # instance id -> model names
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._http: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=LOAD_TIMEOUT)
        return self._http

    async def invoke_path(self, source: ModelSource, instance: Instance, target: object) -> str:
        """The container path that invokes ``target`` on ``instance``, loading the model first."""
        target = check_target(target)
        name = model_name(target)
        key = (instance.instance_id, name)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            loaded = self._loaded.setdefault(instance.instance_id, OrderedDict())
            if name in loaded:
                loaded.move_to_end(name)
            else:
                try:
                    await asyncio.to_thread(_stage, source, target, name)
                except MissingTargetModel as exc:
                    raise ValidationError(exc.message) from None
                await self._load(source, instance, loaded, name)
        return f"/models/{name}/invoke"

    async def _load(
        self, source: ModelSource, instance: Instance, loaded: OrderedDict[str, None], name: str
    ) -> None:
        while len(loaded) >= source.max_loaded:
            await self._unload(instance, loaded)
        body = {"model_name": name, "url": f"{CONTAINER_MODELS_DIR}/{name}/model"}
        for _attempt in range(2):
            try:
                answer = await self.http.post(f"{instance.url}/models", json=body)
            except httpx.HTTPError as exc:
                raise LoadFailed(None, f"the container did not answer POST /models: {exc}") from None
            if answer.status_code in (200, 409):  # 409: it holds the model already
                loaded[name] = None
                return
            if answer.status_code != INSUFFICIENT_MEMORY or not loaded:
                break
            await self._unload(instance, loaded)
        raise LoadFailed(answer.status_code, _message(answer))

    async def _unload(self, instance: Instance, loaded: OrderedDict[str, None]) -> None:
        oldest, _ = loaded.popitem(last=False)
        self._locks.pop((instance.instance_id, oldest), None)
        with contextlib.suppress(httpx.HTTPError):  # a failing container: its health check deals with it
            await self.http.delete(f"{instance.url}/models/{oldest}")


def _message(answer: httpx.Response) -> str:
    try:
        document = orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        return answer.text
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return str(document["message"])
    return answer.text
