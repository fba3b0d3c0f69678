"""How the emulator's console (its own web pages under ``/console/``) is let in without SigV4.

A browser cannot sign requests, so the console's routes authenticate differently, as Jupyter's do: the
link ``dockyard emulator up`` prints carries a login token derived from the emulator's secret; opening
it sets a session cookie (HttpOnly, SameSite=Strict, path /console) and redirects to the same page
without the token. Every later request needs the cookie, and every request that changes something also
needs the session's CSRF token in the ``X-Dockyard-CSRF`` header, which only the console's own pages
can read (from ``scope["dockyard.console"]``, rendered into the page). The Host and Origin checks run
first, as for every request. The console's routes call the provider in-process, not the signed API.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

CONSOLE_PREFIX = "/console"
COOKIE = "dockyard_console"
CSRF_HEADER = "x-dockyard-csrf"
SCOPE_KEY = "dockyard.console"
_SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class ConsoleSession:
    """An authenticated console browser: what its pages put in forms and fetch headers."""

    session_id: str
    csrf_token: str


@dataclass(frozen=True)
class ConsoleDecision:
    """What the middleware does with a console request: pass it on with ``session``, redirect (login,
    with ``set_cookie``), or refuse with ``message``."""

    session: ConsoleSession | None = None
    redirect: str | None = None
    set_cookie: str | None = None
    message: str | None = None


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


class ConsoleGate:
    def __init__(self, secret: str, login_token: str) -> None:
        self._key = hashlib.sha256(b"dockyard-console-session\0" + secret.encode()).digest()
        self._login_token = login_token

    def decide(self, method: str, path: str, query: str, headers: dict[str, str]) -> ConsoleDecision:
        params = parse_qsl(query, keep_blank_values=True)
        token = next((value for name, value in params if name == "token"), None)
        if token is not None:
            if method not in _SAFE_METHODS or not hmac.compare_digest(token, self._login_token):
                return ConsoleDecision(
                    message="This console link's token is not the emulator's: open the link "
                    "`dockyard emulator up` printed (or `dockyard emulator console`)."
                )
            session_id = secrets.token_urlsafe(24)
            cookie = (
                f"{COOKIE}={session_id}.{self._mac('session', session_id)}; Path={CONSOLE_PREFIX}; "
                "HttpOnly; SameSite=Strict"
            )
            rest = urlencode([(name, value) for name, value in params if name != "token"])
            return ConsoleDecision(redirect=path + (f"?{rest}" if rest else ""), set_cookie=cookie)
        session = self._session(headers.get("cookie", ""))
        if session is None:
            return ConsoleDecision(
                message="The console needs its login link: open the one `dockyard emulator up` printed "
                "(or run `dockyard emulator console`)."
            )
        if method not in _SAFE_METHODS:
            sent = headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, session.csrf_token):
                return ConsoleDecision(
                    message=f"This console request lacks its CSRF token (the {CSRF_HEADER} header the "
                    "console's pages send); reload the page."
                )
        return ConsoleDecision(session=session)

    def _session(self, cookie_header: str) -> ConsoleSession | None:
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name != COOKIE:
                continue
            session_id, _, mac = value.partition(".")
            if session_id and hmac.compare_digest(mac, self._mac("session", session_id)):
                return ConsoleSession(session_id, self._mac("csrf", session_id))
        return None

    def _mac(self, purpose: str, session_id: str) -> str:
        return hmac.new(self._key, f"{purpose}:{session_id}".encode(), hashlib.sha256).hexdigest()
