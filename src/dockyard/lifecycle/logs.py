"""``dockyard logs ENDPOINT [--follow]``: the endpoint's container logs, per variant and instance.

Local: the emulator writes ``<state_dir>/logs/<account>/<region>/<endpoint>/<variant>/<instance>.log``;
they are read here directly (the emulator serves one account: the region picks the endpoint).
AWS: CloudWatch Logs, group ``/aws/sagemaker/Endpoints/<endpoint>``, one stream per instance
(``<variant>/<instance id>``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError
from dockyard.lifecycle.calls import Aws, AwsError
from dockyard.lifecycle.target import Target, resolve_target

LOG_DIR = "logs"


@dataclass(frozen=True)
class LogLine:
    source: str  # <variant>/<instance>
    message: str
    timestamp: float | None = None  # epoch seconds (CloudWatch only)


def log_group(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def logs(
    endpoint_name: str,
    *,
    follow: bool = False,
    poll_interval: float | None = None,
    target: str | Target | None = None,
    region: str | None = None,
    profile: str | None = None,
    emulator_url: str | None = None,
) -> Generator[LogLine, None, None]:
    """The endpoint's log lines, oldest first; with ``follow``, new ones as they come (never ends)."""
    resolved = resolve_target(target, region=region, profile=profile, emulator_url=emulator_url)
    if resolved.is_local:
        if resolved.state_dir is None:
            raise DockyardError("the emulator did not say where its state directory is; cannot read its logs")
        found = sorted((resolved.state_dir / LOG_DIR).glob(f"*/{resolved.region}/{endpoint_name}"))
        directory = (
            found[0] if found else resolved.state_dir / LOG_DIR / "*" / resolved.region / endpoint_name
        )
        return _local(directory, endpoint_name, follow, poll_interval or 0.5)
    return _cloudwatch(Aws(resolved), endpoint_name, follow, poll_interval or 5.0)


def _local(
    directory: Path, endpoint_name: str, follow: bool, interval: float
) -> Generator[LogLine, None, None]:
    if not directory.is_dir():
        raise DockyardError(
            f"the endpoint {endpoint_name} has no logs in {directory}; is it deployed on this emulator? "
            "(`dockyard endpoints list`)"
        )

    def read() -> Iterator[LogLine]:
        # Whole lines only: a partial last line waits for its newline (or for the next read).
        for path in sorted(directory.glob("*/*.log")):
            source = f"{path.parent.name}/{path.stem}"
            with path.open("rb") as file:
                file.seek(offsets.get(path, 0))
                data = file.read()
            end = data.rfind(b"\n") + 1
            offsets[path] = offsets.get(path, 0) + end
            for line in data[:end].decode("utf-8", "replace").splitlines():
                yield LogLine(source, line)

    offsets: dict[Path, int] = {}
    return _generate(read, follow, interval)


def _generate(
    read: Callable[[], Iterator[LogLine]], follow: bool, interval: float, first: list[LogLine] | None = None
) -> Generator[LogLine, None, None]:
    """``first`` (else a first read), then, when following, a read every ``interval`` seconds."""

    def lines() -> Generator[LogLine, None, None]:
        yield from first if first is not None else read()
        while follow:
            time.sleep(interval)
            yield from read()

    return lines()


def _cloudwatch(
    aws: Aws, endpoint_name: str, follow: bool, interval: float
) -> Generator[LogLine, None, None]:
    group = log_group(endpoint_name)
    seen: set[str] = set()
    start = 0

    def read() -> Iterator[LogLine]:
        nonlocal start
        params: dict[str, Any] = {"logGroupName": group, "startTime": start}
        while True:
            try:
                page = aws.call("logs", "filter_log_events", **params)
            except AwsError as exc:
                if exc.code == "ResourceNotFoundException":
                    raise DockyardError(
                        f"there is no CloudWatch log group {group}: the endpoint {endpoint_name} does not "
                        "exist in this region, or has not logged yet"
                    ) from None
                raise
            for event in page.get("events", []):
                if event["eventId"] in seen:
                    continue
                seen.add(event["eventId"])
                start = max(start, int(event["timestamp"]))
                message = str(event.get("message", "")).rstrip("\n")
                yield LogLine(event.get("logStreamName", ""), message, int(event["timestamp"]) / 1000)
            token = page.get("nextToken")
            if not token:
                return
            params["nextToken"] = token

    # A first read here so that a missing group fails now, not at the caller's first next().
    first = list(read())
    return _generate(read, follow, interval, first)
