"""How a container's log tail is reduced for FailureReason (pure functions; the fleet is tested for real
in test_reconciler.py)."""

from __future__ import annotations

import json

from dockyard.emulator.sagemaker.failure_reasons import MAX_REASON, readable_tail, with_log_tail


def record(level: str, message: str, **extra: object) -> str:
    return json.dumps({"ts": 1.0, "level": level, "message": message, **extra})


def test_json_records_keep_only_warnings_and_errors_when_there_are_some() -> None:
    tail = "\n".join(
        [
            record("info", "Started server process", worker=0),
            record(
                "error",
                "worker 0 could not load the model from /opt/ml/model: ValueError: bad",
                traceback="...",
            ),
            record("info", "Shutting down"),
            record("error", "the model did not load in every worker within the 3 s start-up window"),
        ]
    )
    assert readable_tail(tail) == (
        "worker 0 could not load the model from /opt/ml/model: ValueError: bad\n"
        "the model did not load in every worker within the 3 s start-up window"
    )


def test_plain_lines_and_info_only_tails_are_kept_as_they_are() -> None:
    assert readable_tail("Traceback (most recent call last):\nKeyError: 'x'") == (
        "Traceback (most recent call last):\nKeyError: 'x'"
    )
    assert readable_tail(record("info", "listening") + "\n{not json") == "listening\n{not json"


def test_failure_reason_never_exceeds_sagemakers_limit() -> None:
    reason = with_log_tail("The container exited with code 1 during startup.", "x" * 5000)
    assert len(reason) == MAX_REASON
    assert reason.startswith("The container exited with code 1 during startup. Last log lines: x")
