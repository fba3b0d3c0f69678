"""Prometheus metrics, aggregated across worker processes.

Workers record into prometheus_client's multi-process files (``PROMETHEUS_MULTIPROC_DIR``, set by
the supervisor before any worker starts); the supervisor serves the merged view on its own port,
because SageMaker routes only /ping and /invocations to the container's main port.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class _Tally:
    """Observations of one histogram child not yet written out: count, sum and per-bucket counts."""

    __slots__ = ("buckets", "count", "total")

    def __init__(self, bounds: int) -> None:
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (bounds + 1)  # the last one is +Inf

    def add(self, bounds: tuple[float, ...], value: float) -> None:
        self.count += 1
        self.total += value
        self.buckets[bisect_left(bounds, value)] += 1  # the first bound >= value, as prometheus counts


class WorkerMetrics:
    """The metrics one worker records.

    Requests are tallied in plain Python and written to the multi-process files by :meth:`flush`
    (the worker calls it every second and when it stops): each write to those files takes a lock and
    checks the pid, which cost about a tenth of a no-op request when done per request.
    """

    def __init__(self) -> None:
        if MULTIPROC_ENV not in os.environ:
            raise RuntimeError(f"{MULTIPROC_ENV} must be set before worker metrics are created")
        from prometheus_client import Counter, Gauge, Histogram

        self._requests = Counter("dockyard_requests", "HTTP requests by path and status", ["path", "status"])
        self._latency = Histogram(
            "dockyard_request_duration_seconds", "Request latency", ["path"], buckets=LATENCY_BUCKETS
        )
        self._batch = Histogram("dockyard_batch_size", "Requests per predict call", buckets=BATCH_BUCKETS)
        self._load = Gauge(
            "dockyard_model_load_seconds",
            "Seconds the worker took to load the model",
            multiprocess_mode="max",
        )
        self._tallies: dict[tuple[str, int], _Tally] = {}
        self._batches = _Tally(len(BATCH_BUCKETS))

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        tally = self._tallies.get((path, status))
        if tally is None:
            if len(self._tallies) > 64:  # unknown paths must not grow the label set without bound
                path = "other"
            tally = self._tallies.setdefault((path, status), _Tally(len(LATENCY_BUCKETS)))
        tally.add(LATENCY_BUCKETS, seconds)

    def observe_batch(self, size: float) -> None:
        self._batches.add(BATCH_BUCKETS, size)

    def set_load_time(self, seconds: float) -> None:
        self._load.set(seconds)

    def flush(self) -> None:
        """Write the tallies out: what Histogram.observe does per value, done once per bucket."""
        for (path, status), tally in self._tallies.items():
            if tally.count:
                self._requests.labels(path, str(status)).inc(tally.count)
                _write(self._latency.labels(path), tally)
        if self._batches.count:
            _write(self._batch, self._batches)


def _write(histogram: Any, tally: _Tally) -> None:
    # prometheus_client has no public bulk observe; its Histogram keeps a value per bucket and one for
    # the sum (``_buckets``, ``_sum``), and observe(v) adds v to the sum and 1 to v's bucket.
    histogram._sum.inc(tally.total)
    for index, count in enumerate(tally.buckets):
        if count:
            histogram._buckets[index].inc(count)
    tally.count, tally.total, tally.buckets[:] = 0, 0.0, [0] * len(tally.buckets)


def serve_metrics(host: str, port: int) -> tuple[Any, Any]:
    """Start the metrics HTTP server (a daemon thread) merging every worker's files."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return start_http_server(port, addr=host, registry=registry)


def forget_worker(pid: int) -> None:
    """Drop a dead worker's live gauges (counters and histograms keep counting its past requests)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
