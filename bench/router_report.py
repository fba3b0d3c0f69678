"""The router benchmark's report: one :class:`Result` per wrk run, their medians per target and
concurrency, the ratios against the targets (issue 4), and the JSON file under bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
P50_TARGET_MS = 1.0
CAPTURE_P50_TARGET_MS = 0.3
THROUGHPUT_TARGET = 0.80


@dataclass(frozen=True)
class Result:
    target: str
    concurrency: int
    round: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    emulator_cpu_us_per_request: float


def report(results: list[Result], args: argparse.Namespace) -> int:
    summary: dict[str, Any] = {}
    missed = False
    print(
        f"\nmedians over {args.rounds} rounds of {args.duration} s ({os.cpu_count()} cores shared by all; "
        f"--via {args.via}, --routers {args.routers}):"
    )
    print(f"{'c':>3} {'target':9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu us/req':>10}")
    for concurrency in (1, 32):
        row: dict[str, dict[str, float]] = {}
        for target in ("direct", "emulator", "capture"):
            mine = [r for r in results if r.target == target and r.concurrency == concurrency]
            if not mine:
                continue
            row[target] = {
                "requests_per_s": statistics.median(r.requests_per_s for r in mine),
                "p50_ms": statistics.median(r.p50_ms for r in mine),
                "p99_ms": statistics.median(r.p99_ms for r in mine),
                "errors": sum(r.errors for r in mine),
                "emulator_cpu_us_per_request": statistics.median(r.emulator_cpu_us_per_request for r in mine),
            }
            print(
                f"{concurrency:>3} {target:9} {row[target]['requests_per_s']:9.0f} "
                f"{row[target]['p50_ms']:8.2f} {row[target]['p99_ms']:8.2f} "
                f"{row[target]['emulator_cpu_us_per_request']:10.0f}"
            )
        added = row["emulator"]["p50_ms"] - row["direct"]["p50_ms"]
        ratio = row["emulator"]["requests_per_s"] / row["direct"]["requests_per_s"]
        row["ratios"] = {"p50_added_ms": added, "throughput_ratio": ratio}
        print(f"    emulator vs direct: p50 +{added:.2f} ms, throughput {ratio:.0%}")
        if "capture" in row:
            by_capture = row["capture"]["p50_ms"] - row["emulator"]["p50_ms"]
            row["ratios"]["capture_p50_added_ms"] = by_capture
            row["ratios"]["capture_throughput_ratio"] = (
                row["capture"]["requests_per_s"] / row["emulator"]["requests_per_s"]
            )
            print(f"    capture on vs off: p50 {by_capture:+.3f} ms (target <= {CAPTURE_P50_TARGET_MS} ms)")
            if concurrency == 1 and by_capture > CAPTURE_P50_TARGET_MS:
                missed = True
        if concurrency == 1 and added > P50_TARGET_MS:
            missed = True
        if concurrency == 32 and ratio < THROUGHPUT_TARGET:
            missed = True
        summary[f"c{concurrency}"] = row
    print(
        f"targets: p50 added <= {P50_TARGET_MS} ms at c=1; throughput >= {THROUGHPUT_TARGET:.0%} at c=32: "
        f"{'MISSED' if missed else 'met'}"
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"emulator-router-{stamp}.json"
    document = {"args": vars(args), "summary": summary, "runs": [asdict(r) for r in results]}
    path.write_text(json.dumps(document, indent=2))
    print(f"results: {path}")
    return 1 if missed else 0
