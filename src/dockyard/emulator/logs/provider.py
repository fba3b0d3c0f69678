"""The local CloudWatch Logs, read-only: the endpoints' container logs as SageMaker publishes them.

Groups are ``/aws/sagemaker/Endpoints/<endpoint>``, streams ``<variant>/<instance>``; events come from
the files the fleet writes (:mod:`dockyard.emulator.logs.streams`), so ``aws logs filter-log-events``,
``get-log-events`` and AWS CLI v2's ``aws logs tail`` (FilterLogEvents from a start time, then polling
with the last event's time) read the same lines as ``dockyard logs``.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import orjson

from dockyard.emulator.aws.unsupported import refuse_unsupported
from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ServiceError
from dockyard.emulator.logs.streams import GROUP_PREFIX, Event, FilterPattern, LogFiles, Stream

Operation = Callable[[Caller, dict[str, Any]], dict[str, Any]]
DEFAULT_EVENTS = 10_000  # FilterLogEvents' and GetLogEvents' default page (1 MB cap not modelled)


class InvalidParameterException(ServiceError):
    code = "InvalidParameterException"
    status = 400


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"
    status = 400


def _token(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode()


def _untoken(token: str) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidParameterException("The specified nextToken is invalid.") from None
    if not isinstance(values, list):
        raise InvalidParameterException("The specified nextToken is invalid.")
    return values


class LogsProvider:
    # Each implemented operation and the input members it honours; any other member is refused, and every
    # other operation of the model too (a test walks botocore's model against this).
    HONOURED: ClassVar[dict[str, tuple[str, ...]]] = {
        "DescribeLogGroups": ("logGroupNamePrefix", "logGroupNamePattern", "nextToken", "limit"),
        "DescribeLogStreams": (
            "logGroupName",
            "logGroupIdentifier",
            "logStreamNamePrefix",
            "orderBy",
            "descending",
            "nextToken",
            "limit",
        ),
        "GetLogEvents": (
            "logGroupName",
            "logGroupIdentifier",
            "logStreamName",
            "startTime",
            "endTime",
            "nextToken",
            "limit",
            "startFromHead",
            "unmask",  # nothing is masked locally
        ),
        "FilterLogEvents": (
            "logGroupName",
            "logGroupIdentifier",
            "logStreamNames",
            "logStreamNamePrefix",
            "startTime",
            "endTime",
            "filterPattern",
            "nextToken",
            "limit",
            "interleaved",  # ignored by CloudWatch itself: results are always interleaved
            "unmask",
        ),
    }
    OPERATIONS: ClassVar[tuple[str, ...]] = tuple(HONOURED)

    def __init__(self, state_dir: Path) -> None:
        self.files = LogFiles(state_dir)
        self.operations: dict[str, Operation] = {
            "DescribeLogGroups": self.describe_log_groups,
            "DescribeLogStreams": self.describe_log_streams,
            "GetLogEvents": self.get_log_events,
            "FilterLogEvents": self.filter_log_events,
        }

    def handle(self, ctx: Caller, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.operations.get(operation)
        if handler is None:
            raise InvalidParameterException(
                f"The operation {operation} of Amazon CloudWatch Logs is not supported by the local target "
                f"(dockyard emulator), which serves the endpoints' logs read-only; supported: "
                f"{', '.join(self.operations)}."
            )
        refuse_unsupported(operation, params, self.HONOURED[operation], InvalidParameterException)
        return handler(ctx, params)

    def count(self, account: str, region: str) -> int:
        return len(self.files.groups(account, region))

    # ---- groups and streams ------------------------------------------------------------------

    def describe_log_groups(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("logGroupNamePrefix") or ""
        pattern = (params.get("logGroupNamePattern") or "").lower()
        groups = [
            {
                "logGroupName": name,
                "creationTime": int(min(d.stat().st_ctime for d in directories) * 1000),
                "metricFilterCount": 0,
                "arn": self._arn(ctx, name) + ":*",
                "logGroupArn": self._arn(ctx, name),
                "storedBytes": sum(p.stat().st_size for d in directories for p in d.glob("*/*.log")),
                "logGroupClass": "STANDARD",
            }
            for name, directories in self.files.groups(ctx.account, ctx.region)
            if name.startswith(prefix) and pattern in name.lower()
        ]
        start = int(_untoken(params["nextToken"])[0]) if params.get("nextToken") else 0
        end = start + int(params.get("limit") or 50)
        following = _token([end]) if end < len(groups) else None
        return {"logGroups": groups[start:end], "nextToken": following}

    def describe_log_streams(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        prefix = params.get("logStreamNamePrefix") or ""
        if prefix and params.get("orderBy") == "LastEventTime":
            raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
        described = []
        for stream in self._streams(ctx, group):
            if not stream.name.startswith(prefix):
                continue
            events = self.files.events(stream)
            stat = stream.path.stat()
            described.append(
                {
                    "logStreamName": stream.name,
                    "creationTime": events[0].timestamp if events else int(stat.st_mtime * 1000),
                    "firstEventTimestamp": events[0].timestamp if events else None,
                    "lastEventTimestamp": events[-1].timestamp if events else None,
                    "lastIngestionTime": int(stat.st_mtime * 1000),
                    "arn": f"{self._arn(ctx, group)}:log-stream:{stream.name}",
                    "storedBytes": 0,  # CloudWatch reports 0 here (deprecated member)
                }
            )
        if params.get("orderBy") == "LastEventTime":
            described.sort(key=lambda s: int(str(s["lastEventTimestamp"] or 0)))
        if params.get("descending"):
            described.reverse()
        start = int(_untoken(params["nextToken"])[0]) if params.get("nextToken") else 0
        end = start + int(params.get("limit") or 50)
        following = _token([end]) if end < len(described) else None
        return {"logStreams": described[start:end], "nextToken": following}

    # ---- events ------------------------------------------------------------------------------

    def get_log_events(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        stream = next((s for s in self._streams(ctx, group) if s.name == params["logStreamName"]), None)
        if stream is None:
            raise ResourceNotFoundException("The specified log stream does not exist.")
        events = _in_window(self.files.events(stream), params)
        limit = int(params.get("limit") or DEFAULT_EVENTS)
        # Tokens are "f:<index>" / "b:<index>" positions in the window, as CloudWatch's are opaque ones.
        token = params.get("nextToken")
        if token:
            direction, position = _untoken(token)
        else:
            direction, position = ("f", 0) if params.get("startFromHead") else ("b", len(events))
        if direction == "f":
            start, end = int(position), min(int(position) + limit, len(events))
        else:
            start, end = max(int(position) - limit, 0), int(position)
        page = events[start:end]
        return {
            "events": [_output(event) for event in page],
            "nextForwardToken": _token(["f", end]),
            "nextBackwardToken": _token(["b", start]),
        }

    def filter_log_events(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("logStreamNames") and params.get("logStreamNamePrefix"):
            raise InvalidParameterException("logStreamNames and logStreamNamePrefix are mutually exclusive")
        pattern = params.get("filterPattern") or ""
        if pattern.lstrip().startswith(("{", "[")):
            raise InvalidParameterException(
                "The local target (dockyard emulator) supports plain-text filter patterns only (terms, "
                '"quoted phrases", -term, ?term), not JSON or space-delimited patterns.'
            )
        matches = FilterPattern(pattern)
        group = self._group_name(params)
        streams = self._streams(ctx, group)
        names = params.get("logStreamNames")
        if names:
            streams = [s for s in streams if s.name in set(names)]
        prefix = params.get("logStreamNamePrefix") or ""
        streams = [s for s in streams if s.name.startswith(prefix)]
        events = sorted(
            (e for s in streams for e in _in_window(self.files.events(s), params) if matches(e.message)),
            key=_order,
        )
        if params.get("nextToken"):
            after = tuple(_untoken(params["nextToken"]))
            events = [e for e in events if _order(e) > after]
        limit = int(params.get("limit") or DEFAULT_EVENTS)
        page = events[:limit]
        following = _token(list(_order(page[-1]))) if len(events) > limit else None
        return {
            "events": [
                {**_output(event), "logStreamName": event.stream, "eventId": _event_id(event)}
                for event in page
            ],
            "searchedLogStreams": [{"logStreamName": s.name, "searchedCompletely": True} for s in streams],
            "nextToken": following,
        }

    # ---- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _arn(ctx: Caller, group: str) -> str:
        return f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{group}"

    @staticmethod
    def _group_name(params: dict[str, Any]) -> str:
        name = params.get("logGroupName")
        identifier = params.get("logGroupIdentifier")
        if name and identifier:
            raise InvalidParameterException("logGroupName and logGroupIdentifier are mutually exclusive")
        if identifier:
            # An ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME) or a plain name.
            name = identifier.split(":log-group:", 1)[1] if ":log-group:" in identifier else identifier
            name = name[:-2] if name.endswith(":*") else name
        if not name:
            raise InvalidParameterException("Either logGroupName or logGroupIdentifier must be specified")
        return str(name)

    def _streams(self, ctx: Caller, group: str) -> list[Stream]:
        directories = self.files.group_dirs(ctx.account, ctx.region, group)
        if directories is None:
            hint = (
                ""
                if group.startswith(GROUP_PREFIX)
                else f" (the local target has {GROUP_PREFIX}<endpoint> only)"
            )
            raise ResourceNotFoundException(f"The specified log group does not exist.{hint}")
        return self.files.streams(group, directories)


def _in_window(events: list[Event], params: dict[str, Any]) -> list[Event]:
    start, end = params.get("startTime"), params.get("endTime")
    return [
        e for e in events if (start is None or e.timestamp >= start) and (end is None or e.timestamp <= end)
    ]


def _order(event: Event) -> tuple[int, str, int]:
    return (event.timestamp, event.stream, event.line)


def _output(event: Event) -> dict[str, Any]:
    return {"timestamp": event.timestamp, "message": event.message, "ingestionTime": event.timestamp}


def _event_id(event: Event) -> str:
    # CloudWatch's ids are long decimal strings; this one is stable for the same line of the same stream.
    return f"{event.timestamp:d}{zlib.crc32(event.stream.encode()):010d}{event.line:010d}"
