"""Model artifacts: upload a model.tar.gz (the browser streams it, with progress) and list what is there.

The upload is the request body itself (``PUT``, not multipart), written to a temporary file in the
artifacts folder as it arrives and renamed into place once whole, so a half-sent file never shows up.
The file name is checked against a strict pattern before anything touches the disk; the folder lies in
the emulator's state directory, whose ``file://`` URLs CreateModel accepts as model data.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from typing import Any

from dockyard.emulator.console.http import Request, Response, json_response, text
from dockyard.emulator.console.pages.choices import Choices
from dockyard.emulator.console.views import Views

MAX_ARTIFACT = 20 * 1024**3
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.tar\.gz")
GZIP_MAGIC = b"\x1f\x8b"


class ArtifactPages:
    def __init__(self, views: Views, choices: Choices) -> None:
        self.views = views
        self.choices = choices

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/artifacts", self.list),
            ("PUT", r"/artifacts/(?P<name>[^/]+)", self.upload),
        ]

    async def list(self, request: Request) -> Response:
        region = self.views.region(request)
        return self.views.render(
            request, "artifacts.html", active="artifacts", artifacts=await self.choices.artifacts(region)
        )

    async def upload(self, request: Request, name: str) -> Response:
        if not _NAME.fullmatch(name):
            return text(
                f"The file name {name!r} is not accepted: use letters, digits, '.', '_' or '-', ending in "
                ".tar.gz (SageMaker's model artifacts are a gzipped tar archive).",
                400,
            )
        folder = self.choices.artifacts_dir
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".upload-", dir=folder)
        received = 0
        try:
            with os.fdopen(handle, "wb") as out:
                while True:
                    message = await request.receive()
                    if message["type"] == "http.disconnect":
                        raise _Aborted("the upload was interrupted before the whole file arrived")
                    chunk: bytes = message.get("body", b"")
                    if received == 0 and chunk and not chunk.startswith(GZIP_MAGIC[: len(chunk)]):
                        raise _Aborted(f"{name} is not a gzip file; model artifacts are a model.tar.gz")
                    received += len(chunk)
                    if received > MAX_ARTIFACT:
                        raise _Aborted(f"{name} is larger than {MAX_ARTIFACT} bytes")
                    if chunk:
                        await asyncio.to_thread(out.write, chunk)
                    if not message.get("more_body", False):
                        break
            if received == 0:
                raise _Aborted(f"{name} is empty")
            target = folder / name
            os.replace(temporary, target)
        except _Aborted as exc:
            os.unlink(temporary)
            return text(str(exc), 400)
        except BaseException:
            os.unlink(temporary)
            raise
        return json_response({"name": name, "url": target.resolve().as_uri(), "size": received}, 201)


class _Aborted(Exception):
    pass
