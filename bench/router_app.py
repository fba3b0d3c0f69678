"""The router benchmark's ASGI app and how it is served: :class:`RuntimeApp` (the emulator server's
InvokeEndpoint path over a :class:`Runtime`) on uvicorn with uvloop and httptools, either in a
thread of the bench process (:func:`asgi_thread.serve_in_thread`) or in N forked router processes sharing
one listening socket (:func:`serve_in_processes`; each builds its own Runtime and event loop after the
fork, and dies with the bench).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from asgi_thread import START_S, loopback_config
from dockyard.emulator.context import Caller, ResourceKey
from dockyard.emulator.errors import ServiceError
from dockyard.emulator.route_table import Router
from dockyard.emulator.runtime.invoke import Runtime

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

STOP_GRACE_S = 10.0  # between SIGTERM and SIGKILL for a router process
PR_SET_PDEATHSIG = 1


class RuntimeApp:
    """The emulator server's runtime path, reduced to what InvokeEndpoint needs."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await self.runtime.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = dict(scope["headers"])
        params: dict[str, Any] = {"EndpointName": scope["path"].split("/")[2], "Body": body}
        for member, header in (("ContentType", b"content-type"), ("Accept", b"accept")):
            if header in headers:
                params[member] = headers[header].decode()
        try:
            result = await self.runtime.invoke(Caller(), params)
            status, payload = 200, result["Body"]
            out = [
                (b"content-type", str(result.get("ContentType", "")).encode()),
                (b"x-amzn-invoked-production-variant", result["InvokedProductionVariant"].encode()),
            ]
        except ServiceError as error:
            status, payload = error.status, json.dumps({"message": error.message}).encode()
            out = [(b"x-amzn-errortype", error.code.encode())]
        out.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": payload})


def _ignore_unreachable(endpoint: ResourceKey, instance_id: str) -> None:
    """A router process's report of an unreachable instance: the fleet's threads are not there."""


def _die_with(parent: int) -> None:
    """SIGKILL this process when the bench process (its parent) ends, however it ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent ended before prctl: nobody would send the signal
        os._exit(1)


def _router_process(sock: socket.socket, router: Router, ready: int) -> None:
    """One router process: its own Runtime and event loop over the route table copied by fork."""
    runtime = Runtime(router, lambda _: "InService", _ignore_unreachable)
    server = uvicorn.Server(loopback_config(RuntimeApp(runtime)))

    def report_started() -> None:
        while not server.started:
            time.sleep(0.01)
        os.write(ready, b".")
        os.close(ready)

    threading.Thread(target=report_started, name="ready", daemon=True).start()
    server.run(sockets=[sock])  # until SIGTERM (uvicorn's handler: a graceful shutdown)


def serve_in_processes(router: Router, count: int) -> tuple[int, list[int], Callable[[], None]]:
    """``count`` forked router processes on one listening socket of 127.0.0.1; returns its port, the
    processes' ids and what stops them (SIGTERM, then SIGKILL after :data:`STOP_GRACE_S`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    port = int(sock.getsockname()[1])
    parent = os.getpid()
    ready_read, ready_write = os.pipe()
    pids: list[int] = []

    def stop() -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        waiting = set(pids)
        deadline = time.monotonic() + STOP_GRACE_S
        while waiting:
            for pid in list(waiting):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0] == 0:
                        if time.monotonic() < deadline:
                            continue
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
                waiting.discard(pid)
            time.sleep(0.05)
        sock.close()

    sys.stdout.flush()  # or the children's copies of the buffers are written again
    sys.stderr.flush()
    try:
        for _ in range(count):
            pid = os.fork()
            if pid == 0:  # the child: never returns into the bench
                code = 1
                try:
                    os.close(ready_read)
                    _die_with(parent)
                    _router_process(sock, router, ready_write)
                    code = 0
                except BaseException:
                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            pids.append(pid)
        os.close(ready_write)
        ready_write = -1
        started, deadline = 0, time.monotonic() + START_S
        while started < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"{count - started} router processes did not start within {START_S:.0f} s")
            for pid in pids:
                if os.waitpid(pid, os.WNOHANG)[0] != 0:
                    pids.remove(pid)
                    raise SystemExit(f"router process {pid} ended while starting")
            if select.select([ready_read], [], [], 0.1)[0]:
                started += len(os.read(ready_read, count))
    except BaseException:
        stop()
        raise
    finally:
        os.close(ready_read)
        if ready_write >= 0:
            os.close(ready_write)
    return port, pids, stop
