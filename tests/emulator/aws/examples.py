"""Valid example values for any botocore shape: every member filled, constraints honoured.

``example(shape)`` fills all members (only required ones once a structure recurs or nesting is deep),
picks the first enum value, the smallest size a min allows, and for patterns the first of a few literals
that match SageMaker's common patterns. A shape no literal satisfies raises, so a new pattern in the model
shows up as a test failure rather than as a silently wrong example.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

from dockyard.emulator.aws.patterns import compile_pattern

TIMESTAMP = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
_ARN = "arn:aws:sagemaker:us-east-1:123456789012"
# Tried in order; the first that matches the pattern (and fits the length) is used.
LITERALS: tuple[str, ...] = (
    "abc",
    "a-1",
    f"{_ARN}:model/abc",
    f"{_ARN}:endpoint-config/abc",
    f"{_ARN}:endpoint/abc",
    f"{_ARN}:model-package-group/abc",
    f"{_ARN}:model-package/abc/1",
    f"{_ARN}:transform-job/abc",
    f"{_ARN}:labeling-job/abc",
    f"{_ARN}:automl-job/abc",
    "arn:aws:iam::123456789012:role/abc",
    "arn:aws:sns:us-east-1:123456789012:abc",
    "s3://bucket/key",
    "sha256:" + "0" * 64,
    "mig-1g.5gb",
    "1.2.3",
    "1.abc",
    "abc/def",
    "/abc",
    "text/csv",
    "ml.m5.large",
    "abc; Expires=2024-05-06T07:08:09Z",
    # For the models of ECR, CloudWatch Logs, STS and IAM: account ids, MFA codes, IAM paths.
    "123456789012",
    "123456",
    "/",
)
_MAX_DEPTH = 8


def example(shape: Shape, *, _stack: tuple[str, ...] = ()) -> Any:
    """A value of ``shape`` that passes the service's validation."""
    if isinstance(shape, StructureShape):
        return _structure(shape, _stack)
    if isinstance(shape, ListShape):
        count = max(int(shape.metadata.get("min", 1)), 1)
        return [example(shape.member, _stack=_stack) for _ in range(count)]
    if isinstance(shape, MapShape):
        return {example(shape.key, _stack=_stack): example(shape.value, _stack=_stack)}
    if isinstance(shape, StringShape):
        return string_example(shape)
    return _scalar(shape)


def string_example(shape: StringShape) -> str:
    if shape.enum:
        return str(shape.enum[0])
    low = int(shape.metadata.get("min", 0))
    high = int(shape.metadata.get("max", 1 << 16))
    pattern = shape.metadata.get("pattern")
    regex = compile_pattern(pattern) if pattern else None
    for literal in LITERALS:
        candidate = literal + "a" * max(low - len(literal), 0)
        if len(candidate) <= high and (regex is None or regex.fullmatch(candidate)):
            return candidate
    raise ValueError(f"no example literal matches {shape.name}: {pattern!r} (length {low}..{high})")


def _structure(shape: StructureShape, stack: tuple[str, ...]) -> dict[str, Any]:
    if shape.serialization.get("eventstream"):
        return {}
    shallow = shape.name in stack or len(stack) >= _MAX_DEPTH
    names = list(shape.required_members) if shallow else list(shape.members)
    if shape.is_tagged_union:
        names = names[:1] or list(shape.members)[:1]
    inner = (*stack, shape.name)
    return {name: example(shape.members[name], _stack=inner) for name in names}


def _scalar(shape: Shape) -> Any:
    kind = shape.type_name
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if kind in ("integer", "long"):
        value = 1 if low is None else int(low)
        return min(value, int(high)) if high is not None else value
    if kind in ("float", "double"):
        number = 1.5 if low is None else float(low)
        return min(number, float(high)) if high is not None else number
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return TIMESTAMP
    if kind == "blob":
        return b"blob"[: int(high)] if high is not None else b"blob"
    raise ValueError(f"no example for type {kind} ({shape.name})")
