"""What stands between the emulator's port and its services: Host and Origin checks, SigV4 signatures,
the console's session, and which host files model data may come from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockyard.emulator.security.credentials import LocalCredentials, local_credentials
from dockyard.emulator.security.middleware import (
    AUTH_SCOPE_KEY,
    ASGIApp,
    SecurityMiddleware,
    SecurityPolicy,
    signed_region,
)
from dockyard.emulator.security.origins import HostPolicy

if TYPE_CHECKING:
    from dockyard.emulator.settings import EmulatorSettings

__all__ = [
    "AUTH_SCOPE_KEY",
    "LocalCredentials",
    "SecurityMiddleware",
    "SecurityPolicy",
    "local_credentials",
    "secure",
    "signed_region",
]


def secure(app: ASGIApp, settings: EmulatorSettings) -> SecurityMiddleware:
    """``app`` behind the checks ``settings`` ask for, with the state directory's credentials."""
    from dockyard.emulator.settings import STATUS_PATH

    credentials = local_credentials(settings.state_dir, create=True)
    policy = SecurityPolicy(
        hosts=HostPolicy.of((*settings.allow_hosts, *_bound_address(settings.host))),
        secret=credentials.secret_access_key,
        console_token=credentials.console_token,
        check_signatures=not settings.insecure_any_credentials,
        unsigned_paths=frozenset({STATUS_PATH}),
    )
    return SecurityMiddleware(app, policy)


def _bound_address(host: str) -> tuple[str, ...]:
    # The one address the emulator listens on is a name clients may use (a DNS-rebinding page cannot
    # make its requests carry an address literal); listening on every address names none.
    return () if host in ("", "0.0.0.0", "::") else (host,)
