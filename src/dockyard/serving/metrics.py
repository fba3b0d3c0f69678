"""Prometheus metrics, aggregated across worker processes.

Workers record into prometheus_client's multi-process files (``PROMETHEUS_MULTIPROC_DIR``, set by
the supervisor before any worker starts); the supervisor serves the merged view on its own port,
because SageMaker routes only /ping and /invocations to the container's main port.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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


class WorkerMetrics:
    """The metrics one worker records; label children are cached to keep the hot path short."""

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
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self.observe_batch: Callable[[float], None] = self._batch.observe

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        children = self._children.get((path, status))
        if children is None:
            if len(self._children) > 64:  # unknown paths must not grow the label set without bound
                path = "other"
            children = (self._requests.labels(path, str(status)), self._latency.labels(path))
            self._children[(path, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def set_load_time(self, seconds: float) -> None:
        self._load.set(seconds)


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
