"""Which AWS service a request the local target does not serve was meant for, by botocore's models.

A JSON request names its service by ``X-Amz-Target`` prefix (``AnyScaleFrontendService`` is Application
Auto Scaling), a query or REST request by its SigV4 scope (``monitoring`` is CloudWatch). The model named
like the scope is tried first (one file); only a miss scans every model's metadata, once per process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache, lru_cache

from botocore.exceptions import DataNotFoundError

from dockyard.emulator.aws.service_models import loader


@dataclass(frozen=True)
class ServiceInfo:
    name: str  # botocore's name ("application-autoscaling")
    full_name: str  # serviceFullName ("Application Auto Scaling")
    protocol: str  # the protocol botocore's client speaks to it
    target_prefix: str
    signing_name: str


def _info(name: str) -> ServiceInfo | None:
    try:
        model = loader().load_service_model(name, "service-2")
    except DataNotFoundError:
        return None
    meta = model["metadata"]
    return ServiceInfo(
        name=name,
        full_name=str(meta.get("serviceFullName") or meta.get("serviceId") or name),
        protocol=str(meta.get("protocol", "")),
        target_prefix=str(meta.get("targetPrefix", "")),
        signing_name=str(meta.get("signingName") or meta.get("endpointPrefix") or name),
    )


_scan_lock = threading.Lock()


@cache
def _all() -> tuple[ServiceInfo, ...]:
    with _scan_lock:
        names = loader().list_available_services("service-2")
        return tuple(info for name in names if (info := _info(name)) is not None)


# Keyed by what requests send: bounded, so that made-up names cannot grow it without end.
@lru_cache(maxsize=512)
def by_target_prefix(prefix: str, scope_service: str = "") -> ServiceInfo | None:
    """The service whose JSON/CBOR target prefix is ``prefix`` (the scope's model checked first)."""
    if not prefix:
        return None
    first = _info(scope_service) if scope_service else None
    if first is not None and first.target_prefix == prefix:
        return first
    return next((info for info in _all() if info.target_prefix == prefix), None)


@lru_cache(maxsize=512)
def by_signing_name(service: str) -> ServiceInfo | None:
    """The service a SigV4 scope names (its signing name, else its endpoint prefix)."""
    if not service:
        return None
    first = _info(service)
    if first is not None and first.signing_name == service:
        return first
    found = [info for info in _all() if info.signing_name == service]
    # Several models can share a signing name (e.g. "execute-api"); prefer the one named like it.
    return next((info for info in found if info.name == service), found[0] if found else first)


def describe(info: ServiceInfo | None, fallback: str) -> str:
    """How a message names the service: ``Application Auto Scaling (application-autoscaling)``."""
    if info is None:
        return f"the AWS service '{fallback}'" if fallback else "this AWS service"
    return f"{info.full_name} ({info.name})"
