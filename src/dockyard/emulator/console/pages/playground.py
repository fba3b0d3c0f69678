"""Test inference: send a request to an endpoint as InvokeEndpoint does and show the whole answer.

The request goes through the runtime protocol's parser and the runtime itself, so routing, headers and
errors are those a boto3 caller gets (ModelError with the container's status and message, the payload
limit, an endpoint not in service). The last body sent to each endpoint is kept (in memory) to pre-fill
the form next time.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.console.http import Request, Response
from dockyard.emulator.console.views import Views

NAME = r"(?P<name>[^/]+)"
MAX_INVOKE_BODY = 6_291_456  # InvokeEndpoint's payload limit
# Content type -> a sample body (a dockyard model's sample request has one of these shapes).
SAMPLES = {
    "text/csv": "1,2,3,4\n",
    "application/json": '{"instances": [[1, 2, 3, 4]]}',
    "application/jsonlines": '{"features": [1, 2, 3, 4]}\n',
    "text/plain": "hello",
}
REMEMBERED = 256  # endpoints whose last body is kept


class PlaygroundPages:
    def __init__(self, views: Views, control: Control) -> None:
        self.views = views
        self.control = control
        self.last: dict[str, tuple[str, str]] = {}  # endpoint -> (content type, body)

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("POST", rf"/endpoints/{NAME}/invoke", self.invoke)]

    def prefill(self, endpoint: str) -> tuple[str, str]:
        return self.last.get(endpoint, ("text/csv", SAMPLES["text/csv"]))

    async def invoke(self, request: Request, name: str) -> Response:
        content_type = request.field("content_type") or "application/octet-stream"
        body_text = request.field("body")
        body = body_text.encode("utf-8")
        headers = {"Content-Type": content_type}
        for field, header in (
            ("accept", "Accept"),
            ("target_variant", "X-Amzn-SageMaker-Target-Variant"),
            ("custom_attributes", "X-Amzn-SageMaker-Custom-Attributes"),
        ):
            if value := request.field(field).strip():
                headers[header] = value
        if len(body) > MAX_INVOKE_BODY:
            return self.views.render(
                request,
                "_invocation.html",
                result=None,
                too_large=f"HTTP content length exceeded {MAX_INVOKE_BODY} bytes.",
                shown="",
            )
        result = await self.control.invoke(self.views.region(request), name, body, headers)
        if len(self.last) >= REMEMBERED and name not in self.last:
            self.last.pop(next(iter(self.last)))
        self.last[name] = (content_type, body_text)
        return self.views.render(
            request, "_invocation.html", result=result, too_large="", shown=_shown(result.body)
        )


def _shown(body: bytes) -> str:
    """The response body as text: JSON pretty-printed, anything else decoded as it is."""
    text = body.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
