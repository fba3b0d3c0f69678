"""`dockyard check`: the contract checks, on images that honour the contract and on broken ones."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.containers.local_run import ImageInfo
from dockyard.errors import ContainerError, UsageError
from dockyard.image.check import MAX_BODY, _Checker, check_image
from dockyard.image.check_report import CheckOptions, CheckReport, Sample, Status, sized_body
from tests.fixture_images import (
    PREFIX,
    SAMPLE,
    leftovers,
    leftovers_of,
    write_model,
)

DOCKYARD = [sys.executable, "-m", "dockyard.cli"]
CSV_SAMPLE = Sample(SAMPLE, "text/csv")
NOT_STARTED = "not run: the server never answered /ping with 200"
HTTP_CHECKS = [
    "ping-latency",
    "invocations",
    "unknown-headers",
    "custom-attributes",
    "body-6mb",
    "body-over-limit",
]
NO_BIND_LABEL = (
    "no com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true label: SageMaker will not ask it to "
    "move (only inference pipelines do)"
)


def statuses(report: CheckReport) -> dict[str, str]:
    return {result.name: result.status.value for result in report.results}


def run_check(client: docker.DockerClient, image: str, **options: Any) -> CheckReport:
    prefix = f"{PREFIX}t-{secrets.token_hex(2)}"
    seen: list[str] = []
    report = check_image(
        image, CheckOptions(name_prefix=prefix, **options), on_result=lambda result: seen.append(result.name)
    )
    assert seen == [result.name for result in report.results]  # each result reported as it came
    assert leftovers(client, prefix) == []  # containers and the model-layer image removed
    return report


@pytest.mark.docker
def test_dockyard_image_passes_every_check(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str], model_dir: Path
) -> None:
    report = run_check(
        docker_client, fixture_image("dockyard"), model=model_dir, sample=CSV_SAMPLE, startup_timeout=60
    )
    assert statuses(report) == {
        "serve": "pass",
        "ping": "pass",
        "ping-latency": "pass",
        "invocations": "pass",
        "unknown-headers": "pass",
        "custom-attributes": "pass",
        "body-6mb": "pass",
        "body-over-limit": "pass",
        "model-writes": "pass",
        "sigterm": "pass",
        "bind-to-port": "pass",
        "image": "info",
    }
    assert report.passed
    message = {result.name: result.message for result in report.results}
    assert message["serve"] == "running as `serve` from PATH (no ENTRYPOINT)"
    assert message["invocations"].startswith("200 text/csv, 5 bytes in ")
    assert message["unknown-headers"] == "same answer (200) with an X-Unknown header"
    assert message["custom-attributes"] == "echoed X-Amzn-SageMaker-Custom-Attributes: dockyard-check=1"
    assert message["body-6mb"] == "6,291,456 bytes of text/csv: 200"
    assert message["body-over-limit"] == "7,340,032 bytes: answered 413; /ping still 200"
    assert message["model-writes"] == "no file under /opt/ml/model was created, changed or deleted"
    assert message["sigterm"].startswith("stopped ")
    assert message["bind-to-port"] == "listened on 8089 when SAGEMAKER_BIND_TO_PORT said so"
    assert message["image"].endswith(" MB, linux/amd64")
    assert all(result.required for result in report.results if result.name != "image")


@pytest.mark.docker
def test_byoc_image_passes_the_required_checks_cli_json(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str], tmp_path: Path
) -> None:
    # The model, sample and environment come from the project's dockyard.toml.
    project = tmp_path / "project"
    write_model(project / "model")
    (project / "payload.csv").write_bytes(SAMPLE)
    (project / "dockyard.toml").write_text(
        '[project]\nname = "byoc"\nsample_request = "payload.csv"\n'
        'environment = { MODEL_SERVER_WORKERS = "2" }\n'
    )
    command = ["check", fixture_image("byoc"), "-C", str(project), "--output", "json"]
    result = subprocess.run([*DOCKYARD, *command], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["passed"] is True
    checks = {check["name"]: check for check in document["checks"]}
    assert {name: check["status"] for name, check in checks.items()} == {
        "serve": "pass",
        "ping": "pass",
        "ping-latency": "pass",
        "invocations": "pass",
        "unknown-headers": "pass",
        "custom-attributes": "info",
        "body-6mb": "pass",
        "body-over-limit": "pass",
        "model-writes": "pass",
        "sigterm": "pass",
        "bind-to-port": "info",
        "image": "info",
    }
    assert checks["custom-attributes"] == {
        "name": "custom-attributes",
        "title": "returns Custom-Attributes",
        "status": "info",
        "message": "no X-Amzn-SageMaker-Custom-Attributes in the answer (optional; label the image "
        "dockyard.custom-attributes=true to require it)",
        "required": False,
    }
    assert checks["bind-to-port"]["message"] == NO_BIND_LABEL
    # nginx's client_max_body_size is 6m here; AWS's sample has 5m, which fails this check.
    assert checks["body-6mb"]["message"] == "6,291,456 bytes of text/csv: 200"
    assert checks["body-over-limit"]["message"] == "7,340,032 bytes: answered 413; /ping still 200"
    assert leftovers_of(docker_client, fixture_image("byoc")) == []


@pytest.mark.docker
@pytest.mark.parametrize(
    ("image", "failed", "message"),
    [
        pytest.param(
            "no-ping",
            "ping",
            "GET /ping answered 404 Not Found within 4 s: the server on port 8080 has no /ping route",
            id="no-ping",
        ),
        pytest.param(
            "wrong-port",
            "ping",
            "nothing answered on port 8080 within 4 s; the container is running: "
            "does its server listen on 0.0.0.0:8080?",
            id="wrong-port",
        ),
        pytest.param(
            "crash",
            "serve",
            "the container of {image} exited with code 1 during startup; "
            "its last log lines:\n"
            "fatal: cannot load the model: /opt/ml/model/weights.bin is missing",
            id="crash",
        ),
        pytest.param(
            "ignores-sigterm",
            "sigterm",
            "still running 30 s after SIGTERM, so it was killed (exit code 137); `serve` runs as PID 1, "
            "where SIGTERM does nothing unless the program handles it: exit on SIGTERM "
            "(a shell script should `exec` the server)",
            id="ignores-sigterm",
        ),
    ],
)
def test_broken_images_fail_with_their_own_message(
    docker_client: docker.DockerClient,
    fixture_image: Callable[[str], str],
    model_dir: Path,
    image: str,
    failed: str,
    message: str,
) -> None:
    report = run_check(
        docker_client, fixture_image(image), model=model_dir, sample=CSV_SAMPLE, startup_timeout=4
    )
    failures = {result.name: result.message for result in report.results if result.status is Status.FAIL}
    assert failures == {failed: message.format(image=fixture_image(image))}
    assert not report.passed
    found = statuses(report)
    if failed == "ping":
        assert found["serve"] == "pass"
        assert {name: found[name] for name in HTTP_CHECKS} == dict.fromkeys(HTTP_CHECKS, "skip")
        assert report.result("invocations").message == NOT_STARTED
        assert found["sigterm"] == "pass"
    elif failed == "serve":
        assert found["ping"] == "skip"
        assert report.result("ping").message == "not run: the container exited during startup"
        assert report.result("sigterm").message == "not run: the container had already exited (code 1)"
    else:
        assert {name for name, status in found.items() if status == "pass"} >= {
            "ping",
            "body-6mb",
            "model-writes",
        }


@pytest.mark.docker
def test_faults_each_get_their_message(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str], model_dir: Path
) -> None:
    faults = "write-model,no-custom-attributes,ignore-bind-port,unknown-header-400,limit-5m,die-on-large-body"
    report = run_check(
        docker_client,
        fixture_image("faulty"),
        model=model_dir,
        sample=CSV_SAMPLE,
        environment={"FAULTS": faults},
        startup_timeout=4,
    )
    failures = {result.name: result.message for result in report.results if result.status is Status.FAIL}
    over_limit = failures.pop("body-over-limit")
    assert over_limit.startswith(
        "after a 7,340,032-byte body the container exited with code 3; its last log lines:\n"
    )
    assert over_limit.endswith("a large body: dying")
    assert failures == {
        "unknown-headers": "with an X-Unknown header it answered 400: unexpected header X-Unknown "
        "instead of 200",
        "custom-attributes": "the image is labelled dockyard.custom-attributes=true, but its answer had no "
        "X-Amzn-SageMaker-Custom-Attributes",
        "body-6mb": "a 6,291,456-byte body (SageMaker's limit) got 413: body too large; a limit in the image "
        "(e.g. nginx's client_max_body_size) is below 6 MiB",
        # __pycache__ is written too, and ignored: Python does without it on a read-only directory.
        "model-writes": "added /opt/ml/model/cache.json: SageMaker mounts /opt/ml/model read-only; "
        "write to /tmp instead",
        "bind-to-port": "labelled com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true, but with "
        "SAGEMAKER_BIND_TO_PORT=8089 it still listens on 8080, not on 8089",
    }
    assert report.result("sigterm").status is Status.SKIP
    assert report.result("sigterm").message == "not run: the container had already exited (code 3)"
    assert report.result("invocations").status is Status.PASS

    report = run_check(
        docker_client,
        fixture_image("faulty"),
        model=model_dir,
        sample=CSV_SAMPLE,
        environment={"FAULTS": "slow-ping,invocations-500,sick-after-large-body"},
        startup_timeout=4,
    )
    failures = {result.name: result.message for result in report.results if result.status is Status.FAIL}
    assert failures == {
        "ping-latency": "a /ping took longer than 2 s",
        "invocations": "POST /invocations answered 500: internal error: the model fell over",
        "custom-attributes": failures["custom-attributes"],
        "body-6mb": "a 6,291,456-byte body (SageMaker's limit) got 500: internal error: the model fell over",
        "body-over-limit": "after a 7,340,032-byte body /ping answered 503 for 10 s",
    }
    assert report.result("unknown-headers").message == "same answer (500) with an X-Unknown header"


@pytest.mark.docker
def test_without_model_or_sample(
    docker_client: docker.DockerClient, fixture_image: Callable[[str], str]
) -> None:
    report = run_check(docker_client, fixture_image("faulty"), startup_timeout=10)
    assert report.passed
    reason = "not run: no sample request (pass --sample FILE, or set sample_request in dockyard.toml)"
    for name in ("invocations", "unknown-headers", "custom-attributes"):
        assert (report.result(name).status, report.result(name).message) == (Status.SKIP, reason)
    assert report.result("body-6mb").message == "6,291,456 bytes of application/octet-stream: 200"
    assert report.result("bind-to-port").status is Status.PASS


@pytest.mark.docker
def test_image_without_serve(docker_client: docker.DockerClient, base_image: str) -> None:
    report = run_check(docker_client, base_image, startup_timeout=4)
    serve = report.result("serve")
    assert serve.status is Status.FAIL
    assert serve.message.startswith(f"{base_image} did not start with `serve`: starting {base_image}: ")
    assert 'exec: "serve": executable file not found in $PATH' in serve.message
    for name in ("ping", "invocations", "model-writes", "sigterm"):
        assert report.result(name).message == "not run: the container did not start"
    assert not report.passed


@pytest.mark.docker
def test_missing_image(docker_client: docker.DockerClient) -> None:
    with pytest.raises(ContainerError) as caught:
        check_image("dy-check-test/missing:none", CheckOptions())
    assert caught.value.message.startswith(
        "image dy-check-test/missing:none is not in the local Docker engine"
    )


@pytest.mark.docker
def test_cli_text_output_and_exit_code(fixture_image: Callable[[str], str], tmp_path: Path) -> None:
    image = fixture_image("crash")
    result = subprocess.run(
        [*DOCKYARD, "check", image], check=False, capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Checking {image} against SageMaker's hosting contract"
    assert (
        lines[1].split()
        == (
            f"fail starts with `serve` the container of {image} exited with code 1 during startup; "
            "its last log lines:"
        ).split()
    )
    assert lines[2] == "fatal: cannot load the model: /opt/ml/model/weights.bin is missing"
    assert lines[3].split()[:4] == ["skip", "answers", "/ping", "on"]
    assert lines[-1] == "1 required check(s) failed: starts with `serve`"


def test_cli_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "payload.bin").write_bytes(b"x")
    result = subprocess.run(
        [*DOCKYARD, "check", "dy-check-test/missing:none", "--sample", "payload.bin"],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert " ".join(result.stderr.split()) == (
        "error: cannot tell the content type of sample payload.bin from its extension; pass --content-type"
    )


# ---- without Docker ---------------------------------------------------------------------------------


def test_sized_bodies_keep_the_sample_valid() -> None:
    body, kind = sized_body(Sample(b"1,2\n3,4", "text/csv"), MAX_BODY)
    assert (len(body), kind) == (MAX_BODY, "text/csv")
    assert body.startswith(b"1,2\n3,4\n1,2\n3,4\n")
    assert set(body.rstrip(b"\n").split(b"\n")) == {b"1,2", b"3,4"}

    body, kind = sized_body(Sample(b'{"instances": [[1, 2]]}', "application/json"), MAX_BODY)
    assert len(body) == MAX_BODY
    assert json.loads(body) == {"instances": [[1, 2]]}

    body, kind = sized_body(None, 100)
    assert (body, kind) == (bytes(100), "application/octet-stream")

    body, kind = sized_body(Sample(b"\x93NUMPY", "application/x-npy"), 10)
    assert (body, kind) == (b"\x93NUMPY\0\0\0\0", "application/x-npy")


def test_image_other_than_amd64_is_a_warning() -> None:
    info = ImageInfo("some/image:arm", "sha256:0", 123_400_000, "arm64", "linux", {}, None, ["serve"])
    checker = _Checker(None, info, CheckOptions(), None)  # type: ignore[arg-type]
    checker.check_image_info()
    result = checker.report.result("image")
    assert (result.status, result.required) == (Status.WARN, False)
    assert result.message == (
        "123.4 MB, linux/arm64: SageMaker's x86 instance types need linux/amd64 (arm64 runs only on Graviton "
        "types such as ml.c7g); build with --platform linux/amd64"
    )
    assert checker.report.passed


def test_sample_from_file(tmp_path: Path) -> None:
    (tmp_path / "sample.json").write_text("[1]")
    assert Sample.from_file(tmp_path / "sample.json") == Sample(b"[1]", "application/json")
    assert Sample.from_file(tmp_path / "sample.json", "text/plain").content_type == "text/plain"
    with pytest.raises(UsageError) as caught:
        Sample.from_file(tmp_path / "absent.csv")
    assert (
        caught.value.message == f"sample {tmp_path / 'absent.csv'} cannot be read: No such file or directory"
    )
