"""The serving benchmark's report: Markdown tables with dockyard's ratios, the targets, and JSON."""

from __future__ import annotations

import contextlib
import json
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving_load import WrkResult
from serving_servers import PEER_ROWS, WORKERS

VERSION_SCRIPT = (
    "import importlib.metadata as m, json, sys; print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
)
TARGETS = (  # (what, threshold) at c=32 on the sklearn workload
    ("dockyard req/s ÷ the best peer's", 2.5),
    ("the best peer's p99 ÷ dockyard's", 3.0),
    ("dockyard-noop req/s ÷ asgi-floor's", 0.7),
    ("dockyard-batch req/s ÷ the best peer's", 6.0),
)


@dataclass
class Row:
    name: str
    workload: str
    status: str = "ok"  # ok | unavailable | failed
    reason: str = ""
    command: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    ready_s: float | None = None
    busy_before: float | None = None
    memory_kib: tuple[int, int] | None = None  # (RSS, PSS) of the whole server, after warm-up
    body_bytes: int = 0
    results: dict[int, WrkResult] = field(default_factory=dict)


def versions_of(python: Path, packages: tuple[str, ...]) -> dict[str, str]:
    """Versions of the packages that matter for a row, read from its own venv."""
    try:
        done = subprocess.run(
            [str(python), "-c", VERSION_SCRIPT, *packages],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        found: dict[str, str] = json.loads(done.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}
    return found


def tool_output_version(argv: list[str], pattern: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        match = re.search(pattern, done.stdout + done.stderr)
        if match:
            return match.group(1)
    return "?"


def nginx_version() -> str:
    return tool_output_version([shutil.which("nginx") or "/usr/sbin/nginx", "-v"], r"nginx/(\S+)")


def ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "n/a"
    return f"{numerator / denominator:.2f}x"


def result_of(rows: list[Row], name: str, workload: str, concurrency: int) -> WrkResult | None:
    for row in rows:
        if row.name == name and row.workload == workload and row.status == "ok":
            return row.results.get(concurrency)
    return None


def best_peer(rows: list[Row], workload: str, concurrency: int) -> tuple[str, WrkResult] | None:
    found = [
        (name, res)
        for name in PEER_ROWS
        if name != "asgi-floor" and (res := result_of(rows, name, workload, concurrency)) is not None
    ]
    return max(found, key=lambda item: item[1].rps) if found else None


def table_lines(rows: list[Row], workload: str, concurrency: int) -> list[str]:
    """One workload at one concurrency: each server, and dockyard's ratios against each peer."""
    base = result_of(rows, "dockyard", workload, concurrency)
    mb = workload == "csv1000"
    lines = [
        "| server | req/s | " + ("MB/s | " if mb else "") + "p50 ms | p99 ms | errors | server CPU µs/req "
        "| others' CPU | dockyard ÷ it, req/s | its p99 ÷ dockyard p99 |",
        "|---|---:|" + ("---:|" if mb else "") + "---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row.workload != workload:
            continue
        res = row.results.get(concurrency) if row.status == "ok" else None
        if res is None:
            lines.append(f"| {row.name} | {row.reason or row.status} |" + " |" * (8 if mb else 7))
            continue
        is_peer = row.name in PEER_ROWS
        thr = ratio(base.rps if base else None, res.rps) if is_peer else "—"
        p99 = ratio(res.p99_ms, base.p99_ms if base else None) if is_peer else "—"
        rate = f" {res.rps * row.body_bytes / 1e6:,.1f} |" if mb else ""
        cells = (
            f"{res.rps:,.0f} |{rate} {res.p50_ms:.2f} | {res.p99_ms:.2f} | {res.errors} | "
            f"{res.server_cpu_us:,.0f} | {res.other_cpu:.0%}"
        )
        lines.append(f"| {row.name} | {cells} | {thr} | {p99} |")
    return lines


def target_lines(rows: list[Row]) -> list[str]:
    best = best_peer(rows, "sklearn", 32)
    mine = result_of(rows, "dockyard", "sklearn", 32)
    noop = result_of(rows, "dockyard-noop", "sklearn", 32)
    batch = result_of(rows, "dockyard-batch", "sklearn", 32)
    floor = result_of(rows, "asgi-floor", "sklearn", 32)
    peer = best[1] if best else None
    values = (
        mine.rps / peer.rps if mine and peer else None,
        peer.p99_ms / mine.p99_ms if mine and peer else None,
        noop.rps / floor.rps if noop and floor else None,
        batch.rps / peer.rps if batch and peer else None,
    )
    lines = [f"Best peer at c=32: {best[0] if best else 'none measured'}.", "", "| target | this run | met |"]
    lines.append("|---|---:|---|")
    for (what, threshold), value in zip(TARGETS, values, strict=True):
        shown = "n/a" if value is None else f"{value:.2f}"
        met = "n/a" if value is None else ("yes" if value >= threshold else "**no**")
        lines.append(f"| {what} ≥ {threshold:g} | {shown} | {met} |")
    for name in ("dockyard", "dockyard-noop", "dockyard-batch"):
        new, old = result_of(rows, name, "sklearn", 32), result_of(rows, f"{name}-base", "sklearn", 32)
        if new and old:
            lines.append(
                f"| {name} ÷ {name}-base (same run): req/s; p99; server CPU per request | "
                f"{new.rps / old.rps:.2f}; {new.p99_ms / old.p99_ms:.2f}; "
                f"{new.server_cpu_us / max(1e-9, old.server_cpu_us):.2f} | |"
            )
    return lines


def memory_lines(rows: list[Row]) -> list[str]:
    lines = [
        f"| server ({WORKERS} workers, sklearn model, after warm-up) | RSS, MiB (sum) | PSS, MiB (sum) |",
        "|---|---:|---:|",
    ]
    for row in rows:
        if row.workload == "sklearn" and row.memory_kib is not None:
            rss, pss = row.memory_kib
            lines.append(f"| {row.name} | {rss / 1024:,.0f} | {pss / 1024:,.0f} |")
    return lines


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    out = [
        f"# Serving benchmark, {meta['started']}",
        "",
        f"- {meta['note']}",
        f"- wrk {meta['wrk']}: `-t min(c,2) -c c -d {meta['duration_s']}s --latency -s bench/post.lua`; "
        f"warm-up 2 s at c=8; {WORKERS} workers per server.",
        "- In-process prediction of each workload's request (median, same run): "
        + ", ".join(f"{name} {us:,.0f} µs" for name, us in meta["predict_us"].items())
        + ".",
        f"- Machine: {meta['cpu']}, {meta['cores']} cores; load average at start {meta['loadavg']}.",
        '- "others\' CPU": share of all CPU time, during that wrk run, used by processes other than wrk '
        "and the server; a run above 10% is rerun (up to "
        f"{meta['retries']} times) and the least disturbed one is kept.",
        "",
        "## Targets (sklearn, c=32)",
        "",
        *target_lines(rows),
        "",
    ]
    for concurrency in meta["concurrency"]:
        out += [
            f"## sklearn, one JSON row, c={concurrency}",
            "",
            *table_lines(rows, "sklearn", concurrency),
            "",
        ]
    for workload in meta["workloads"]:
        if workload == "sklearn":
            continue
        for concurrency in meta["extra_concurrency"]:
            out += [f"## {workload}, c={concurrency}", "", *table_lines(rows, workload, concurrency), ""]
    out += ["## Resident memory", "", *memory_lines(rows), ""]
    out += ["## Servers", "", "| server | workload | status | versions | started as | CPU busy before |"]
    out.append("|---|---|---|---|---|---:|")
    for row in rows:
        versions = ", ".join(f"{k} {v}" for k, v in row.versions.items())
        busy = f"{row.busy_before:.0%}" if row.busy_before is not None else ""
        status = {"ok": "ok", "failed": f"FAILED: {row.reason}"}.get(row.status, row.reason)
        out.append(f"| {row.name} | {row.workload} | {status} | {versions} | `{row.command}` | {busy} |")
    return "\n".join(out) + "\n"


def as_json(rows: list[Row], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "servers": [
            {
                "name": row.name,
                "workload": row.workload,
                "status": row.status,
                "reason": row.reason,
                "command": row.command,
                "versions": row.versions,
                "ready_s": row.ready_s,
                "cpu_busy_before": row.busy_before,
                "memory_kib": row.memory_kib,
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
