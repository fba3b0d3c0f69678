"""`dockyard check`: does an image (any image, not only dockyard's) honour SageMaker's hosting contract?

The image is started as SageMaker starts it (:mod:`dockyard.containers.local_run`) and probed; each check
gives one result with its reason. Required checks decide the exit code; informational ones report.

Decisions worth knowing:

- Writes to /opt/ml/model: the check container gets the model in a throwaway image layer rather than a
  read-only mount, so that ``docker diff`` lists every file the server created, changed or deleted
  there (on SageMaker each of those is an ``EROFS`` error). Python's ``__pycache__`` is ignored: on a
  read-only directory Python silently skips it. ``dockyard run`` uses the read-only mount.
- Custom attributes: SageMaker passes ``X-Amzn-SageMaker-Custom-Attributes`` through and returns the
  container's, but a container need not set one. The check is required only for images labelled
  ``dockyard.custom-attributes=true``; otherwise it reports whether the header came back.
- Unknown headers: the status must not change; a different body with the same status is a warning
  (models may be non-deterministic).
- Bodies: 6,291,456 bytes (SageMaker's limit) must not get a 413 or a 5xx — a 4xx about the content
  is fine; a body over the limit may be refused in any way, but the server must still answer /ping.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from dockyard.containers.local_run import (
    CONTAINER_PORT,
    PING_TIMEOUT,
    STOP_GRACE,
    ImageInfo,
    LocalContainer,
    RunSpec,
    inspect_image,
)
from dockyard.errors import ContainerError, UsageError
from dockyard.image import check_multi_model

if TYPE_CHECKING:
    from docker import DockerClient

MAX_BODY = 6_291_456  # InvokeEndpoint's request body limit
OVER_LIMIT_BODY = MAX_BODY + 1_048_576
INVOKE_TIMEOUT = 70.0  # SageMaker gives /invocations 60 s
LATENCY_PINGS = 5
SURVIVAL_WINDOW = 10.0  # seconds the server may take to answer /ping again after a large body
BIND_TEST_PORT = 8089
BIND_LABEL = "com.amazonaws.sagemaker.capabilities.accept-bind-to-port"
CUSTOM_ATTRIBUTES_LABEL = "dockyard.custom-attributes"
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
UNKNOWN_HEADER = "X-Unknown"
TARGET_ARCHITECTURE = "amd64"


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


def check_image(
    image: str,
    options: CheckOptions,
    client: DockerClient | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> CheckReport:
    """Run every check on ``image``; ``on_result`` sees each result as soon as it is known."""
    from dockyard.containers.engine import connect

    if client is None:
        client = connect()
        try:
            return check_image(image, options, client, on_result)
        finally:
            client.close()
    info = inspect_image(client, image)
    return _Checker(client, info, options, on_result).run()


class _Checker:
    def __init__(
        self,
        client: DockerClient,
        info: ImageInfo,
        options: CheckOptions,
        on_result: Callable[[CheckResult], None] | None,
    ) -> None:
        self.client = client
        self.info = info
        self.options = options
        self.on_result = on_result
        self.report = CheckReport(info.reference)
        self.name = f"{options.name_prefix}-{secrets.token_hex(3)}"

    def record(self, name: str, status: Status, message: str, required: bool = True) -> None:
        result = CheckResult(name, TITLES[name], status, message, required)
        self.report.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    def skip(self, names: list[str], reason: str) -> None:
        for name in names:
            self.record(name, Status.SKIP, reason)

    def label(self, key: str) -> bool:
        return self.info.labels.get(key, "").strip().lower() == "true"

    def spec(self, **changes: Any) -> RunSpec:
        values: dict[str, Any] = {
            "image": self.info.reference,
            "model": self.options.model,
            "environment": dict(self.options.environment),
            "instance_type": self.options.instance_type,
            "name": self.name,
            "model_access": "layer",
        }
        return RunSpec(**(values | changes))

    def run(self) -> CheckReport:
        http_checks = [
            "ping-latency",
            "invocations",
            "unknown-headers",
            "custom-attributes",
            "body-6mb",
            "body-over-limit",
        ]
        box = LocalContainer(self.spec(), self.client)
        ready = False
        try:
            try:
                box.start()
            except ContainerError as exc:  # not even started: nothing else can be checked
                self.record("serve", Status.FAIL, exc.message)
                reason = "not run: the container did not start"
                self.skip(["ping", *http_checks, "model-writes", "sigterm"], reason)
            else:
                ready = self.check_startup(box)
                if ready:
                    with httpx.Client(base_url=box.url, timeout=INVOKE_TIMEOUT) as http:
                        self.check_ping_latency(box)
                        if self.label(check_multi_model.MULTI_MODELS_LABEL):
                            self.check_multi_model(http)
                        else:
                            self.check_sample(http)
                            self.check_bodies(box, http)
                else:
                    self.skip(http_checks, "not run: the server never answered /ping with 200")
                self.check_model_writes(box)
                self.check_sigterm(box)
        finally:
            box.close()
        self.check_bind_to_port(ready)
        self.check_image_info()
        return self.report

    def check_multi_model(self, http: httpx.Client) -> None:
        """A multi-model container is never sent /invocations: its /models API is checked instead."""
        sample = self.options.sample
        found = check_multi_model.check_multi_model_api(
            http, None if sample is None else (sample.body, sample.content_type)
        )
        for name, status, message in found:
            self.record(name, Status(status), message)

    # ---- startup and /ping ------------------------------------------------------------------

    def check_startup(self, box: LocalContainer) -> bool:
        timeout = self.options.startup_timeout
        try:
            seconds = box.wait_ready(timeout)
        except ContainerError as exc:
            if box.state()[0] != "running":
                self.record("serve", Status.FAIL, exc.message)
                self.record("ping", Status.SKIP, "not run: the container exited during startup")
            else:
                self.record("serve", Status.PASS, self._started_as())
                self.record("ping", Status.FAIL, exc.message)
            return False
        self.record("serve", Status.PASS, self._started_as())
        self.record("ping", Status.PASS, f"200 after {seconds:.1f} s (window {timeout:g} s)")
        return True

    def _started_as(self) -> str:
        entrypoint = self.info.entrypoint
        how = f"ENTRYPOINT {entrypoint} + serve" if entrypoint else "`serve` from PATH (no ENTRYPOINT)"
        return f"running as {how}"

    def check_ping_latency(self, box: LocalContainer) -> None:
        slowest = 0.0
        for _ in range(LATENCY_PINGS):
            started = time.monotonic()
            try:
                status = box.ping().status_code
            except httpx.TimeoutException:
                self.record("ping-latency", Status.FAIL, f"a /ping took longer than {PING_TIMEOUT:g} s")
                return
            except httpx.TransportError as exc:
                self.record("ping-latency", Status.FAIL, f"a /ping failed: {_transport(exc)}")
                return
            slowest = max(slowest, time.monotonic() - started)
            if status != 200:
                self.record("ping-latency", Status.FAIL, f"a /ping answered {status} after being ready")
                return
            time.sleep(0.1)
        self.record("ping-latency", Status.PASS, f"{LATENCY_PINGS} pings, slowest {slowest * 1000:.0f} ms")

    # ---- /invocations -----------------------------------------------------------------------

    def check_sample(self, http: httpx.Client) -> None:
        sample = self.options.sample
        custom_required = self.label(CUSTOM_ATTRIBUTES_LABEL)
        if sample is None:
            reason = "not run: no sample request (pass --sample FILE, or set sample_request in dockyard.toml)"
            self.skip(["invocations", "unknown-headers"], reason)
            self.record("custom-attributes", Status.SKIP, reason, required=custom_required)
            return
        headers = {"Content-Type": sample.content_type}
        first = _post(http, sample.body, headers)
        if isinstance(first, str):
            self.record("invocations", Status.FAIL, f"POST /invocations failed: {first}")
        elif first.is_success:
            kind = first.headers.get("content-type", "no content type")
            self.record(
                "invocations",
                Status.PASS,
                f"{first.status_code} {kind}, {len(first.content):,} bytes "
                f"in {first.elapsed.total_seconds():.2f} s",
            )
        else:
            self.record("invocations", Status.FAIL, f"POST /invocations answered {_describe(first)}")

        second = _post(http, sample.body, {**headers, UNKNOWN_HEADER: "dockyard-check"})
        self.record("unknown-headers", *_compare(first, second))

        attributes = "dockyard-check=1"
        third = _post(http, sample.body, {**headers, CUSTOM_ATTRIBUTES: attributes})
        returned = None if isinstance(third, str) else third.headers.get(CUSTOM_ATTRIBUTES)
        if returned is not None:
            how = "echoed" if returned == attributes else "set"
            self.record(
                "custom-attributes", Status.PASS, f"{how} {CUSTOM_ATTRIBUTES}: {returned}", custom_required
            )
        elif custom_required:
            self.record(
                "custom-attributes",
                Status.FAIL,
                f"the image is labelled {CUSTOM_ATTRIBUTES_LABEL}=true, "
                f"but its answer had no {CUSTOM_ATTRIBUTES}",
            )
        else:
            self.record(
                "custom-attributes",
                Status.INFO,
                f"no {CUSTOM_ATTRIBUTES} in the answer (optional; label the image "
                f"{CUSTOM_ATTRIBUTES_LABEL}=true to require it)",
                required=False,
            )

    def check_bodies(self, box: LocalContainer, http: httpx.Client) -> None:
        body, kind = sized_body(self.options.sample, MAX_BODY)
        answer = _post(http, body, {"Content-Type": kind})
        alive = self._still_serving(box)
        if isinstance(answer, str):
            self.record("body-6mb", Status.FAIL, f"a {MAX_BODY:,}-byte body failed: {answer}")
        elif answer.status_code == 413:
            self.record(
                "body-6mb",
                Status.FAIL,
                f"a {MAX_BODY:,}-byte body (SageMaker's limit) got {_describe(answer)}; a limit in the "
                "image (e.g. nginx's client_max_body_size) is below 6 MiB",
            )
        elif answer.status_code >= 500:
            self.record(
                "body-6mb",
                Status.FAIL,
                f"a {MAX_BODY:,}-byte body (SageMaker's limit) got {_describe(answer)}",
            )
        elif alive is not None:
            self.record("body-6mb", Status.FAIL, f"after a {MAX_BODY:,}-byte body {alive}")
        else:
            self.record("body-6mb", Status.PASS, f"{MAX_BODY:,} bytes of {kind}: {answer.status_code}")
        if alive is not None and "exited" in alive:
            self.record("body-over-limit", Status.SKIP, "not run: the container exited")
            return

        body, kind = sized_body(self.options.sample, OVER_LIMIT_BODY)
        over = _post(http, body, {"Content-Type": kind})
        outcome = over if isinstance(over, str) else f"answered {over.status_code}"
        alive = self._still_serving(box)
        if alive is None:
            self.record(
                "body-over-limit", Status.PASS, f"{OVER_LIMIT_BODY:,} bytes: {outcome}; /ping still 200"
            )
        else:
            self.record("body-over-limit", Status.FAIL, f"after a {OVER_LIMIT_BODY:,}-byte body {alive}")

    def _still_serving(self, box: LocalContainer) -> str | None:
        """None while the server answers /ping with 200; otherwise what is wrong."""
        deadline = time.monotonic() + SURVIVAL_WINDOW
        last = ""
        while time.monotonic() < deadline:
            status, code = box.state()
            if status != "running":
                return f"the container exited with code {code}; its last log lines:\n{box.logs()}"
            try:
                answer = box.ping()
                if answer.status_code == 200:
                    return None
                last = f"/ping answered {answer.status_code}"
            except httpx.TransportError as exc:
                last = f"/ping failed: {_transport(exc)}"
            time.sleep(0.25)
        return f"{last} for {SURVIVAL_WINDOW:g} s"

    # ---- the container's files and shutdown -------------------------------------------------

    def check_model_writes(self, box: LocalContainer) -> None:
        writes = box.model_writes()
        if not writes:
            self.record(
                "model-writes", Status.PASS, "no file under /opt/ml/model was created, changed or deleted"
            )
            return
        shown = ", ".join(writes[:5]) + (f" and {len(writes) - 5} more" if len(writes) > 5 else "")
        self.record(
            "model-writes",
            Status.FAIL,
            f"{shown}: SageMaker mounts /opt/ml/model read-only; write to /tmp instead",
        )

    def check_sigterm(self, box: LocalContainer) -> None:
        status, code = box.state()
        if status != "running":
            self.record("sigterm", Status.SKIP, f"not run: the container had already exited (code {code})")
            return
        stopped = box.stop()
        if stopped.killed:
            self.record(
                "sigterm",
                Status.FAIL,
                f"still running {STOP_GRACE:g} s after SIGTERM, so it was killed (exit code "
                f"{stopped.exit_code}); `serve` runs as PID 1, where SIGTERM does nothing unless the program "
                "handles it: exit on SIGTERM (a shell script should `exec` the server)",
            )
        else:
            self.record(
                "sigterm",
                Status.PASS,
                f"stopped {stopped.seconds:.1f} s after SIGTERM (exit code {stopped.exit_code})",
            )

    # ---- SAGEMAKER_BIND_TO_PORT ------------------------------------------------------------

    def check_bind_to_port(self, ready: bool) -> None:
        if not self.label(BIND_LABEL):
            self.record(
                "bind-to-port",
                Status.INFO,
                f"no {BIND_LABEL}=true label: SageMaker will not ask it to move "
                "(only inference pipelines do)",
                required=False,
            )
            return
        if not ready:
            self.record("bind-to-port", Status.SKIP, "not run: the server never answered /ping on 8080")
            return
        spec = self.spec(
            name=f"{self.name}-port",
            container_port=BIND_TEST_PORT,
            extra_ports=(CONTAINER_PORT,),
            environment={**self.options.environment, "SAGEMAKER_BIND_TO_PORT": str(BIND_TEST_PORT)},
            model_access="read-only",
        )
        box = LocalContainer(spec, self.client)
        try:
            box.start()
            box.wait_ready(self.options.startup_timeout)
        except ContainerError as exc:
            moved = f"labelled {BIND_LABEL}=true, but with SAGEMAKER_BIND_TO_PORT={BIND_TEST_PORT}"
            if _answers(box, CONTAINER_PORT):
                message = f"{moved} it still listens on {CONTAINER_PORT}, not on {BIND_TEST_PORT}"
            else:
                message = f"{moved}: {exc.message}"
            self.record("bind-to-port", Status.FAIL, message)
            return
        finally:
            box.close()
        self.record(
            "bind-to-port", Status.PASS, f"listened on {BIND_TEST_PORT} when SAGEMAKER_BIND_TO_PORT said so"
        )

    def check_image_info(self) -> None:
        info = self.info
        size = f"{info.size / 1_000_000:.1f} MB"
        platform = f"{info.os}/{info.architecture}"
        if info.architecture == TARGET_ARCHITECTURE:
            self.record("image", Status.INFO, f"{size}, {platform}", required=False)
        else:
            self.record(
                "image",
                Status.WARN,
                f"{size}, {platform}: SageMaker's x86 instance types need linux/amd64 "
                "(arm64 runs only on Graviton types such as ml.c7g); build with --platform linux/amd64",
                required=False,
            )


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


def _post(http: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response | str:
    try:
        return http.post("/invocations", content=body, headers=headers)
    except httpx.TransportError as exc:
        return _transport(exc)


def _transport(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    return f"the connection failed ({type(exc).__name__}: {exc or 'closed'})"


def _describe(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"{response.status_code}" + (f": {text[:200]}" if text else "")


def _compare(first: httpx.Response | str, second: httpx.Response | str) -> tuple[Status, str]:
    if isinstance(second, str):
        return Status.FAIL, f"with an {UNKNOWN_HEADER} header the request failed: {second}"
    if isinstance(first, str):
        return Status.FAIL, f"the request failed without the header and answered {second.status_code} with it"
    if first.status_code != second.status_code:
        return (
            Status.FAIL,
            f"with an {UNKNOWN_HEADER} header it answered {_describe(second)} instead of {first.status_code}",
        )
    if first.content != second.content:
        return (
            Status.WARN,
            f"same status ({first.status_code}) but a different body (a non-deterministic model?)",
        )
    return Status.PASS, f"same answer ({first.status_code}) with an {UNKNOWN_HEADER} header"


def _answers(box: LocalContainer, container_port: int) -> bool:
    if container_port not in box.ports:
        return False
    try:
        return box.ping(container_port).status_code == 200
    except httpx.TransportError:
        return False
