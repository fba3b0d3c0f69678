"""An ASGI app on uvicorn (uvloop, httptools, 127.0.0.1, quiet) in a thread of the bench process."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

START_S = 30.0  # for a server to start listening


def loopback_config(app: Any, port: int = 0) -> uvicorn.Config:
    """How the benchmarks serve an app: as the emulator serves itself, without access logs."""
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


def serve_in_thread(app: Any, port: int) -> uvicorn.Server:
    """Start ``app`` on ``port`` in a daemon thread; return once it listens."""
    server = uvicorn.Server(loopback_config(app, port))
    threading.Thread(target=server.run, name="emulator", daemon=True).start()
    deadline = time.monotonic() + START_S
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit(f"the emulator app did not start within {START_S:.0f} s")
        time.sleep(0.05)
    return server
