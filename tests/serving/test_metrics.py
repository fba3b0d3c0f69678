"""Tallied metrics, written out in bulk, read exactly as if every value had been observed one by one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import random
from prometheus_client import CollectorRegistry, Histogram, Counter
from prometheus_client.multiprocess import MultiProcessCollector
from dockyard.serving.metrics import LATENCY_BUCKETS, WorkerMetrics

metrics = WorkerMetrics()
reference = Histogram("reference_seconds", "one observe per value", ["path"], buckets=LATENCY_BUCKETS)
requests = Counter("reference_requests", "one inc per value", ["path", "status"])
rng = random.Random(7)
values = [rng.choice(LATENCY_BUCKETS) for _ in range(50)] + [rng.uniform(0, 70) for _ in range(500)]
for index, value in enumerate(values):
    metrics.observe_request("/invocations", 200, value)
    reference.labels("/invocations").observe(value)
    requests.labels("/invocations", "200").inc()
    if index == 300:
        metrics.flush()  # flushing twice must not count anything twice
metrics.flush()
metrics.flush()

registry = CollectorRegistry()
MultiProcessCollector(registry)
samples = {}
for family in registry.collect():
    for sample in family.samples:
        samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

def pick(prefix):
    found = {}
    for (name, labels), value in samples.items():
        if name.startswith(prefix):
            found[(name[len(prefix):], labels)] = value
    return found

ours, theirs = pick("dockyard_request_duration_seconds"), pick("reference_seconds")
assert ours.keys() == theirs.keys(), (ours.keys(), theirs.keys())
for key, value in ours.items():
    assert abs(value - theirs[key]) < 1e-6, (key, value, theirs[key])
key = ("dockyard_requests_total", (("path", "/invocations"), ("status", "200")))
assert samples[key] == len(values) == samples[("reference_requests_total", key[1])], samples[key]
print("ok", len(ours))
"""


def test_bulk_written_tallies_equal_one_observe_per_value(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")
