"""JSON logging: one object per line, which is what SageMaker ships to CloudWatch.

Access lines are buffered and written in chunks: one ``write(2)`` per request costs a syscall and a
wake-up of the log reader (a pipe to the container runtime) each time, which measurably cut the
request rate (bench/). A chunk never exceeds ``PIPE_BUF`` bytes, so that chunks from several workers
writing to the same pipe never interleave inside a line, and it is written within ``FLUSH_DELAY``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import sys
from typing import Any

import orjson

PIPE_BUF = select.PIPE_BUF
FLUSH_DELAY = 0.05


class LineWriter:
    """Buffers JSON lines for ``fd`` and writes them in chunks of whole lines."""

    def __init__(self, fd: int = 1, delay: float = FLUSH_DELAY) -> None:
        self.fd = fd
        self.delay = delay
        self._lines: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None

    def write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        if self._size + len(line) > PIPE_BUF:
            self.flush()
        self._lines.append(line)
        self._size += len(line)
        if self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.delay, self.flush)
            except RuntimeError:  # no event loop (tests, shutdown): write through
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lines:
            data = b"".join(self._lines)
            self._lines.clear()
            self._size = 0
            while data:
                written = os.write(self.fd, data)
                data = data[written:]


class JsonFormatter(logging.Formatter):
    def __init__(self, **static: Any) -> None:
        super().__init__()
        self.static = static

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **self.static,
        }
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(data).decode()


def configure(level: str, **static: Any) -> None:
    """Route dockyard's and uvicorn's loggers to JSON lines on stderr at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(**static))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
