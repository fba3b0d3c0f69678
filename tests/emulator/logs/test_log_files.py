"""CloudWatch Logs' reading of the fleet's log files: groups and streams as SageMaker names them, line
times, filter patterns, windows and tokens, and the errors of each bad request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ServiceError
from dockyard.emulator.logs.provider import LogsProvider
from dockyard.emulator.logs.streams import line_time

GROUP = "/aws/sagemaker/Endpoints/ep"
CTX = Caller("123456789012", "us-east-1", "req")
T0 = 1_796_221_564.0


def _record(offset: float, message: str) -> str:
    return json.dumps({"ts": T0 + offset, "level": "info", "message": message})


@pytest.fixture
def provider(tmp_path: Path) -> LogsProvider:
    blue = tmp_path / "logs" / "ep" / "blue"
    green = tmp_path / "logs" / "123456789012" / "us-east-1" / "ep" / "green"
    blue.mkdir(parents=True)
    green.mkdir(parents=True)
    (blue / "i-1.log").write_text(
        "\n".join(
            [_record(0, "starting"), _record(2, "ERROR model missing"), "no stamp here", _record(4, "ready")]
        )
        + "\n"
    )
    (green / "i-2.log").write_text(
        '127.0.0.1 - - [02/Dec/2026 10:00:01] "GET /ping HTTP/1.1" 200 -\n'
        '127.0.0.1 - - [02/Dec/2026 10:00:03] "POST /invocations HTTP/1.1" 500 -\n'
    )
    (tmp_path / "logs" / "other").mkdir()  # no log files: no group
    return LogsProvider(tmp_path)


def test_groups_and_streams_are_named_as_sagemaker_names_them(provider: LogsProvider) -> None:
    groups = provider.describe_log_groups(CTX, {})["logGroups"]
    assert [g["logGroupName"] for g in groups] == [GROUP]
    assert groups[0]["logGroupArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}"
    streams = provider.describe_log_streams(CTX, {"logGroupName": GROUP})["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["blue/i-1", "green/i-2"]
    assert streams[0]["firstEventTimestamp"] == int(T0 * 1000)
    assert streams[0]["lastEventTimestamp"] == int((T0 + 4) * 1000)
    assert provider.describe_log_groups(CTX, {"logGroupNamePrefix": "/aws/lambda/"})["logGroups"] == []


def test_line_times() -> None:
    assert line_time(_record(0.5, "x")) == int((T0 + 0.5) * 1000)
    assert line_time("2026-12-02T10:00:00.250Z started") == 1_796_205_600_250
    assert line_time("[2026-12-02 10:00:00 +0100] [9] [INFO] Booting worker") == 1_796_202_000_000
    assert line_time('1.2.3.4 - - [02/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1"') == 1_796_205_600_000
    assert line_time("no time at all") is None


def test_filter_interleaves_streams_by_time_and_pages_with_tokens(provider: LogsProvider) -> None:
    everything = provider.filter_log_events(CTX, {"logGroupName": GROUP})["events"]
    stamps = [e["timestamp"] for e in everything]
    assert stamps == sorted(stamps)
    assert len(everything) == 6
    # A line without a stamp takes the time of the line before it.
    unstamped = next(e for e in everything if e["message"] == "no stamp here")
    assert unstamped["timestamp"] == int((T0 + 2) * 1000)
    seen: list[str] = []
    params: dict[str, object] = {"logGroupName": GROUP, "limit": 4}
    while True:
        page = provider.filter_log_events(CTX, params)
        seen += [e["eventId"] for e in page["events"]]
        if not page.get("nextToken"):
            break
        params["nextToken"] = page["nextToken"]
    assert seen == [e["eventId"] for e in everything]
    window = provider.filter_log_events(
        CTX, {"logGroupName": GROUP, "startTime": int((T0 + 1) * 1000), "endTime": int((T0 + 3) * 1000)}
    )["events"]
    assert [e["message"] for e in window][:2] == [_record(2, "ERROR model missing"), "no stamp here"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("ERROR", ["ERROR model missing"]),
        ('"POST /invocations"', ["POST /invocations"]),
        ("?ready ?starting", ["starting", "ready"]),
        ("info -ready -starting", ["ERROR model missing"]),
    ],
)
def test_filter_patterns(provider: LogsProvider, pattern: str, expected: list[str]) -> None:
    events = provider.filter_log_events(CTX, {"logGroupName": GROUP, "filterPattern": pattern})["events"]
    assert len(events) == len(expected)
    for event, text in zip(events, expected, strict=True):
        assert text in event["message"]


def test_get_log_events_reads_forward_and_backward(provider: LogsProvider) -> None:
    params = {"logGroupName": GROUP, "logStreamName": "blue/i-1", "limit": 3}
    latest = provider.get_log_events(CTX, params)
    assert [e["message"] for e in latest["events"]] == [
        _record(2, "ERROR model missing"),
        "no stamp here",
        _record(4, "ready"),
    ]
    earlier = provider.get_log_events(CTX, {**params, "nextToken": latest["nextBackwardToken"]})
    assert [e["message"] for e in earlier["events"]] == [_record(0, "starting")]
    head = provider.get_log_events(CTX, {**params, "startFromHead": True, "limit": 2})
    following = provider.get_log_events(CTX, {**params, "nextToken": head["nextForwardToken"]})
    assert [e["message"] for e in following["events"]] == ["no stamp here", _record(4, "ready")]


@pytest.mark.parametrize(
    ("operation", "params", "code", "message"),
    [
        (
            "GetLogEvents",
            {"logGroupName": "/aws/sagemaker/Endpoints/none", "logStreamName": "x"},
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        ),
        (
            "GetLogEvents",
            {"logGroupName": "/aws/lambda/f", "logStreamName": "x"},
            "ResourceNotFoundException",
            "The specified log group does not exist. (the local target has "
            "/aws/sagemaker/Endpoints/<endpoint> only)",
        ),
        (
            "GetLogEvents",
            {"logGroupName": GROUP, "logStreamName": "blue/none"},
            "ResourceNotFoundException",
            "The specified log stream does not exist.",
        ),
        (
            "FilterLogEvents",
            {"logGroupName": GROUP, "filterPattern": '{ $.level = "error" }'},
            "InvalidParameterException",
            'The local target (dockyard emulator) supports plain-text filter patterns only (terms, "quoted '
            'phrases", -term, ?term), not JSON or space-delimited patterns.',
        ),
        (
            "FilterLogEvents",
            {"logGroupName": GROUP, "nextToken": "garbage!"},
            "InvalidParameterException",
            "The specified nextToken is invalid.",
        ),
        (
            "FilterLogEvents",
            {"logGroupName": GROUP, "logStreamNames": ["a"], "logStreamNamePrefix": "b"},
            "InvalidParameterException",
            "logStreamNames and logStreamNamePrefix are mutually exclusive",
        ),
        (
            "FilterLogEvents",
            {},
            "InvalidParameterException",
            "Either logGroupName or logGroupIdentifier must be specified",
        ),
        (
            "DescribeLogStreams",
            {"logGroupName": GROUP, "logStreamNamePrefix": "b", "orderBy": "LastEventTime"},
            "InvalidParameterException",
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ),
        (
            "DescribeLogGroups",
            {"includeLinkedAccounts": True},
            "InvalidParameterException",
            "The local target (dockyard emulator) does not support includeLinkedAccounts in "
            "DescribeLogGroups yet.",
        ),
        (
            "PutLogEvents",
            {},
            "InvalidParameterException",
            "The operation PutLogEvents of Amazon CloudWatch Logs is not supported by the local target "
            "(dockyard emulator), which serves the endpoints' logs read-only; supported: DescribeLogGroups, "
            "DescribeLogStreams, GetLogEvents, FilterLogEvents.",
        ),
    ],
)
def test_errors(
    provider: LogsProvider, operation: str, params: dict[str, object], code: str, message: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        provider.handle(CTX, operation, dict(params))
    assert (caught.value.code, caught.value.message) == (code, message)


def test_follow_as_aws_cli_v2_logs_tail_does(provider: LogsProvider, tmp_path: Path) -> None:
    """`aws logs tail --follow` (CLI v2): FilterLogEvents with interleaved and a start time, then again from
    the newest event's time, skipping event ids already seen at that time."""
    params: dict[str, object] = {"logGroupName": GROUP, "interleaved": True, "startTime": int(T0 * 1000)}
    seen: dict[int, set[str]] = {}
    shown: list[str] = []

    def poll() -> None:
        for event in provider.filter_log_events(CTX, dict(params))["events"]:
            if event["eventId"] not in seen.setdefault(event["timestamp"], set()):
                seen[event["timestamp"]].add(event["eventId"])
                shown.append(event["message"])
        params["startTime"] = max(seen)

    poll()
    assert len(shown) == 4  # the green stream's lines are older than the start time
    with (tmp_path / "logs" / "ep" / "blue" / "i-1.log").open("a") as log:
        log.write(_record(10_000_000, "a new line") + "\n")
    poll()
    poll()
    assert shown[4:] == [_record(10_000_000, "a new line")]
