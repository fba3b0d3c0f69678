"""What ``dockyard check`` takes and gives: its options and sample request, and the report of its checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from dockyard.containers.run_spec import CONTAINER_PORT, PING_TIMEOUT, STOP_GRACE
from dockyard.errors import UsageError
from dockyard.image import check_multi_model

TITLES: dict[str, str] = {
    "serve": "starts with `serve`",
    "ping": f"answers /ping on {CONTAINER_PORT}",
    "ping-latency": f"each /ping within {PING_TIMEOUT:g} s",
    "invocations": "answers the sample request",
    "unknown-headers": "ignores unknown headers",
    "custom-attributes": "returns Custom-Attributes",
    "body-6mb": "accepts a 6 MiB body",
    "body-over-limit": "survives a body over the limit",
    "model-writes": "does not write to /opt/ml/model",
    "sigterm": f"stops within {STOP_GRACE:g} s of SIGTERM",
    "bind-to-port": "honours SAGEMAKER_BIND_TO_PORT",
    "image": "image size and architecture",
    **check_multi_model.TITLES,
}


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    INFO = "info"
    SKIP = "skip"


@dataclass(frozen=True)
class CheckResult:
    name: str
    title: str
    status: Status
    message: str
    required: bool


@dataclass
class CheckReport:
    image: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(result.status is Status.FAIL and result.required for result in self.results)

    def result(self, name: str) -> CheckResult:
        return next(result for result in self.results if result.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "passed": self.passed, "checks": [asdict(r) for r in self.results]}


@dataclass(frozen=True)
class Sample:
    body: bytes
    content_type: str

    @classmethod
    def from_file(cls, path: Path, content_type: str | None = None) -> Sample:
        from dockyard.config import CONTENT_TYPES

        kind = content_type or CONTENT_TYPES.get(path.suffix.lower())
        if kind is None:
            raise UsageError(
                f"cannot tell the content type of sample {path} from its extension; pass --content-type"
            )
        try:
            return cls(path.read_bytes(), kind)
        except OSError as exc:
            raise UsageError(f"sample {path} cannot be read: {exc.strerror}") from None


@dataclass(frozen=True)
class CheckOptions:
    model: Path | None = None
    sample: Sample | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    instance_type: str = "ml.m5.large"
    startup_timeout: float = 120.0
    name_prefix: str = "dockyard-check"  # containers and temporary images are named <prefix>-<random>


def sized_body(sample: Sample | None, size: int) -> tuple[bytes, str]:
    """A body of exactly ``size`` bytes that stays valid where the sample's format allows it:
    JSON padded with whitespace, CSV and JSON Lines as repeated records, otherwise zero padding."""
    if sample is None:
        return bytes(size), "application/octet-stream"
    kind = sample.content_type.split(";")[0].strip().lower()
    body = sample.body
    if len(body) >= size:
        return body[:size], sample.content_type
    if kind in {"text/csv", "application/jsonlines", "application/x-jsonlines", "application/jsonl"}:
        unit = body if body.endswith(b"\n") else body + b"\n"
        repeated = unit * (size // len(unit))
        return repeated + b"\n" * (size - len(repeated)), sample.content_type
    if kind.endswith("json"):
        return body + b" " * (size - len(body)), sample.content_type
    return body + bytes(size - len(body)), sample.content_type
