"""The one module that imports the docker SDK: connecting to the engine and translating its errors.

Everything else in dockyard that talks to Docker gets a client from :func:`connect` and wraps its
calls in :func:`docker_errors`, so that users see one sentence that names the problem, never a
docker SDK traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import closing, contextmanager

import docker
import docker.errors
import requests

from dockyard.errors import ContainerError, DockyardError, EngineUnavailable, RegistryError

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def engine_url() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def connect(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine at DOCKER_HOST (or the default socket), checked with a ping."""
    url = engine_url()
    try:
        client = docker.DockerClient(base_url=url, timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(
            f"cannot reach the Docker engine at {url} ({_reason(exc)}); start it "
            "(`sudo systemctl start docker`, or `dockerd &` as root, or scripts/docker-engine.sh here) "
            "or point DOCKER_HOST at a running engine"
        ) from None
    return client


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("No such file or directory", "Connection refused", "Permission denied"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200] if text else type(exc).__name__


@contextmanager
def docker_errors(action: str) -> Iterator[None]:
    """Translate docker SDK exceptions raised while doing ``action`` (e.g. "pushing repo:tag")."""
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise ContainerError(f"{action}: image not found: {_explanation(exc)}") from None
    except docker.errors.NotFound as exc:
        raise ContainerError(f"{action}: not found: {_explanation(exc)}") from None
    except docker.errors.APIError as exc:
        error = RegistryError if "registry" in _explanation(exc).lower() else DockyardError
        raise error(f"{action}: {_explanation(exc)}") from None
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(
            f"{action}: the Docker engine at {engine_url()} failed: {_reason(exc)}"
        ) from None
    except requests.RequestException as exc:  # the SDK lets the engine's connection errors through
        raise EngineUnavailable(
            f"{action}: the Docker engine at {engine_url()} does not answer: {_reason(exc)}"
        ) from None


def engine_problem(client: docker.DockerClient | None = None) -> str | None:
    """None when the engine answers a ping (``client``'s, else a new client's for DOCKER_HOST), else a
    sentence saying that it does not."""
    try:
        if client is None:
            with closing(docker.DockerClient(base_url=engine_url(), timeout=10)) as fresh:
                fresh.ping()
        else:
            client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        return f"The Docker engine at {engine_url()} does not answer: {_reason(exc)}"
    return None


def _explanation(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or exc)
