"""Serving benchmark: dockyard side by side with its peers, under wrk, on 127.0.0.1.

Every server loads the same model files and gets the same requests (see serving_workloads.py), runs
2 workers, and is measured one after another in this run with `wrk`: the scikit-learn one-row
workload at concurrency 1, 8 and 32, the XGBoost, ONNX and 1,000-row CSV workloads at 32 (by
default). Peers live in their own venvs under bench/.peers/ (made by bench/setup.sh); dockyard runs
from the project's .venv (or --dockyard).

    bash bench/setup.sh && .venv/bin/python bench/serving.py [--duration 10] [--only NAME ...]

wrk and the servers share this machine's cores, so these are relative figures, not capacities.
Results go to bench/results/ as JSON and Markdown; server output goes to log files there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from serving_load import QUIET_CPU_FRACTION, least_disturbed, run_wrk, wait_for_quiet
from serving_ports import ServerError, free_port
from serving_procs import (
    NotReady,
    memory_kib,
    port_closed,
    running,
    verify,
    wait_ready,
)
from serving_report import Row, as_json, cpu_model, markdown, nginx_version, tool_output_version, versions_of
from serving_servers import (
    BUILDERS,
    START_COMMANDS,
    SUPPORTS,
    Context,
    Server,
    clean_env,
)
from serving_workloads import PEER_VENVS, WORKLOADS, Workload, make_workloads

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
CONCURRENCIES = (1, 8, 32)
WARMUP_S = 2
SHARED_CORES_NOTE = (
    f"wrk and the servers share this machine's {os.cpu_count()} cores: figures are relative "
    "(same machine, same run), not the servers' capacity."
)
VERSION_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "mlflow": ("mlflow", ("mlflow", "uvicorn", "fastapi", "scikit-learn", "xgboost", "onnxruntime")),
    "toolkit-mms": (
        "mms",
        ("sagemaker-inference", "multi-model-server", "scikit-learn", "xgboost", "onnxruntime"),
    ),
    "byoc": ("byoc", ("flask", "gunicorn", "scikit-learn", "xgboost", "onnxruntime")),
    "asgi-floor": ("asgi", ("uvicorn", "uvloop", "httptools")),
}


def check_dockyard(exe: Path) -> tuple[str | None, str | None]:
    """`dockyard serve --help` text, or the reason dockyard cannot run."""
    if not exe.exists():
        return None, f"{exe} is missing: run scripts/venv.sh (or pass --dockyard)"
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


def row_versions(name: str, ctx: Context) -> dict[str, str]:
    if name in VERSION_SOURCES:
        venv, packages = VERSION_SOURCES[name]
        found = versions_of(PEER_VENVS / venv / "bin" / "python", packages)
        if name == "toolkit-mms":
            found["java"] = tool_output_version(["java", "-version"], r'version "([^"]+)"')
        if name == "byoc":
            found["nginx"] = nginx_version()
        return found
    return versions_of(ctx.dockyard.parent / "python", ("dockyard", "uvicorn", "scikit-learn"))


def measure(server: Server, port: int, args: argparse.Namespace, ctx: Context, row: Row) -> None:
    label = f"{server.name}-{row.workload}"
    wrk_log = ctx.log_dir / f"{label}.wrk.txt"
    concurrencies = args.concurrency if row.workload == "sklearn" else args.extra_concurrency
    with running(server, ctx.log_dir / f"{label}.log") as proc:
        row.ready_s = wait_ready(server, proc, port)
        verify(server, port)
        run_wrk(port, server, 8, WARMUP_S, log_path=wrk_log, sid=proc.pid)
        row.memory_kib = memory_kib(proc.pid)
        for concurrency in concurrencies:
            row.results[concurrency] = least_disturbed(
                lambda c=concurrency: run_wrk(port, server, c, args.duration, log_path=wrk_log, sid=proc.pid),
                args,
            )
    if not port_closed(port):
        raise ServerError(f"port {port} still accepts connections after the server was stopped")


def log_tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def bench_one(name: str, work: Workload, ctx: Context, args: argparse.Namespace, rng: random.Random) -> Row:
    row = Row(name, work.name, command=START_COMMANDS[name], body_bytes=len(work.body))
    port = free_port(rng)
    server = BUILDERS[name](ctx, work, port)
    print(f"\n== {name} / {work.name}", flush=True)
    if server.unavailable is not None:
        row.status, row.reason = "unavailable", f"not available: {server.unavailable}"
        print(f"   {row.reason}")
        return row
    row.versions = row_versions(name, ctx)
    row.busy_before = wait_for_quiet(args.quiet_wait)
    if row.busy_before > QUIET_CPU_FRACTION:
        print(f"   !! other processes were using {row.busy_before:.0%} of the CPUs before this row")
    try:
        measure(server, port, args, ctx, row)
    except ServerError as exc:
        log_path = ctx.log_dir / f"{name}-{work.name}.log"
        if name.startswith("dockyard") and isinstance(exc, NotReady):
            row.status, row.reason = "unavailable", f"not available: {exc} (see {log_path.name})"
            print(f"   {row.reason}\n{log_tail(log_path, 5)}")
            return row
        row.status, row.reason = "failed", str(exc)
        print(
            f"   !! {name} FAILED: {exc}\n   last lines of {log_path}:\n{log_tail(log_path)}", file=sys.stderr
        )
    return row


def compress_big_logs(log_dir: Path, limit_bytes: int = 20 * 1024 * 1024) -> None:
    """gzip the server logs that per-request access lines made large."""
    for path in sorted(log_dir.rglob("*.log")):
        if path.stat().st_size > limit_bytes:
            with path.open("rb") as src, gzip.open(path.with_suffix(".log.gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            path.unlink()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--only", nargs="+", choices=list(BUILDERS), help="run only these servers")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=list(CONCURRENCIES), help="default: 1 8 32"
    )
    parser.add_argument(
        "--extra-concurrency", type=int, nargs="+", default=[32],
        help="concurrency for the workloads other than sklearn (default: 32)",
    )  # fmt: skip
    parser.add_argument(
        "--dockyard", type=Path, default=REPO / ".venv" / "bin" / "dockyard", help="the dockyard executable"
    )
    parser.add_argument(
        "--baseline-src", type=Path,
        help="another dockyard source tree (its src/): adds dockyard-*-base rows run from it, same run",
    )  # fmt: skip
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
    names = args.only or [n for n in BUILDERS if not n.endswith("-base") or args.baseline_src]
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    started = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS / f"logs-{started}"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"Serving benchmark: {', '.join(names)}; workloads {', '.join(args.workloads)}")
    print(f"NOTE: {SHARED_CORES_NOTE}")
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        scratch = Path(tmp)
        workloads = make_workloads(scratch, args.workloads, with_mlflow="mlflow" in names)
        for work in workloads.values():
            print(f"In-process prediction, {work.name}: {work.predict_us:,.1f} µs (median)")
        wants_dockyard = any(n.startswith("dockyard") for n in names)
        help_text, problem = check_dockyard(args.dockyard) if wants_dockyard else (None, None)
        ctx = Context(scratch, log_dir, args.dockyard, help_text, problem, args.baseline_src)
        rng = random.Random()
        rows = [
            bench_one(name, work, ctx, args, rng)
            for work in workloads.values()
            for name in names
            if work.name in SUPPORTS[name]
        ]
    meta = {
        "started": started,
        "duration_s": args.duration,
        "retries": args.retries,
        "concurrency": args.concurrency,
        "extra_concurrency": args.extra_concurrency,
        "workloads": list(workloads),
        "predict_us": {work.name: work.predict_us for work in workloads.values()},
        "wrk": tool_output_version(["wrk", "-v"], r"wrk (\S+)"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "loadavg": loadavg,
        "python": platform.python_version(),
        "note": SHARED_CORES_NOTE,
        "baseline_src": str(args.baseline_src) if args.baseline_src else None,
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
