"""The console's route table: a method and a path pattern to a page's handler."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from dockyard.emulator.console.http import Response

Handler = Callable[..., Awaitable[Response]]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        # Path parameters are one segment each ([^/]+), decoded by the handler's caller.
        self._routes.append((method, re.compile(pattern), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | bool | None:
        """(handler, params); False when the path exists for another method; None when it does not."""
        other_method = False
        for route_method, pattern, handler in self._routes:
            found = pattern.fullmatch(path)
            if found is None:
                continue
            if route_method != method and not (method == "HEAD" and route_method == "GET"):
                other_method = True
                continue
            return handler, found.groupdict()
        return False if other_method else None
