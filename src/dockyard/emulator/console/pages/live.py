"""The endpoint page's live feeds, polled by ``console.js``: new log lines and the metrics series.

Polling, not server-sent events: a poll is a short request the emulator answers and forgets, so an
open page holds no connection (an emulator stopping does not wait on it, one restarting is picked up
by the next poll), and the log cursor the page sends back makes every poll resume exactly where the
last one stopped. Log lines travel as JSON strings and become text nodes in the page, never markup.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.http import Request, Response, json_response
from dockyard.emulator.console.views import Views

if TYPE_CHECKING:
    from dockyard.emulator.components import Components

NAME = r"(?P<name>[^/]+)"
FIRST_TAIL = 16 * 1024  # bytes of each log shown when the page opens
MAX_READ = 256 * 1024  # bytes of one log read per poll
MAX_LINE = 8 * 1024  # longer lines are cut for display


class LivePages:
    def __init__(self, views: Views, control: Control, components: Callable[[], Components]) -> None:
        self.views = views
        self.control = control
        self._components = components

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", rf"/endpoints/{NAME}/logs", self.logs),
            ("GET", rf"/endpoints/{NAME}/metrics", self.metrics),
        ]

    async def logs(self, request: Request, name: str) -> Response:
        # DescribeEndpoint first: an unknown endpoint gets the API's error, and the name its stored case.
        region = self.views.region(request)
        endpoint = await self.control.call(region, "DescribeEndpoint", {"EndpointName": name})
        cursor = _decode_cursor(request.query.get("cursor", ""))
        reconciler = self._components().reconciler
        root = (reconciler.state_dir / "logs").resolve()
        key = self.control.key(region, endpoint["EndpointName"])
        files = await asyncio.to_thread(reconciler.log_files, key)
        lines, after = await asyncio.to_thread(_read_new, root, files, cursor)
        return json_response({"lines": lines, "cursor": _encode_cursor(after)})

    async def metrics(self, request: Request, name: str) -> Response:
        endpoint = await self.control.call(
            self.views.region(request), "DescribeEndpoint", {"EndpointName": name}
        )
        points = self._components().runtime.metrics.series(endpoint["EndpointName"])
        return json_response(
            {
                "minutes": [point.minute * 60 for point in points],
                "invocations": [point.invocations for point in points],
                "errors_4xx": [point.errors_4xx for point in points],
                "errors_5xx": [point.errors_5xx for point in points],
                "latency_p50_ms": [point.latency_p50_ms for point in points],
                "latency_p99_ms": [point.latency_p99_ms for point in points],
            }
        )


def _read_new(
    root: Path, files: list[Path], cursor: dict[str, int] | None
) -> tuple[list[dict[str, str]], dict[str, int]]:
    """Lines added to ``files`` since ``cursor`` (file key -> byte offset); None: the tail of each."""
    lines: list[dict[str, str]] = []
    after: dict[str, int] = {}
    for path in files:
        resolved = path.resolve()
        if not resolved.is_relative_to(root):  # a link out of the logs folder is never followed
            continue
        key = f"{path.parent.name}/{path.stem}"
        # "AllTraffic/dockyard-ep-my-endpoint-AllTraffic-1a2b3c" is shown as "AllTraffic·1a2b3c".
        label = f"{path.parent.name}·{path.stem.rsplit('-', 1)[-1]}"
        try:
            size = resolved.stat().st_size
        except OSError:
            continue
        start = cursor.get(key, 0) if cursor is not None else max(0, size - FIRST_TAIL)
        if start > size:  # the file was replaced: start over
            start = 0
        with resolved.open("rb") as handle:
            handle.seek(start)
            chunk = handle.read(min(MAX_READ, size - start))
        if cursor is None and start > 0:
            # Opened mid-line: drop the partial first line.
            cut = chunk.find(b"\n")
            chunk = chunk[cut + 1 :] if cut != -1 else b""
            start = size - len(chunk)
        complete = chunk.rfind(b"\n") + 1  # only whole lines; the rest waits for the next poll
        after[key] = start + complete
        for raw in chunk[:complete].splitlines():
            line = raw.decode("utf-8", "replace")
            lines.append({"source": key, "label": label, "line": line[:MAX_LINE]})
    return lines, after


def _decode_cursor(text: str) -> dict[str, int] | None:
    if not text:
        return None
    try:
        document = json.loads(base64.urlsafe_b64decode(text.encode()))
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    return {str(k): int(v) for k, v in document.items() if isinstance(v, int) and v >= 0}


def _encode_cursor(cursor: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
