"""FailureReason texts: SageMaker's wording for an instance that did not start, with as much of the
container's last log lines, made readable, as DescribeEndpoint's 1,024 characters leave room for."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.emulator.sagemaker.deployment import VariantDeployment

MAX_REASON = 1024  # DescribeEndpoint's FailureReason limit


def readable_tail(tail: str) -> str:
    """A log tail as a person reads it: JSON log records (dockyard's server writes them) reduced to their
    message; and when some lines are warnings or errors, only those, since the info lines around a failed
    start (worker shutdown chatter) say nothing about its cause."""
    lines: list[tuple[str, str]] = []
    for line in tail.splitlines():
        level, text = "", line
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict) and "message" in record:
                level, text = str(record.get("level", "")).lower(), str(record["message"])
        lines.append((level, text))
    serious = [text for level, text in lines if level in ("warning", "error", "critical")]
    return "\n".join(serious or [text for _, text in lines])


def with_log_tail(reason: str, tail: str) -> str:
    """``reason`` and as much of the container's last log lines as FailureReason has room for."""
    tail = readable_tail(tail)
    if not tail:
        return reason[:MAX_REASON]
    room = MAX_REASON - len(reason) - len(" Last log lines: ")
    if room <= 0:
        return reason[:MAX_REASON]
    return f"{reason} Last log lines: {tail[-room:]}"


def cannot_start(variant: VariantDeployment, detail: str) -> str:
    return (
        f"CannotStartContainerError. Please ensure the model container for variant {variant.name} starts "
        f"correctly when invoked with 'docker run <image> serve'. {detail}"
    )
