"""The serving benchmark's load and noise: wrk runs, and how busy the machine was around each.

wrk and the servers share the machine's cores; before each server the runner waits (bounded) for
the CPUs to go idle, and every wrk run reports *others' CPU*, the share of all CPU time used by
processes other than wrk and the server. A run above ``DISTURBED`` is rerun; the least disturbed is kept.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import resource
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from serving_procs import ServerError, session_members

if TYPE_CHECKING:
    from serving_servers import Server

POST_LUA = Path(__file__).resolve().parent / "post.lua"
QUIET_CPU_FRACTION = 0.25  # wait before a server until others use less than this share of the CPUs
DISTURBED = 0.10  # a wrk run during which others used more than this share of the CPUs is rerun


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
    # The server's own CPU time per request (all its processes): what a request costs it, which the
    # others' load on a shared machine changes far less than it changes req/s and latency.
    server_cpu_us: float = 0.0

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
    env = {**os.environ, "WRK_BODY": server.body.decode(), "WRK_CONTENT_TYPE": server.content_type}
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
    after = CpuSample.take(sid)
    result = parse_wrk(done.stdout, concurrency)
    cpu_us = (after.server - before.server) / CLK_TCK / max(1, result.requests) * 1e6
    return dataclasses.replace(result, other_cpu=before.others_since(after), server_cpu_us=cpu_us)


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


def summary(result: WrkResult) -> str:
    return (
        f"c={result.concurrency:<3} {result.rps:>10,.0f} req/s  p50 {result.p50_ms:.2f} ms  "
        f"p99 {result.p99_ms:.2f} ms  errors {result.errors}  server CPU {result.server_cpu_us:.0f} µs/req  "
        f"others' CPU {result.other_cpu:.0%}"
    )


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
