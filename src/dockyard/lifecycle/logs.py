"""``dockyard logs ENDPOINT [--follow]``: the endpoint's container logs, per variant and instance.

CloudWatch Logs on both targets (the emulator serves the same API from its instances' logs): group
``/aws/sagemaker/Endpoints/<endpoint>``, one stream per instance (``<variant>/<instance id>``), read
with FilterLogEvents; following polls it again from the newest event seen.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from dockyard.errors import DockyardError
from dockyard.lifecycle.calls import Aws, AwsError
from dockyard.lifecycle.target import TargetLike, resolve_target


@dataclass(frozen=True)
class LogLine:
    source: str  # the log stream: <variant>/<instance>
    message: str
    timestamp: float | None = None  # epoch seconds


def log_group(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def logs(
    endpoint_name: str,
    *,
    follow: bool = False,
    poll_interval: float | None = None,
    target: TargetLike = None,
) -> Generator[LogLine, None, None]:
    """The endpoint's log lines, oldest first; with ``follow``, new ones as they come (never ends)."""
    aws = Aws(resolve_target(target))
    interval = poll_interval or (0.5 if aws.target.is_local else 5.0)
    reader = _Reader(aws, endpoint_name)
    first = list(reader.read())  # here, so that a missing group fails now, not at the first next()

    def lines() -> Generator[LogLine, None, None]:
        yield from first
        while follow:
            time.sleep(interval)
            yield from reader.read()

    return lines()


class _Reader:
    """FilterLogEvents from the newest timestamp seen; events of that same millisecond come again and
    are told apart by their eventId."""

    def __init__(self, aws: Aws, endpoint_name: str) -> None:
        self.aws, self.endpoint_name = aws, endpoint_name
        self.group = log_group(endpoint_name)
        self.start = 0
        self.seen: set[str] = set()  # the eventIds at ``start``

    def read(self) -> Iterator[LogLine]:
        pages = self.aws.pages("logs", "filter_log_events", logGroupName=self.group, startTime=self.start)
        try:
            # Sorted here: pages interleave the streams' events.
            events = sorted(
                (event for page in pages for event in page.get("events", [])),
                key=lambda event: int(event["timestamp"]),
            )
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise DockyardError(
                    f"there is no CloudWatch log group {self.group}: the endpoint {self.endpoint_name} "
                    "does not exist in this region, or has not logged yet"
                ) from None
            raise
        for event in events:
            timestamp = int(event["timestamp"])
            if event["eventId"] in self.seen or timestamp < self.start:
                continue
            if timestamp > self.start:
                self.start, self.seen = timestamp, set()
            self.seen.add(event["eventId"])
            message = str(event.get("message", "")).rstrip("\n")
            yield LogLine(event.get("logStreamName", ""), message, timestamp / 1000)
