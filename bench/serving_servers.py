"""The servers the serving benchmark starts, and how each is started for each workload.

Every server runs on 127.0.0.1 with ``WORKERS`` workers and loads the workload's model file (MLflow:
the same model saved with MLflow's own flavor). A server that cannot serve a workload (the no-op
handler and the bare ASGI app answer constants; MLflow's CSV input needs a header row) has no row
for it. ``--baseline-src DIR`` adds dockyard rows run from another source tree (``PYTHONPATH``), so
a change can be measured against the code before it in the same run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving_ports import free_port
from serving_workloads import PEER_CODE, PEER_VENVS, Workload

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
NOOP_HANDLER = BENCH / "handlers" / "noop.py"
WORKERS = 2
DOCKYARD_ROWS = ("dockyard", "dockyard-noop", "dockyard-batch")
PEER_ROWS = ("mlflow", "toolkit-mms", "byoc", "asgi-floor")
ALL_WORKLOADS = ("sklearn", "xgboost", "onnx", "csv1000")
SUPPORTS: dict[str, tuple[str, ...]] = {
    "dockyard": ALL_WORKLOADS,
    "dockyard-noop": ("sklearn",),
    "dockyard-batch": ALL_WORKLOADS,
    "mlflow": ("sklearn", "xgboost", "onnx"),
    "toolkit-mms": ALL_WORKLOADS,
    "byoc": ALL_WORKLOADS,
    "asgi-floor": ("sklearn",),
}
START_COMMANDS = {
    "dockyard": "dockyard serve --model-dir DIR --port P --workers 2 --host 127.0.0.1 --metrics-port M",
    "dockyard-noop": "... the same, plus --handler bench/handlers/noop.py",
    "dockyard-batch": "... the same, plus --max-batch-size 32 (no added delay)",
    "mlflow": "mlflow models serve -m DIR --env-manager local --port P --workers 2 --host 127.0.0.1",
    "toolkit-mms": "bench/peers/mms/serve.py: sagemaker_inference start_model_server (MMS, 2 workers)",
    "byoc": "bench/peers/byoc/serve.py: nginx -> gunicorn (2 sync workers, unix socket) -> Flask",
    "asgi-floor": "uvicorn asgi_floor:app --workers 2 --loop uvloop --http httptools",
}


@dataclass
class Server:
    """How to start one server and talk to it."""

    name: str
    argv: list[str]
    body: bytes
    expected: list[Any]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    content_type: str = "application/json"
    ready_path: str = "/ping"
    invoke_path: str = "/invocations"
    ready_timeout_s: float = 90.0
    unavailable: str | None = None  # why this row cannot run


@dataclass(frozen=True)
class Context:
    scratch: Path
    log_dir: Path
    dockyard: Path  # the `dockyard` executable
    dockyard_help: str | None  # `dockyard serve --help`, or None when it does not run
    dockyard_problem: str | None
    baseline_src: Path | None = None


def clean_env(extra: dict[str, str] | None = None, path_first: Path | None = None) -> dict[str, str]:
    """This process's environment without settings that would change a server's behaviour."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "SAGEMAKER_", "VIRTUAL_ENV"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    if path_first is not None:
        env["PATH"] = f"{path_first}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(extra or {})
    return env


def dockyard_server(ctx: Context, work: Workload, port: int, name: str, extra: list[str]) -> Server:
    server = Server(
        name, [], work.body, work.expected, cwd=ctx.scratch / name, content_type=work.content_type
    )
    if ctx.dockyard_problem is not None:
        server.unavailable = ctx.dockyard_problem
        return server
    assert ctx.dockyard_help is not None
    missing = [opt for opt in extra if opt.startswith("--") and opt not in ctx.dockyard_help]
    if missing:
        server.unavailable = f"`dockyard serve` has no {', '.join(missing)} option"
        return server
    options = ["--host", "127.0.0.1"] if "--host" in ctx.dockyard_help else []
    if "--metrics-port" in ctx.dockyard_help:  # keep metrics on (the default), off the shared default port
        options += ["--metrics-port", str(free_port(random.Random(), exclude=port))]
    server.argv = [
        str(ctx.dockyard), "serve",
        "--model-dir", str(work.model_dir),
        "--port", str(port),
        "--workers", str(WORKERS),
        *options, *work.dockyard_options, *extra,
    ]  # fmt: skip
    base = name.endswith("-base")
    if base and ctx.baseline_src is None:
        server.unavailable = "no --baseline-src"
    server.env = clean_env({"PYTHONPATH": str(ctx.baseline_src)} if base and ctx.baseline_src else None)
    return server


def dockyard_variant(name: str) -> Callable[[Context, Workload, int], Server]:
    kind = name.removesuffix("-base")
    extra = {"dockyard": [], "dockyard-noop": ["--handler", str(NOOP_HANDLER)]}.get(
        kind, ["--max-batch-size", "32"]
    )

    def build(ctx: Context, work: Workload, port: int) -> Server:
        server = dockyard_server(ctx, work, port, name, extra)
        if kind == "dockyard-noop":
            server.expected = [0]
        return server

    return build


def peer_venv(name: str) -> tuple[Path, str | None]:
    venv = PEER_VENVS / name
    if not (venv / "bin" / "python").exists():
        return venv, f"{venv.relative_to(REPO)} is missing: run `bash bench/setup.sh`"
    return venv, None


def mlflow_server(ctx: Context, work: Workload, port: int) -> Server:
    venv, problem = peer_venv("mlflow")
    body = json.dumps({"inputs": json.loads(work.body)}).encode()
    model = work.mlflow_model_dir
    argv = [
        str(venv / "bin" / "mlflow"), "models", "serve",
        "-m", str(model), "--env-manager", "local",
        "--port", str(port), "--workers", str(WORKERS), "--host", "127.0.0.1",
    ]  # fmt: skip
    server = Server("mlflow", argv, body, work.expected, clean_env(path_first=venv / "bin"))
    server.cwd = ctx.scratch / "mlflow"
    server.unavailable = problem or (None if model else "the MLflow model could not be saved (see above)")
    return server


def mms_server(ctx: Context, work: Workload, port: int) -> Server:
    venv, problem = peer_venv("mms")
    base = ctx.scratch / f"mms-ml-{work.name}"  # SAGEMAKER_BASE_DIR: the toolkit reads base/model
    tmp = ctx.scratch / "mms-tmp"  # MMS keeps its pid file and worker sockets here
    for folder in (base, tmp, ctx.log_dir / "toolkit-mms"):
        folder.mkdir(parents=True, exist_ok=True)
    if not (base / "model").exists():
        (base / "model").symlink_to(work.model_dir, target_is_directory=True)
    env = clean_env(
        {
            "SAGEMAKER_BASE_DIR": str(base),
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS),
            "TMPDIR": str(tmp),
            "TEMP": str(tmp),
            "LOG_LOCATION": str(ctx.log_dir / "toolkit-mms"),
            "METRICS_LOCATION": str(ctx.log_dir / "toolkit-mms"),
        },
        path_first=venv / "bin",
    )
    argv = [str(venv / "bin" / "python"), str(PEER_CODE / "mms" / "serve.py")]
    server = Server("toolkit-mms", argv, work.body, work.expected, env, content_type=work.content_type)
    server.cwd = ctx.scratch / "mms-cwd"
    server.unavailable = problem or (None if shutil.which("java") else "no `java` on PATH")
    return server


def byoc_server(ctx: Context, work: Workload, port: int) -> Server:
    venv, problem = peer_venv("byoc")
    argv = [
        str(venv / "bin" / "python"), str(PEER_CODE / "byoc" / "serve.py"),
        "--model-dir", str(work.model_dir),
        "--port", str(port), "--workers", str(WORKERS), "--log-dir", str(ctx.log_dir),
    ]  # fmt: skip
    env = clean_env(path_first=venv / "bin")
    server = Server("byoc", argv, work.body, work.expected, env, content_type=work.content_type)
    nginx = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx")
    server.unavailable = problem or (None if nginx else "no `nginx`: run `bash bench/setup.sh`")
    return server


def asgi_floor_server(ctx: Context, work: Workload, port: int) -> Server:
    venv, problem = peer_venv("asgi")
    argv = [
        str(venv / "bin" / "uvicorn"), "asgi_floor:app", "--app-dir", str(PEER_CODE),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
        "--loop", "uvloop", "--http", "httptools", "--lifespan", "off",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = Server("asgi-floor", argv, work.body, [0], clean_env(path_first=venv / "bin"))
    server.unavailable = problem
    return server


BUILDERS: dict[str, Callable[[Context, Workload, int], Server]] = {
    **{name: dockyard_variant(name) for name in DOCKYARD_ROWS},
    **{f"{name}-base": dockyard_variant(f"{name}-base") for name in DOCKYARD_ROWS},
    "mlflow": mlflow_server,
    "toolkit-mms": mms_server,
    "byoc": byoc_server,
    "asgi-floor": asgi_floor_server,
}
for _name in DOCKYARD_ROWS:
    SUPPORTS[f"{_name}-base"] = SUPPORTS[_name]
    START_COMMANDS[f"{_name}-base"] = f"{_name}, from --baseline-src (PYTHONPATH)"
