"""Serving benchmark: dockyard side by side with its peers, under wrk, on 127.0.0.1.

Every server gets the same scikit-learn LogisticRegression (10 features, trained on seeded random
data, saved with joblib) and the same one-row JSON request, runs 2 workers, and is measured one
after another in this run with `wrk` at concurrency 1, 8 and 32. Peers live in their own venvs
under bench/.peers/ (made by bench/setup.sh); dockyard runs from the project's .venv.

    bash bench/setup.sh && .venv/bin/python bench/serving.py [--duration 10] [--only NAME ...]

wrk and the servers share this machine's cores, so these are relative figures, not capacities.
Results go to bench/results/ as JSON and Markdown; server output goes to log files there.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gzip
import http.client
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEER_VENVS = BENCH / ".peers"
PEER_CODE = BENCH / "peers"
RESULTS = BENCH / "results"
DOCKYARD_VENV = REPO / ".venv"
DOCKYARD_STAMP = DOCKYARD_VENV / ".dockyard-installed"
POST_LUA = BENCH / "post.lua"
NOOP_HANDLER = BENCH / "handlers" / "noop.py"

CONCURRENCIES = (1, 8, 32)
WORKERS = 2
N_FEATURES = 10
SEED = 20240601
PORT_RANGE = (20000, 32000)  # MMS refuses ports >= 32767; Linux hands out ephemeral ports above 32767
WARMUP_S = 2
READY_POLL_S = 0.2
STOP_GRACE_S = 15.0
QUIET_CPU_FRACTION = 0.25  # wait before a server until others use less than this share of the CPUs
DISTURBED = 0.10  # a wrk run during which others used more than this share of the CPUs is rerun
SHARED_CORES_NOTE = (
    f"wrk and the servers share this machine's {os.cpu_count()} cores: figures are relative "
    "(same machine, same run), not the servers' capacity."
)
DOCKYARD_ROWS = ("dockyard", "dockyard-noop", "dockyard-batch")
PEER_ROWS = ("mlflow", "toolkit-mms", "byoc", "asgi-floor")


class ServerError(Exception):
    """A server did not start, did not answer, or answered wrongly."""


class NotReady(ServerError):
    """A server exited or never answered its readiness check."""


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Workload:
    """The model files every server loads and the request every server gets."""

    model_dir: Path  # holds model.joblib
    mlflow_model_dir: Path | None  # an MLflow model of the same estimator (None: not made)
    row: list[float]
    expected: list[Any]  # the in-process prediction for `row`
    predict_us: float  # in-process time of one predict() on one row, median


def make_workload(scratch: Path, with_mlflow: bool) -> Workload:
    """Train the model, save it with joblib, time one in-process prediction."""
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(SEED)
    features = rng.normal(size=(2000, N_FEATURES))
    labels = (features @ rng.normal(size=N_FEATURES) + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    model = LogisticRegression().fit(features, labels)
    model_dir = scratch / "model"
    model_dir.mkdir()
    joblib.dump(model, model_dir / "model.joblib")
    row = [round(float(v), 4) for v in rng.normal(size=N_FEATURES)]
    sample = np.asarray([row])
    expected = np.asarray(model.predict(sample)).tolist()
    mlflow_dir = save_mlflow_model(model_dir, scratch / "mlflow-model") if with_mlflow else None
    return Workload(model_dir, mlflow_dir, row, expected, time_predict(model, sample))


def time_predict(model: Any, sample: Any, calls: int = 3000) -> float:
    for _ in range(300):
        model.predict(sample)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        model.predict(sample)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def save_mlflow_model(model_dir: Path, out_dir: Path) -> Path | None:
    python = PEER_VENVS / "mlflow" / "bin" / "python"
    if not python.exists():
        return None
    argv = [str(python), str(PEER_CODE / "mlflow_save.py"), str(model_dir / "model.joblib"), str(out_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        print(f"!! could not save the MLflow model:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return out_dir


# ----------------------------------------------------------------------------- servers


@dataclass
class Server:
    """How to start one server and talk to it."""

    name: str
    argv: list[str]
    body: bytes
    expected: list[Any]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_path: str = "/ping"
    invoke_path: str = "/invocations"
    ready_timeout_s: float = 90.0
    unavailable: str | None = None  # why this row cannot run


@dataclass(frozen=True)
class Context:
    workload: Workload
    scratch: Path
    log_dir: Path
    dockyard_help: str | None  # `dockyard serve --help`, or None when it does not run
    dockyard_problem: str | None


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


def json_row_body(workload: Workload) -> bytes:
    return json.dumps([workload.row]).encode()


def dockyard_server(ctx: Context, port: int, name: str, extra: list[str]) -> Server:
    body = json_row_body(ctx.workload)
    server = Server(name, [], body, ctx.workload.expected, cwd=ctx.scratch / name)
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
        str(DOCKYARD_VENV / "bin" / "dockyard"), "serve",
        "--model-dir", str(ctx.workload.model_dir),
        "--port", str(port),
        "--workers", str(WORKERS),
        *options, *extra,
    ]  # fmt: skip
    server.env = clean_env()
    return server


def dockyard_plain(ctx: Context, port: int) -> Server:
    return dockyard_server(ctx, port, "dockyard", [])


def dockyard_noop(ctx: Context, port: int) -> Server:
    server = dockyard_server(ctx, port, "dockyard-noop", ["--handler", str(NOOP_HANDLER)])
    server.expected = [0]
    return server


def dockyard_batch(ctx: Context, port: int) -> Server:
    return dockyard_server(ctx, port, "dockyard-batch", ["--max-batch-size", "32"])


def peer_venv(name: str) -> tuple[Path, str | None]:
    venv = PEER_VENVS / name
    if not (venv / "bin" / "python").exists():
        return venv, f"{venv.relative_to(REPO)} is missing: run `bash bench/setup.sh`"
    return venv, None


def mlflow_server(ctx: Context, port: int) -> Server:
    venv, problem = peer_venv("mlflow")
    body = json.dumps({"inputs": [ctx.workload.row]}).encode()
    model = ctx.workload.mlflow_model_dir
    argv = [
        str(venv / "bin" / "mlflow"), "models", "serve",
        "-m", str(model), "--env-manager", "local",
        "--port", str(port), "--workers", str(WORKERS), "--host", "127.0.0.1",
    ]  # fmt: skip
    server = Server("mlflow", argv, body, ctx.workload.expected, clean_env(path_first=venv / "bin"))
    server.cwd = ctx.scratch / "mlflow"
    server.unavailable = problem or (None if model else "the MLflow model could not be saved (see above)")
    return server


def mms_server(ctx: Context, port: int) -> Server:
    venv, problem = peer_venv("mms")
    base = ctx.scratch / "mms-ml"  # SAGEMAKER_BASE_DIR: the toolkit reads base/model
    tmp = ctx.scratch / "mms-tmp"  # MMS keeps its pid file and worker sockets here
    for folder in (base, tmp, ctx.log_dir / "toolkit-mms"):
        folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        (base / "model").symlink_to(ctx.workload.model_dir, target_is_directory=True)
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
    server = Server("toolkit-mms", argv, json_row_body(ctx.workload), ctx.workload.expected, env)
    server.cwd = ctx.scratch / "mms-cwd"
    server.unavailable = problem or (None if shutil.which("java") else "no `java` on PATH")
    return server


def byoc_server(ctx: Context, port: int) -> Server:
    venv, problem = peer_venv("byoc")
    argv = [
        str(venv / "bin" / "python"), str(PEER_CODE / "byoc" / "serve.py"),
        "--model-dir", str(ctx.workload.model_dir),
        "--port", str(port), "--workers", str(WORKERS), "--log-dir", str(ctx.log_dir),
    ]  # fmt: skip
    env = clean_env(path_first=venv / "bin")
    server = Server("byoc", argv, json_row_body(ctx.workload), ctx.workload.expected, env)
    nginx = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx")
    server.unavailable = problem or (None if nginx else "no `nginx`: run `bash bench/setup.sh`")
    return server


def asgi_floor_server(ctx: Context, port: int) -> Server:
    venv, problem = peer_venv("asgi")
    argv = [
        str(venv / "bin" / "uvicorn"), "asgi_floor:app", "--app-dir", str(PEER_CODE),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
        "--loop", "uvloop", "--http", "httptools", "--lifespan", "off",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = Server("asgi-floor", argv, json_row_body(ctx.workload), [0], clean_env(path_first=venv / "bin"))
    server.unavailable = problem
    return server


BUILDERS: dict[str, Callable[[Context, int], Server]] = {
    "dockyard": dockyard_plain,
    "dockyard-noop": dockyard_noop,
    "dockyard-batch": dockyard_batch,
    "mlflow": mlflow_server,
    "toolkit-mms": mms_server,
    "byoc": byoc_server,
    "asgi-floor": asgi_floor_server,
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


def check_dockyard() -> tuple[str | None, str | None]:
    """`dockyard serve --help` text, or the reason dockyard cannot run."""
    exe = DOCKYARD_VENV / "bin" / "dockyard"
    if not DOCKYARD_STAMP.exists():
        return None, f"{DOCKYARD_STAMP} is missing: run scripts/venv.sh"
    if not exe.exists():
        return None, f"{exe} is missing"
    env = clean_env({"COLUMNS": "1000", "NO_COLOR": "1", "TERM": "dumb"})
    try:
        done = subprocess.run(
            [str(exe), "serve", "--help"], capture_output=True, text=True, timeout=60, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return None, "`dockyard serve --help` took over 60 s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return None, f"`dockyard serve --help` failed: {last}"
    return done.stdout, None


# ----------------------------------------------------------------------------- processes


def free_port(rng: random.Random, attempts: int = 200, exclude: int = 0) -> int:
    for _ in range(attempts):
        port = rng.randint(*PORT_RANGE)
        if port == exclude:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ServerError(f"no free port in {PORT_RANGE} after {attempts} tries")


def session_members(sid: int) -> list[int]:
    """Live processes in session `sid` (every server starts as its own session leader)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def signal_session(sid: int, sig: signal.Signals) -> None:
    for pid in session_members(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def stop_server(proc: subprocess.Popen[bytes]) -> list[int]:
    """SIGTERM the server's process group, then SIGKILL its whole session; return leftover pids."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    end = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < end and (proc.poll() is None or session_members(proc.pid)):
        time.sleep(0.1)
    for _ in range(3):
        if not session_members(proc.pid):
            break
        signal_session(proc.pid, signal.SIGKILL)
        time.sleep(0.5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    return session_members(proc.pid)


def port_closed(port: int, deadline_s: float = 10.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            return True
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def running(server: Server, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server in its own session with output to `log_path`; always stop it."""
    if server.cwd is not None:
        server.cwd.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            server.argv,
            cwd=server.cwd,
            env=server.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        leftover = stop_server(proc)
        if leftover:
            print(f"!! {server.name}: processes left after SIGKILL: {leftover}", file=sys.stderr)


def http_call(port: int, method: str, path: str, body: bytes | None, timeout: float) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json", "Accept": "application/json"} if body else {}
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(server: Server, proc: subprocess.Popen[bytes], port: int) -> float:
    start = time.monotonic()
    end = start + server.ready_timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise NotReady(f"exited with status {proc.returncode} before {server.ready_path} answered 200")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = http_call(port, "GET", server.ready_path, None, timeout=2)
            if status == 200:
                return time.monotonic() - start
        time.sleep(READY_POLL_S)
    raise NotReady(f"{server.ready_path} did not answer 200 within {server.ready_timeout_s:.0f} s")


def predictions(payload: bytes) -> Any:
    value = json.loads(payload)
    if isinstance(value, dict):
        for key in ("predictions", "outputs", "output"):
            if key in value:
                return value[key]
    return value


def verify(server: Server, port: int, tries: int = 20) -> None:
    """One real request must answer exactly what the model answers in-process."""
    last = "no answer"
    for _ in range(tries):
        try:
            status, payload = http_call(port, "POST", server.invoke_path, server.body, timeout=10)
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
            continue
        if status >= 500:
            last = f"HTTP {status}: {payload[:200]!r}"
            time.sleep(0.5)
            continue
        if status != 200:
            raise ServerError(f"prediction request answered HTTP {status}: {payload[:300]!r}")
        try:
            got = predictions(payload)
        except ValueError as exc:
            raise ServerError(f"prediction is not JSON: {payload[:300]!r}") from exc
        if got != server.expected:
            raise ServerError(f"WRONG ANSWER: got {got!r}, the model in-process says {server.expected!r}")
        return
    raise ServerError(f"prediction request failed {tries} times; last: {last}")


# ----------------------------------------------------------------------------- wrk


@dataclass(frozen=True)
class WrkResult:
    concurrency: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    other_cpu: float = 0.0  # share of all CPU time used by processes other than wrk and the server

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_latency(text: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE)
    if match is None:
        raise ServerError(f"wrk output has no {percentile}% latency:\n{text}")
    return float(match.group(1)) * UNIT_MS[match.group(2)]


def parse_wrk(text: str, concurrency: int) -> WrkResult:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    count = re.search(r"^\s+(\d+) requests in", text, re.MULTILINE)
    if rps is None or count is None:
        raise ServerError(f"cannot parse wrk output:\n{text}")
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        concurrency=concurrency,
        requests=int(count.group(1)),
        rps=float(rps.group(1)),
        p50_ms=parse_latency(text, "50"),
        p99_ms=parse_latency(text, "99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def run_wrk(
    port: int, server: Server, concurrency: int, duration_s: int, *, log_path: Path, sid: int
) -> WrkResult:
    argv = [
        "wrk", f"-t{min(concurrency, 2)}", f"-c{concurrency}", f"-d{duration_s}s", "--latency",
        "-s", str(POST_LUA), f"http://127.0.0.1:{port}{server.invoke_path}",
    ]  # fmt: skip
    env = {**os.environ, "WRK_BODY": server.body.decode()}
    before = CpuSample.take(sid)
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=duration_s + 60, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"wrk did not finish within {duration_s + 60} s") from exc
    with log_path.open("a") as log:
        log.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise ServerError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    other_cpu = before.others_since(CpuSample.take(sid))
    return dataclasses.replace(parse_wrk(done.stdout, concurrency), other_cpu=other_cpu)


# ----------------------------------------------------------------------------- machine noise


def cpu_times() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields), idle


def cpu_busy(interval_s: float = 1.0) -> float:
    total0, idle0 = cpu_times()
    time.sleep(interval_s)
    total1, idle1 = cpu_times()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def session_ticks(sid: int) -> int:
    """CPU time (clock ticks) used so far by the live processes of session `sid` and their reaped children."""
    ticks = 0
    for pid in session_members(sid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(v) for v in fields[11:15])
    return ticks


@dataclass(frozen=True)
class CpuSample:
    """Machine-wide CPU counters, and what the server's session and our reaped children (wrk) used."""

    total: int
    idle: int
    server: int
    children: float  # seconds

    @classmethod
    def take(cls, sid: int) -> CpuSample:
        total, idle = cpu_times()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(total, idle, session_ticks(sid), usage.ru_utime + usage.ru_stime)

    def others_since(self, later: CpuSample) -> float:
        """Share of all CPU time between the samples used by anything but the server and wrk."""
        total = max(1, later.total - self.total)
        busy = total - (later.idle - self.idle)
        ours = (later.server - self.server) + (later.children - self.children) * CLK_TCK
        return max(0.0, busy - ours) / total


def wait_for_quiet(max_wait_s: float) -> float:
    """Wait (bounded) until other processes leave the CPUs mostly idle; return the last busy share."""
    end = time.monotonic() + max_wait_s
    busy = cpu_busy()
    while busy > QUIET_CPU_FRACTION and time.monotonic() < end:
        busy = cpu_busy()
    return busy


# ----------------------------------------------------------------------------- one row


@dataclass
class Row:
    name: str
    status: str = "ok"  # ok | unavailable | failed
    reason: str = ""
    command: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    ready_s: float | None = None
    busy_before: float | None = None
    results: dict[int, WrkResult] = field(default_factory=dict)


def measure(server: Server, port: int, args: argparse.Namespace, log_dir: Path, row: Row) -> None:
    log_path = log_dir / f"{server.name}.log"
    wrk_log = log_dir / f"{server.name}.wrk.txt"
    with running(server, log_path) as proc:
        row.ready_s = wait_ready(server, proc, port)
        verify(server, port)
        run_wrk(port, server, 8, WARMUP_S, log_path=wrk_log, sid=proc.pid)
        for concurrency in args.concurrency:
            row.results[concurrency] = least_disturbed(
                lambda c=concurrency: run_wrk(port, server, c, args.duration, log_path=wrk_log, sid=proc.pid),
                args,
            )
    if not port_closed(port):
        raise ServerError(f"port {port} still accepts connections after the server was stopped")


def least_disturbed(attempt: Callable[[], WrkResult], args: argparse.Namespace) -> WrkResult:
    """Run wrk; while other processes took over DISTURBED of the CPUs, wait for quiet and run again
    (at most --retries times); keep the least disturbed run."""
    best: WrkResult | None = None
    for tries in range(1 + args.retries):
        if tries:
            wait_for_quiet(args.quiet_wait)
        result = attempt()
        print(f"   {summary(result)}", flush=True)
        if best is None or result.other_cpu < best.other_cpu:
            best = result
        if result.other_cpu <= DISTURBED:
            break
        if tries < args.retries:
            print(f"   (disturbed: others used {result.other_cpu:.0%} of the CPUs; running it again)")
    assert best is not None
    return best


def compress_big_logs(log_dir: Path, limit_bytes: int = 20 * 1024 * 1024) -> None:
    """gzip the server logs that per-request access lines made large."""
    for path in sorted(log_dir.rglob("*.log")):
        if path.stat().st_size > limit_bytes:
            with path.open("rb") as src, gzip.open(path.with_suffix(".log.gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            path.unlink()


def summary(result: WrkResult) -> str:
    return (
        f"c={result.concurrency:<3} {result.rps:>10,.0f} req/s  p50 {result.p50_ms:.2f} ms  "
        f"p99 {result.p99_ms:.2f} ms  errors {result.errors}  others' CPU {result.other_cpu:.0%}"
    )


def log_tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def bench_one(name: str, ctx: Context, args: argparse.Namespace, rng: random.Random) -> Row:
    row = Row(name, command=START_COMMANDS[name])
    port = free_port(rng)
    server = BUILDERS[name](ctx, port)
    print(f"\n== {name}", flush=True)
    if server.unavailable is not None:
        row.status, row.reason = "unavailable", f"not available: {server.unavailable}"
        print(f"   {row.reason}")
        return row
    row.versions = versions_of(name)
    row.busy_before = wait_for_quiet(args.quiet_wait)
    if row.busy_before > QUIET_CPU_FRACTION:
        print(f"   !! other processes were using {row.busy_before:.0%} of the CPUs before this row")
    try:
        measure(server, port, args, ctx.log_dir, row)
    except ServerError as exc:
        log_path = ctx.log_dir / f"{name}.log"
        if name in DOCKYARD_ROWS and isinstance(exc, NotReady):  # dockyard still being written: go on
            row.status, row.reason = "unavailable", f"not available: {exc} (see {log_path.name})"
            print(f"   {row.reason}\n{log_tail(log_path, 5)}")
            return row
        row.status, row.reason = "failed", str(exc)
        print(
            f"   !! {name} FAILED: {exc}\n   last lines of {log_path}:\n{log_tail(log_path)}", file=sys.stderr
        )
    return row


DOCKYARD_PACKAGES = ("dockyard", "uvicorn", "scikit-learn")
VERSION_SOURCES: dict[str, tuple[Path, tuple[str, ...]]] = {
    **dict.fromkeys(DOCKYARD_ROWS, (DOCKYARD_VENV, DOCKYARD_PACKAGES)),
    "mlflow": (PEER_VENVS / "mlflow", ("mlflow", "uvicorn", "fastapi", "scikit-learn")),
    "toolkit-mms": (PEER_VENVS / "mms", ("sagemaker-inference", "multi-model-server", "scikit-learn")),
    "byoc": (PEER_VENVS / "byoc", ("flask", "gunicorn", "scikit-learn")),
    "asgi-floor": (PEER_VENVS / "asgi", ("uvicorn", "uvloop", "httptools")),
}
VERSION_SCRIPT = (
    "import importlib.metadata as m, json, sys; print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
)


def versions_of(name: str) -> dict[str, str]:
    """Versions of the packages that matter for this row, read from its own venv."""
    venv, packages = VERSION_SOURCES[name]
    try:
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c", VERSION_SCRIPT, *packages],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        found: dict[str, str] = json.loads(done.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}
    if name == "toolkit-mms":
        found["java"] = java_version()
    if name == "byoc":
        found["nginx"] = nginx_version()
    return found


def tool_output(argv: list[str]) -> str:
    """Stdout and stderr of a short command, or "" when it cannot run."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        return done.stdout + done.stderr
    return ""


def java_version() -> str:
    match = re.search(r'version "([^"]+)"', tool_output(["java", "-version"]))
    return match.group(1) if match else "?"


def nginx_version() -> str:
    match = re.search(r"nginx/(\S+)", tool_output([shutil.which("nginx") or "/usr/sbin/nginx", "-v"]))
    return match.group(1) if match else "?"


def wrk_version() -> str:
    match = re.search(r"wrk (\S+)", tool_output(["wrk", "-v"]))
    return match.group(1) if match else "?"


# ----------------------------------------------------------------------------- report


def ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "n/a"
    return f"{numerator / denominator:.2f}x"


def result_of(rows: list[Row], name: str, concurrency: int) -> WrkResult | None:
    for row in rows:
        if row.name == name and row.status == "ok":
            return row.results.get(concurrency)
    return None


def table_lines(rows: list[Row], concurrency: int) -> list[str]:
    """Markdown table for one concurrency: each row, and dockyard's ratios against each peer."""
    base = result_of(rows, "dockyard", concurrency)
    lines = [
        "| server | req/s | p50 ms | p99 ms | errors | others' CPU "
        "| dockyard ÷ it, req/s | its p99 ÷ dockyard p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        res = row.results.get(concurrency) if row.status == "ok" else None
        if res is None:
            lines.append(f"| {row.name} | {row.reason or row.status} | | | | | | |")
            continue
        is_peer = row.name in PEER_ROWS
        thr = ratio(base.rps if base else None, res.rps) if is_peer else "—"
        p99 = ratio(res.p99_ms, base.p99_ms if base else None) if is_peer else "—"
        cells = f"{res.rps:,.0f} | {res.p50_ms:.2f} | {res.p99_ms:.2f} | {res.errors} | {res.other_cpu:.0%}"
        lines.append(f"| {row.name} | {cells} | {thr} | {p99} |")
    return lines


def variant_ratio_lines(rows: list[Row], concurrency: int) -> list[str]:
    lines = []
    for variant in DOCKYARD_ROWS[1:]:
        mine = result_of(rows, variant, concurrency)
        if mine is None:
            continue
        parts = []
        for peer in PEER_ROWS:
            theirs = result_of(rows, peer, concurrency)
            if theirs is not None:
                parts.append(
                    f"{peer} {ratio(mine.rps, theirs.rps)} req/s, {ratio(theirs.p99_ms, mine.p99_ms)} p99"
                )
        lines.append(f"- {variant} vs " + "; ".join(parts))
    return lines


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    out = [
        f"# Serving benchmark, {meta['started']}",
        "",
        f"- {SHARED_CORES_NOTE}",
        f"- wrk {meta['wrk']}: `-t min(c,2) -c c -d {meta['duration_s']}s --latency -s bench/post.lua`; "
        f"warm-up {WARMUP_S} s at c=8; {WORKERS} workers per server; 1-row JSON request.",
        f"- In-process `predict()` of one row: **{meta['predict_us']:.0f} µs** (median, same run).",
        f"- Machine: {meta['cpu']}, {meta['cores']} cores; load average at start {meta['loadavg']}.",
        '- "others\' CPU": share of all CPU time, during that wrk run, used by processes other than wrk '
        "and the server (other people's work on the machine); a run above 10% is rerun (up to "
        f"{meta['retries']} times) and the least disturbed one is kept.",
        "",
    ]
    for concurrency in meta["concurrency"]:
        out += [f"## c={concurrency}", "", *table_lines(rows, concurrency), ""]
        out += [*variant_ratio_lines(rows, concurrency), ""]
    out += [
        "## Servers",
        "",
        "| server | status | versions | started as | CPU busy before |",
        "|---|---|---|---|---:|",
    ]
    for row in rows:
        versions = ", ".join(f"{k} {v}" for k, v in row.versions.items())
        busy = f"{row.busy_before:.0%}" if row.busy_before is not None else ""
        status = {"ok": "ok", "failed": f"FAILED: {row.reason}"}.get(row.status, row.reason)
        out.append(f"| {row.name} | {status} | {versions} | `{row.command}` | {busy} |")
    return "\n".join(out) + "\n"


def as_json(rows: list[Row], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "servers": [
            {
                "name": row.name,
                "status": row.status,
                "reason": row.reason,
                "command": row.command,
                "versions": row.versions,
                "ready_s": row.ready_s,
                "cpu_busy_before": row.busy_before,
                "results": {str(c): {**vars(r), "errors": r.errors} for c, r in row.results.items()},
            }
            for row in rows
        ],
    }


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--only", nargs="+", choices=list(BUILDERS), help="run only these servers")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=list(CONCURRENCIES), help="default: 1 8 32"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=30.0,
        help="seconds to wait, before each server, for other processes to leave the CPUs idle (default 30)",
    )  # fmt: skip
    parser.add_argument(
        "--retries", type=int, default=2,
        help="reruns of a wrk run during which other processes used >10%% of the CPUs (default 2)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 300:
        parser.error("--duration must be 1..300 seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: run `bash bench/setup.sh`", file=sys.stderr)
        return 2
    names = args.only or list(BUILDERS)
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    started = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS / f"logs-{started}"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"Serving benchmark: {', '.join(names)}; wrk -d{args.duration}s at c={args.concurrency}")
    print(f"NOTE: {SHARED_CORES_NOTE}")
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        scratch = Path(tmp)
        workload = make_workload(scratch, with_mlflow="mlflow" in names)
        print(f"In-process predict() of one row: {workload.predict_us:.1f} µs (median)")
        help_text, problem = check_dockyard() if any(n in DOCKYARD_ROWS for n in names) else (None, None)
        ctx = Context(workload, scratch, log_dir, help_text, problem)
        rng = random.Random()
        rows = [bench_one(name, ctx, args, rng) for name in names]
    meta = {
        "started": started,
        "duration_s": args.duration,
        "retries": args.retries,
        "concurrency": args.concurrency,
        "workers": WORKERS,
        "predict_us": workload.predict_us,
        "row": workload.row,
        "expected": workload.expected,
        "wrk": wrk_version(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "loadavg": loadavg,
        "python": platform.python_version(),
        "note": SHARED_CORES_NOTE,
        "logs": str(log_dir.relative_to(REPO)),
    }
    compress_big_logs(log_dir)
    report = markdown(rows, meta)
    print("\n" + report)
    (RESULTS / f"serving-{started}.md").write_text(report)
    (RESULTS / f"serving-{started}.json").write_text(json.dumps(as_json(rows, meta), indent=2) + "\n")
    print(f"Wrote bench/results/serving-{started}.md and .json; server logs in {meta['logs']}/")
    return 1 if any(row.status == "failed" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
