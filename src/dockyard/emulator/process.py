"""Running the emulator: in the foreground, as a background process, and finding one that runs.

A running emulator leaves ``emulator.json`` (pid, url) in its state directory; ``status`` trusts it only
when that pid is alive and the url answers ``/_dockyard/status`` as the same process. Endpoint
containers outlive the emulator on purpose: the next start re-adopts them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from dockyard.emulator.settings import PULL_ENV, STATUS_PATH, EmulatorSettings, default_state_dir, project_dir
from dockyard.errors import DockyardError, UsageError

INFO_FILE = "emulator.json"
LOG_FILE = "emulator.log"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0  # the reconciler may be waiting on a container's SIGTERM


@dataclass(frozen=True)
class EmulatorStatus:
    pid: int
    url: str
    state_dir: Path
    ready: bool
    # Unpacked model data held in the state directory, and what was collected since the emulator started.
    model_data: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "url": self.url,
            "state_dir": str(self.state_dir),
            "ready": self.ready,
            "model_data": self.model_data,
        }


def run_foreground(settings: EmulatorSettings, log_level: str = "info") -> None:
    """Serve until SIGINT/SIGTERM; record this process in the state directory while it runs."""
    import uvicorn

    from dockyard.emulator.read_timeout import with_read_timeout
    from dockyard.emulator.security import secure
    from dockyard.emulator.server import EmulatorApp
    from dockyard.serving.coalesce import coalescing

    _check_port_free(settings)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    info = settings.state_dir / INFO_FILE
    info.write_text(json.dumps({"pid": os.getpid(), "url": settings.url}))
    try:
        uvicorn.run(
            secure(EmulatorApp(settings), settings),
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http=coalescing(with_read_timeout(settings.read_timeout)),
            timeout_keep_alive=int(settings.keep_alive),
            lifespan="on",
            # Nothing reads the client's address or scheme; uvicorn's X-Forwarded-* rewriting took 1.7 % of
            # the loop's samples under InvokeEndpoint load (bench/emulator_router.py --profile).
            proxy_headers=False,
            access_log=False,
            log_level=log_level,
            timeout_graceful_shutdown=30,
        )
    finally:
        recorded = _read_info(settings.state_dir)
        if recorded is not None and recorded.get("pid") == os.getpid():
            info.unlink(missing_ok=True)


def start_detached(settings: EmulatorSettings) -> EmulatorStatus:
    """Start the emulator as a background process; return once it answers, or raise with its log."""
    running = status(settings.state_dir)
    if running is not None:
        return running
    _check_port_free(settings)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.state_dir / LOG_FILE
    command = [sys.executable, "-m", "dockyard.emulator", *settings.arguments()]
    environment = {**os.environ, "DOCKYARD_EMULATOR_ACCOUNT": settings.account}
    if settings.s3_endpoint_url:
        environment["DOCKYARD_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    environment[PULL_ENV] = "1" if settings.pull else "0"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,  # not killed with the terminal that started it
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DockyardError(
                f"the emulator exited with code {process.returncode} while starting; "
                f"its log ({log_path}) ends with:\n{_tail(log_path)}"
            )
        found = status(settings.state_dir)
        if found is not None and found.pid == process.pid and found.ready:
            return found
        time.sleep(0.2)
    process.terminate()
    raise DockyardError(f"the emulator did not answer within {START_TIMEOUT:g} s; see {log_path}")


def status(state_dir: Path | None = None) -> EmulatorStatus | None:
    """The emulator recorded in ``state_dir`` if it is alive and answering; else None."""
    state_dir = state_dir or default_state_dir()
    info = _read_info(state_dir)
    if info is None:
        return None
    pid, url = int(info.get("pid", 0)), str(info.get("url", ""))
    if not _alive(pid):
        return None
    answer = probe(url)
    if answer is None or answer.get("pid") != pid:
        return None
    model_data = answer.get("model_data")
    return EmulatorStatus(
        pid, url, state_dir, bool(answer.get("ready")), model_data if isinstance(model_data, dict) else None
    )


def holdings(url: str) -> dict[str, Any]:
    """What each service of the emulator at ``url`` holds (counts by kind); empty when it cannot say."""
    try:
        data = httpx.get(url.rstrip("/") + STATUS_PATH, params={"services": "1"}, timeout=10.0).json()
    except (httpx.HTTPError, ValueError):
        return {}
    services = data.get("services") if isinstance(data, dict) else None
    return services if isinstance(services, dict) else {}


def probe(url: str) -> dict[str, Any] | None:
    """What the dockyard emulator at ``url`` says of itself; None when nothing (or not one) answers."""
    try:
        response = httpx.get(url.rstrip("/") + STATUS_PATH, timeout=2.0)
        data = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    if (
        response.status_code != 200
        or not isinstance(data, dict)
        or data.get("service") != "dockyard-emulator"
    ):
        return None
    return data


def stop(state_dir: Path | None = None) -> EmulatorStatus | None:
    """SIGTERM the running emulator and wait for it to exit; None when none was running."""
    running = status(state_dir)
    if running is None:
        return None
    os.kill(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(running.pid):
        if time.monotonic() > deadline:
            os.kill(running.pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    return running


def ensure_running(state_dir: Path | None = None, port: int | None = None) -> str:
    """The URL of a running emulator: $DOCKYARD_EMULATOR_URL when set, else the one recorded in the state
    directory, else a new background one."""
    configured = os.environ.get("DOCKYARD_EMULATOR_URL")
    if configured:
        answer = probe(configured)
        if answer is None:
            raise DockyardError(
                f"no dockyard emulator answers at {configured} (from DOCKYARD_EMULATOR_URL); start one with "
                "`dockyard emulator up --detach`, or unset the variable to let dockyard start one"
            )
        return configured.rstrip("/")
    overrides: dict[str, Any] = {}
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    if port is not None:
        overrides["port"] = port
    project = project_dir()
    if project is not None:  # the project's own files may be model data, as with `dockyard emulator up`
        overrides["allow_paths"] = (*EmulatorSettings().allow_paths, project)
    settings = EmulatorSettings(**overrides)
    running = status(settings.state_dir)
    if running is not None:
        return running.url
    return start_detached(settings).url


def _check_port_free(settings: EmulatorSettings) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe_socket:
        probe_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe_socket.bind((settings.host, settings.port))
        except OSError as exc:
            other = probe(settings.url)
            owner = (
                f"another dockyard emulator (pid {other.get('pid')}, state {other.get('state_dir')})"
                if other
                else "another program"
            )
            raise UsageError(
                f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}; {owner} holds it. "
                "Choose another port with --port (or DOCKYARD_EMULATOR_PORT)"
            ) from None


def _read_info(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir / INFO_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:  # reap it first if it is our own exited child (a zombie still answers kill(0))
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
