"""Who may reach the emulator: the Host names it answers to, and no web page but its own console.

A browser lets any page send requests to 127.0.0.1; two things tell those requests apart from an SDK's.
With DNS rebinding a page's own name resolves to 127.0.0.1, so its requests carry that foreign name in
``Host``: only loopback names and those added with ``--allow-host`` are answered (as Jupyter and Vite
do). A page's cross-origin requests carry ``Origin`` (and ``Sec-Fetch-Site``), which SDKs never send:
only the emulator's own origin (its console) is let through, and no CORS preflight is ever allowed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
ALLOW_HOST_FLAG = "--allow-host"
ALLOW_HOSTS_ENV = "DOCKYARD_EMULATOR_ALLOW_HOSTS"


class HostMatch(Enum):
    EXACT = "exact"
    SUBDOMAIN = "subdomain"  # bucket.localhost: answered for S3's virtual-hosted buckets only
    REFUSED = "refused"


@dataclass(frozen=True)
class HostPolicy:
    allowed: frozenset[str]

    @classmethod
    def of(cls, extra: tuple[str, ...] = ()) -> HostPolicy:
        names = set(LOOPBACK_NAMES)
        names.update(hostname(name) or name.lower() for name in extra if name.strip())
        return cls(frozenset(names))

    def match(self, host_header: str | None) -> HostMatch:
        name = hostname(host_header or "")
        if not name:
            return HostMatch.REFUSED
        if name in self.allowed:
            return HostMatch.EXACT
        for allowed in self.allowed:
            if not _is_ip(allowed) and name.endswith("." + allowed):
                return HostMatch.SUBDOMAIN
        return HostMatch.REFUSED

    def refusal_message(self, host_header: str | None) -> str:
        shown = host_header if host_header else "(none)"
        name = hostname(host_header or "") or "NAME"
        return (
            f"Host {shown!r} is not allowed: the local target answers requests for "
            f"{', '.join(sorted(_bracketed(n) for n in self.allowed))} only, so that a web page cannot "
            f"reach it through DNS rebinding. To serve this name on purpose, start the emulator with "
            f"{ALLOW_HOST_FLAG} {name} (or {ALLOW_HOSTS_ENV}={name})."
        )


def hostname(host_header: str) -> str:
    """The host name of a ``Host`` header, lower-case, without port, brackets or a trailing dot."""
    host = host_header.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else ""
    if host.count(":") == 1:
        host = host.partition(":")[0]
    elif host.count(":") > 1:  # a bare IPv6 address
        return host
    return host.rstrip(".")


def same_origin(origin: str, host_header: str | None) -> bool:
    """Whether ``Origin`` is this server's own origin as the request names it (the console's pages)."""
    scheme, _, rest = origin.strip().lower().partition("://")
    return scheme == "http" and bool(host_header) and rest == (host_header or "").strip().lower()


def cross_site_refusal(headers: dict[str, str]) -> str | None:
    """Why a browser's cross-origin request is refused; None for a same-origin or non-browser one."""
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, headers.get("host")):
        return (
            f"Cross-origin request refused: a web page at {origin!r} may not call the local target. "
            "Browsers reach it only through its console at /console/; scripts use an AWS SDK or the CLI."
        )
    site = headers.get("sec-fetch-site", "").strip().lower()
    if site in ("cross-site", "same-site"):
        return (
            f"Cross-site request refused (Sec-Fetch-Site: {site}): a web page may not call the local "
            "target. Browsers reach it only through its console at /console/; scripts use an AWS SDK "
            "or the CLI."
        )
    return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _bracketed(name: str) -> str:
    return f"[{name}]" if ":" in name else name
