"""The runtime's in-memory invocation metrics: per-minute buckets, error classes, latency percentiles."""

from __future__ import annotations

from dockyard.emulator.runtime.metrics import SAMPLE_CAP, WINDOW_MINUTES, EndpointMetrics


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # a minute boundary

    def __call__(self) -> float:
        return self.now


def test_each_minute_counts_invocations_and_errors_by_class() -> None:
    clock = Clock()
    metrics = EndpointMetrics(clock)
    for status in (200, 200, 404, 500, 0):
        metrics.record("ep", status, 0.01)
    clock.now += 60
    metrics.record("ep", 200, 0.02)
    points = metrics.series("ep", minutes=3)
    assert [p.invocations for p in points] == [0, 5, 1]
    assert [p.errors_4xx for p in points] == [0, 1, 0]
    assert [p.errors_5xx for p in points] == [0, 2, 0]  # status 0: no answer (a timeout), a 5xx
    assert points[0].latency_p50_ms is None
    assert points[2].minute * 60 == clock.now


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    metrics = EndpointMetrics(Clock())
    for millis in range(1, 101):
        metrics.record("ep", 200, millis / 1000)
    (point,) = metrics.series("ep", minutes=1)
    assert point.latency_p50_ms == 50.0
    assert point.latency_p99_ms == 99.0


def test_memory_is_bounded_per_bucket_and_per_endpoint() -> None:
    clock = Clock()
    metrics = EndpointMetrics(clock)
    for _ in range(SAMPLE_CAP * 2):
        metrics.record("ep", 200, 0.005)
    assert len(metrics._buckets["ep"][-1].latencies) == SAMPLE_CAP
    assert metrics.series("ep", minutes=1)[0].invocations == SAMPLE_CAP * 2
    for _ in range(WINDOW_MINUTES + 10):
        clock.now += 60
        metrics.record("ep", 200, None)
    assert len(metrics._buckets["ep"]) == WINDOW_MINUTES


def test_endpoints_are_kept_apart_and_forgotten() -> None:
    metrics = EndpointMetrics(Clock())
    metrics.record("a", 200, 0.001)
    assert metrics.series("b", minutes=1)[0].invocations == 0
    metrics.forget("a")
    assert metrics.series("a", minutes=1)[0].invocations == 0
