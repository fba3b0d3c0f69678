"""Per-endpoint invocation metrics kept in memory, as CloudWatch's AWS/SageMaker namespace counts them.

One bucket per endpoint and minute: Invocations, Invocation4XXErrors and Invocation5XXErrors (the
container's answers; a timeout or a broken connection counts as 5xx) and ModelLatency samples (the
container's time, in seconds). Recording is on the invocation path, so it is a clock read, one dict
look-up and a few integer additions; percentiles are computed only when someone reads them. Latency
samples per bucket are capped (the first ``SAMPLE_CAP`` of the minute, then one in every ``stride``),
so a busy endpoint's memory stays bounded. Only the runtime's event loop writes; readers on that loop
(the console) see whole buckets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_MINUTES = 60  # how much history an endpoint keeps
SAMPLE_CAP = 4096  # latency samples kept per bucket


@dataclass
class Bucket:
    minute: int  # epoch seconds // 60
    invocations: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    latencies: list[float] = field(default_factory=list)
    seen: int = 0  # latency samples offered, kept or not


@dataclass(frozen=True)
class MinutePoint:
    """One minute of one endpoint, as plotted: latencies in milliseconds (None: no sample)."""

    minute: int
    invocations: int
    errors_4xx: int
    errors_5xx: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None


class EndpointMetrics:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._buckets: dict[str, list[Bucket]] = {}  # endpoint -> buckets, oldest first

    def record(self, endpoint: str, status: int, latency: float | None) -> None:
        """One invocation that reached a container (``status`` its HTTP status; 0: no answer)."""
        minute = int(self.clock()) // 60
        buckets = self._buckets.get(endpoint)
        if buckets is None:
            buckets = self._buckets[endpoint] = []
        if not buckets or buckets[-1].minute != minute:
            buckets.append(Bucket(minute))
            if len(buckets) > WINDOW_MINUTES:
                del buckets[0]
        bucket = buckets[-1]
        bucket.invocations += 1
        if 400 <= status < 500:
            bucket.errors_4xx += 1
        elif status >= 500 or status == 0:
            bucket.errors_5xx += 1
        if latency is not None:
            bucket.seen += 1
            if len(bucket.latencies) < SAMPLE_CAP:
                bucket.latencies.append(latency)
            else:
                # Keep a spread over the whole minute: overwrite a slot chosen by the running count.
                bucket.latencies[bucket.seen % SAMPLE_CAP] = latency

    def forget(self, endpoint: str) -> None:
        self._buckets.pop(endpoint, None)

    def series(self, endpoint: str, minutes: int = 30) -> list[MinutePoint]:
        """The last ``minutes`` minutes up to now, one point per minute (zeros where nothing ran)."""
        now = int(self.clock()) // 60
        by_minute = {bucket.minute: bucket for bucket in self._buckets.get(endpoint, ())}
        points = []
        for minute in range(now - minutes + 1, now + 1):
            bucket = by_minute.get(minute)
            if bucket is None:
                points.append(MinutePoint(minute, 0, 0, 0, None, None))
                continue
            ordered = sorted(bucket.latencies)
            points.append(
                MinutePoint(
                    minute,
                    bucket.invocations,
                    bucket.errors_4xx,
                    bucket.errors_5xx,
                    _percentile_ms(ordered, 0.50),
                    _percentile_ms(ordered, 0.99),
                )
            )
        return points


def _percentile_ms(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted samples, in milliseconds."""
    if not ordered:
        return None
    rank = max(0, min(len(ordered) - 1, int(fraction * len(ordered) + 0.5) - 1))
    return round(ordered[rank] * 1000.0, 3)
