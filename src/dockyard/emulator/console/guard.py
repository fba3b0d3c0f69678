"""Who may use the console: the Host check, same-origin only, and a CSRF token on every change.

- Host: the request must name the emulator as the user reached it (127.0.0.1, localhost, [::1], or a
  name the emulator was told to allow): a page on another name that resolves to 127.0.0.1 (DNS
  rebinding) is refused before anything runs.
- Origin: a state-changing request must come from the console's own origin; a browser always sends
  Origin on such requests, and ``Sec-Fetch-Site`` where it does not.
- CSRF: a random cookie per browser (``SameSite=Strict``, ``HttpOnly``) and a token that is the HMAC of
  that cookie under a secret of this process, put in every page; a change must carry the token (form
  field or ``X-CSRF-Token`` header). A page of another origin can neither read the token nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.emulator.console.http import Request

CSRF_COOKIE = "dockyard_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


class Guard:
    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self._secret = secrets.token_bytes(32)
        self.allowed_hosts = LOOPBACK_NAMES | {host.lower() for host in allowed_hosts if host}

    # ---- the checks --------------------------------------------------------------------------------

    def check(self, request: Request) -> Refusal | None:
        """Why ``request`` is refused, or None. The CSRF token is checked separately, once the form
        (which may carry it) has been read."""
        host = request.headers.get("host", "")
        if _hostname(host) not in self.allowed_hosts:
            return Refusal(
                403,
                f"The dockyard console does not answer to the host name {host!r}; open it as "
                "http://127.0.0.1:<port>/console/ (or start the emulator with --allow-host NAME).",
            )
        if request.method in SAFE_METHODS:
            # A cross-site page may link to the console, but not load it in a frame or fetch it.
            if request.headers.get("sec-fetch-site") == "cross-site" and request.headers.get(
                "sec-fetch-mode"
            ) not in ("navigate", None):
                return Refusal(403, "The dockyard console answers requests from its own pages only.")
            return None
        origin = request.headers.get("origin")
        if origin is not None and origin != f"http://{host}":
            return Refusal(403, f"The dockyard console refuses changes requested by the origin {origin!r}.")
        if origin is None and request.headers.get("sec-fetch-site") not in (None, "same-origin"):
            return Refusal(403, "The dockyard console refuses changes requested by another site.")
        return None

    def check_token(self, request: Request) -> Refusal | None:
        cookie = request.cookies.get(CSRF_COOKIE, "")  # the one the browser sent, never a new one
        sent = request.headers.get(CSRF_HEADER) or request.field(CSRF_FIELD)
        if not cookie or not sent or not hmac.compare_digest(sent, self.token_for(cookie)):
            return Refusal(
                403,
                "The console's form token is missing or stale (the emulator restarted since the page "
                "was loaded): reload the page and try again.",
            )
        return None

    # ---- tokens ------------------------------------------------------------------------------------

    def cookie_of(self, request: Request) -> tuple[str, bool]:
        """The browser's CSRF cookie, and whether it is new (to be set on the response)."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if len(cookie) == 43 and cookie.replace("-", "").replace("_", "").isalnum():
            return cookie, False
        return secrets.token_urlsafe(32), True

    def token_for(self, cookie: str) -> str:
        return hmac.new(self._secret, cookie.encode(), hashlib.sha256).hexdigest()


def cookie_header(cookie: str) -> str:
    return f"{CSRF_COOKIE}={cookie}; Path=/console; HttpOnly; SameSite=Strict"


def _hostname(host: str) -> str:
    """The host part of a Host header (``name:port``, ``[::1]:port``), lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    return host.rsplit(":", 1)[0] if ":" in host else host
