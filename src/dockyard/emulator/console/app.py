"""The console's ASGI app, mounted by the emulator at ``/console/``.

Who may use it is decided in front of it, by the emulator's security middleware: the Host and Origin
checks, the login link, the session cookie, and the CSRF header on every change. The middleware hands
the session to the console in the scope; a request without one never came through that door and is
refused (fail closed). Then: static files from a table made at start (no request path ever reaches the
file system), and the route table of the pages (``pages/``). A ServiceError a page does not handle
itself becomes an error page with SageMaker's code and message.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.http import BodyTooLarge, Receive, Request, Response, Scope, Send, text
from dockyard.emulator.console.routes import Router
from dockyard.emulator.console.views import Views
from dockyard.emulator.errors import ServiceError

if TYPE_CHECKING:
    from dockyard.emulator.components import Components
    from dockyard.emulator.settings import EmulatorSettings

log = logging.getLogger("dockyard.emulator.console")

PREFIX = "/console"
SESSION_SCOPE_KEY = "dockyard.console"  # where the security middleware puts the console's session
NO_SESSION = (
    "The console is served only behind the emulator's security checks; open the link `dockyard emulator up` "
    "printed (or run `dockyard console`)."
)
STATIC = Path(__file__).parent / "static"


class ConsoleApp:
    def __init__(
        self,
        settings: EmulatorSettings,
        components: Callable[[], Components],
    ) -> None:
        from dockyard.emulator.console.pages import register_all

        self.settings = settings
        self.control = Control(components, settings.account)
        self.views = Views(self.control)
        self.router = Router()
        self.static = _static_table(STATIC)
        register_all(self.router, self.views, self.control, settings, components)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request.of(scope, receive, PREFIX)
        session = scope.get(SESSION_SCOPE_KEY)
        if session is None:
            await text(NO_SESSION, 403).send(send)
            return
        request.csrf_token = str(session.csrf_token)
        if request.path.startswith("/static/"):
            await self._static(request.path.removeprefix("/static/")).send(send)
            return
        try:
            response = await self._route(request)
        except BodyTooLarge as exc:
            response = text(str(exc), 413)
        await response.send(send)

    async def _route(self, request: Request) -> Response:
        if request.path == "/" and request.scope["path"] == PREFIX:
            return Response(308).header("location", f"{PREFIX}/")
        matched = self.router.match(request.method, request.path)
        if matched is None:
            return self.views.error_page(request, 404, "Not found", f"No console page at {request.path}.")
        if matched is False:
            return text(f"{request.method} is not allowed on this page.", 405)
        assert not isinstance(matched, bool)
        handler, params = matched
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            await request.read_form()
        try:
            return await handler(request, **params)
        except ServiceError as error:
            return self.views.error_page(
                request, 400 if error.status < 500 else 500, error.code, error.message
            )

    def _static(self, name: str) -> Response:
        found = self.static.get(name)
        if found is None:
            return text("no such static file", 404)
        body, content_type = found
        return Response(200, body, content_type).header("cache-control", "public, max-age=86400")


def _static_table(root: Path) -> dict[str, tuple[bytes, str]]:
    """Every static file, read once: name (relative, '/'-separated) -> (bytes, content type)."""
    table: dict[str, tuple[bytes, str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.endswith(".txt"):
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type.endswith("javascript"):
                content_type += "; charset=utf-8"
            table[path.relative_to(root).as_posix()] = (path.read_bytes(), content_type)
    return table
