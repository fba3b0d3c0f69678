"""The HTTP side of ``dockyard check``'s probes: a request that may fail, and answers put in words."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from dockyard.image.check_report import Status

if TYPE_CHECKING:
    from dockyard.containers.local_run import LocalContainer

UNKNOWN_HEADER = "X-Unknown"


def post(http: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response | str:
    try:
        return http.post("/invocations", content=body, headers=headers)
    except httpx.TransportError as exc:
        return transport(exc)


def transport(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    return f"the connection failed ({type(exc).__name__}: {exc or 'closed'})"


def describe(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"{response.status_code}" + (f": {text[:200]}" if text else "")


def compare(first: httpx.Response | str, second: httpx.Response | str) -> tuple[Status, str]:
    if isinstance(second, str):
        return Status.FAIL, f"with an {UNKNOWN_HEADER} header the request failed: {second}"
    if isinstance(first, str):
        return Status.FAIL, f"the request failed without the header and answered {second.status_code} with it"
    if first.status_code != second.status_code:
        return (
            Status.FAIL,
            f"with an {UNKNOWN_HEADER} header it answered {describe(second)} instead of {first.status_code}",
        )
    if first.content != second.content:
        return (
            Status.WARN,
            f"same status ({first.status_code}) but a different body (a non-deterministic model?)",
        )
    return Status.PASS, f"same answer ({first.status_code}) with an {UNKNOWN_HEADER} header"


def answers(box: LocalContainer, container_port: int) -> bool:
    if container_port not in box.ports:
        return False
    try:
        return box.ping(container_port).status_code == 200
    except httpx.TransportError:
        return False
