"""SageMaker's multi-model container API: ``/models`` to load, list, describe and unload models, and
``/models/{name}/invoke`` to run one.

A worker process serves one share of the port, and SageMaker's ``POST /models`` reaches one worker
only, so the set of loaded models lives in a directory shared by the supervisor's workers (one JSON
file per model, created with ``O_EXCL`` so that two loads of one name race to a single winner). Each
worker holds its own copy of every model it has served: the one that took ``POST /models`` loads at
once (its answer says whether the model loads), the others on their first request for it. A model
unloaded through one worker is dropped by the others when they next look it up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from dockyard.serving.errors import BadRequest, NotFound, ServingError
from dockyard.serving.handler import Pipeline, build_pipeline
from dockyard.serving.settings import ServerSettings

log = logging.getLogger("dockyard.serving")

MAX_NAME = 1024
DEFAULT_PAGE = 100


class ModelConflict(ServingError):
    """``POST /models`` for a name that is already loaded: SageMaker expects 409."""

    status = 409
    code = "Conflict"


class InsufficientMemory(ServingError):
    """The model does not fit: SageMaker answers 507 by unloading unused models and retrying."""

    status = 507
    code = "InsufficientStorage"


class ModelLoadFailed(ServingError):
    status = 500
    code = "ModelLoadError"


def _entry_name(model_name: str) -> str:
    # Model names are opaque to the container; a digest keeps every name a safe file name.
    return hashlib.sha256(model_name.encode()).hexdigest() + ".json"


def parse_load_request(body: bytes) -> tuple[str, str]:
    """``{"model_name": ..., "url": ...}`` from a ``POST /models`` body, checked."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest('the body must be JSON: {"model_name": "...", "url": "/path/to/model"}') from None
    if not isinstance(document, dict):
        raise BadRequest('the body must be a JSON object: {"model_name": "...", "url": "/path/to/model"}')
    name, url = document.get("model_name"), document.get("url")
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise BadRequest(f"model_name must be a non-empty string of at most {MAX_NAME} characters")
    if not isinstance(url, str) or not url:
        raise BadRequest("url must be the path of the model's directory in this container")
    return name, url


class ModelShelf:
    """The models of one worker, backed by the registry shared with the other workers."""

    def __init__(self, settings: ServerSettings, registry: Path) -> None:
        self.settings = settings
        self.registry = registry
        registry.mkdir(mode=0o700, exist_ok=True)
        self._loaded: dict[str, tuple[str, Pipeline]] = {}  # name -> (url, pipeline)
        self._loading: dict[str, asyncio.Future[Pipeline]] = {}

    # --- the shared registry -------------------------------------------------------------------------

    def _registered(self, name: str) -> str | None:
        try:
            entry = orjson.loads((self.registry / _entry_name(name)).read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None
        url = entry.get("url") if isinstance(entry, dict) else None
        return url if isinstance(url, str) else None

    def _all_registered(self) -> list[dict[str, str]]:
        models: list[dict[str, str]] = []
        for path in self.registry.glob("*.json"):
            try:
                entry = orjson.loads(path.read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                continue  # unloaded meanwhile, or still being written
            models.append({"modelName": entry["model_name"], "modelUrl": entry["url"]})
        return sorted(models, key=lambda model: model["modelName"])

    def _register(self, name: str, url: str) -> bool:
        path = self.registry / _entry_name(name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as file:
            file.write(orjson.dumps({"model_name": name, "url": url}))
        return True

    # --- the API ------------------------------------------------------------------------------------

    async def load(self, body: bytes) -> tuple[int, bytes]:
        name, url = parse_load_request(body)
        if self._registered(name) is not None:
            raise ModelConflict(f"model {name} is already loaded")
        pipeline = await self._build(name, url)
        if not self._register(name, url):
            raise ModelConflict(f"model {name} is already loaded")
        self._loaded[name] = (url, pipeline)
        return 200, orjson.dumps({"status": f"Model {name} loaded"})

    def list(self, query: Mapping[str, str]) -> tuple[int, bytes]:
        models = self._all_registered()
        try:
            limit = int(query.get("limit", DEFAULT_PAGE))
            start = int(query.get("next_page_token", "0") or "0")
        except ValueError:
            raise BadRequest("limit and next_page_token must be integers") from None
        if limit < 1 or start < 0:
            raise BadRequest("limit must be at least 1 and next_page_token at least 0")
        page: dict[str, Any] = {"models": models[start : start + limit]}
        if start + limit < len(models):
            page["nextPageToken"] = str(start + limit)
        return 200, orjson.dumps(page)

    def describe(self, name: str) -> tuple[int, bytes]:
        url = self._registered(name)
        if url is None:
            raise NotFound(f"model {name} is not loaded")
        return 200, orjson.dumps({"modelName": name, "modelUrl": url})

    def unload(self, name: str) -> tuple[int, bytes]:
        try:
            (self.registry / _entry_name(name)).unlink()
        except FileNotFoundError:
            raise NotFound(f"model {name} is not loaded") from None
        self._loaded.pop(name, None)
        return 200, orjson.dumps({"status": f"Model {name} unloaded"})

    async def pipeline_for(self, name: str) -> Pipeline:
        """The loaded pipeline of ``name``, loading this worker's copy when another worker took the load."""
        url = self._registered(name)
        if url is None:
            self._loaded.pop(name, None)
            raise NotFound(f"model {name} is not loaded")
        held = self._loaded.get(name)
        if held is not None and held[0] == url:
            return held[1]
        pipeline = await self._build(name, url)
        self._loaded[name] = (url, pipeline)
        return pipeline

    async def _build(self, name: str, url: str) -> Pipeline:
        pending = self._loading.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.ensure_future(asyncio.to_thread(self._load_now, name, url))
        self._loading[name] = future
        try:
            return await future
        finally:
            del self._loading[name]

    def _load_now(self, name: str, url: str) -> Pipeline:
        model_dir = Path(url)
        if not model_dir.is_dir():
            raise BadRequest(f"cannot load model {name}: {url} is not a directory in this container")
        settings = dataclasses.replace(self.settings, model_dir=model_dir)
        try:
            pipeline = build_pipeline(settings)
            pipeline.load()
        except MemoryError:
            raise InsufficientMemory(f"not enough memory to load model {name}") from None
        except Exception as exc:
            log.exception("could not load model %s from %s", name, url)
            raise ModelLoadFailed(f"cannot load model {name}: {type(exc).__name__}: {exc}") from None
        log.info("loaded model %s from %s", name, url)
        return pipeline
