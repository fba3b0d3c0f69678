"""Checks on an image built from the project's own Dockerfile, against what SageMaker will do with it.

SageMaker starts the image as ``docker run IMAGE serve``: without an ENTRYPOINT, ``serve`` must be an
executable on the image's PATH, or nothing starts (a failure). A missing ``EXPOSE 8080``, a missing
bind-to-port label still let the image run somewhere, so they are warnings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import BuildError
from dockyard.image.builder import DEFAULT_PATH
from dockyard.image.dockerfile import BIND_TO_PORT_LABEL, PORT


@dataclass(frozen=True, slots=True)
class Review:
    command: str  # how `docker run IMAGE serve` starts it, in words
    warnings: tuple[str, ...]


def _path(config: Mapping[str, Any]) -> str:
    for item in config.get("Env") or []:
        name, _, value = str(item).partition("=")
        if name == "PATH":
            return value
    return DEFAULT_PATH


def review(image: str, attrs: Mapping[str, Any], has_executable: Callable[[str, str], bool]) -> Review:
    """Judge ``image`` from its inspect data; ``has_executable(name, path)`` looks inside it.

    Raises BuildError when `serve` cannot start it; returns the warnings otherwise.
    """
    config: Mapping[str, Any] = attrs.get("Config") or {}
    entrypoint = list(config.get("Entrypoint") or [])
    if entrypoint:
        command = f"the ENTRYPOINT {json.dumps(entrypoint)} with the argument serve"
    else:
        path = _path(config)
        if not has_executable("serve", path):
            raise BuildError(
                f"{image} was built, but `docker run {image} serve` cannot start: it has no ENTRYPOINT and "
                f"no executable `serve` on its PATH ({path}); add a `serve` script to the image or an "
                "ENTRYPOINT that accepts the argument serve"
            )
        command = "the executable serve on the image's PATH"

    warnings: list[str] = []
    if f"{PORT}/tcp" not in (config.get("ExposedPorts") or {}):
        warnings.append(
            f"{image} does not EXPOSE {PORT}: SageMaker sends requests to port {PORT}; "
            f"add `EXPOSE {PORT}` to document it"
        )
    if BIND_TO_PORT_LABEL not in (config.get("Labels") or {}):
        warnings.append(
            f"{image} has no label {BIND_TO_PORT_LABEL}: SageMaker will always use port {PORT}; "
            "add the label if the server honours SAGEMAKER_BIND_TO_PORT"
        )
    return Review(command=command, warnings=tuple(warnings))
