"""``dockyard build`` against the real engine.

The scikit-learn example is built once for the module (pip-installing scikit-learn takes a while) with
an index URL and an extra CA certificate configured; the tests then run it as SageMaker does, list
its venv, look for the secrets everywhere in the image, and rebuild it after a code change.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import httpx
import joblib
import numpy as np
import pytest
import sklearn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sklearn.linear_model import LogisticRegression

from dockyard.config import load_config
from dockyard.errors import BuildError
from dockyard.image.builder import Step, architecture_warning, platform_architecture, split_tag
from dockyard.image.project import ProjectBuild, build_project, check_tags, render_project
from dockyard.image.user_image import review

PREFIX = "dy-build-"
REPOSITORY = "dy-build-test"
TOKEN = f"dy-build-token-{uuid.uuid4().hex[:12]}"
NOT_IN_IMAGES = {"boto3", "botocore", "docker", "typer", "rich", "pydantic", "httpx", "moto", "requests"}
STEP_LINE = re.compile(r"^\s+(\d+)/(\d+)\s+(cached|[\d.]+ s)\s+(.*)$")
INFERENCE = """\
import os

import joblib

VERSION = "v1"


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    return model.predict(data)
"""


@dataclass
class Recorder:
    """A Progress that keeps every step and output line."""

    steps: list[Step] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def started(self, step: Step) -> None:
        self.steps.append(step)

    def output(self, step: Step, line: str) -> None:
        self.lines.append(line)

    def finished(self, step: Step) -> None:
        pass


def _remove_images(client: docker.DockerClient, tags: list[str], steps: list[Step]) -> None:
    """Remove our tags, then the stage results they leave untagged (never a tagged or base image)."""
    for tag in tags:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(tag)
    for step in reversed(steps):
        if step.image is None or step.instruction.startswith("FROM"):
            continue
        try:
            if client.images.get(step.image).tags:
                continue
            client.images.remove(step.image)
        except docker.errors.APIError:
            pass  # gone with a tag above, or still the parent of an image


def _dockyard(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
    )


def _ca_certificate(path: Path) -> str:
    """A self-signed CA certificate written to ``path``; returns a line of its base64 body."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{PREFIX}corporate-ca")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    path.write_text(pem)
    return pem.splitlines()[1]


@dataclass(frozen=True)
class SklearnProject:
    root: Path
    model_dir: Path
    rows: list[list[float]]
    expected: list[int]
    ca_line: str


@pytest.fixture(scope="module")
def sklearn_project(tmp_path_factory: pytest.TempPathFactory, base_image: str) -> SklearnProject:
    root = tmp_path_factory.mktemp("sklearn-project")
    features = np.random.default_rng(7).normal(size=(80, 4))
    model = LogisticRegression().fit(features, (features[:, 0] + features[:, 1] > 0).astype(int))
    (root / "model").mkdir()
    joblib.dump(model, root / "model" / "model.joblib")
    (root / "inference.py").write_text(INFERENCE)
    ca_line = _ca_certificate(root / "corporate-ca.pem")
    (root / "dockyard.toml").write_text(
        f"""\
[project]
name = "{PREFIX}sklearn"
handler = "inference.py"
requirements = ["scikit-learn=={sklearn.__version__}"]
base_image = "{base_image}"
environment = {{ DY_BUILD_GREETING = "hello $HOME" }}

[build]
network_mode = "host"
pip_index_url = "https://{TOKEN}:secret@pypi.org/simple"
extra_ca_certs = ["corporate-ca.pem"]

[serve]
workers = 1
host = "127.0.0.1"
"""
    )
    rows = features[:6].tolist()
    return SklearnProject(root, root / "model", rows, model.predict(features[:6]).tolist(), ca_line)


@pytest.fixture(scope="module")
def sklearn_build(
    sklearn_project: SklearnProject, docker_client: docker.DockerClient
) -> Iterator[tuple[ProjectBuild, Recorder]]:
    recorder = Recorder()
    tag = f"{REPOSITORY}/sklearn:1"
    try:
        built = build_project(load_config(sklearn_project.root), tags=[tag], progress=recorder)
        yield built, recorder
    finally:
        _remove_images(docker_client, [tag, f"{REPOSITORY}/sklearn:2"], recorder.steps)


def _run(client: docker.DockerClient, image: str, *command: str) -> str:
    output = client.containers.run(image, list(command), name=f"{PREFIX}{uuid.uuid4().hex[:8]}", remove=True)
    assert isinstance(output, bytes)
    return output.decode()


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_image_serves_predictions_as_sagemaker_runs_it(
    sklearn_build: tuple[ProjectBuild, Recorder],
    sklearn_project: SklearnProject,
    docker_client: docker.DockerClient,
) -> None:
    built, _ = sklearn_build
    container = docker_client.containers.run(
        built.image.id,
        "serve",
        name=f"{PREFIX}serve-{uuid.uuid4().hex[:8]}",
        detach=True,
        ports={"8080/tcp": ("127.0.0.1", None)},
        volumes={str(sklearn_project.model_dir): {"bind": "/opt/ml/model", "mode": "ro"}},
    )
    try:
        container.reload()
        port = container.ports["8080/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            container.reload()
            assert container.status == "running", container.logs().decode()[-3000:]
            assert time.monotonic() < deadline, container.logs().decode()[-3000:]
            time.sleep(0.3)
        response = httpx.post(f"{url}/invocations", json=sklearn_project.rows, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json() == sklearn_project.expected
    finally:
        container.remove(force=True)


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_dockyard_check_passes_the_built_image(
    sklearn_build: tuple[ProjectBuild, Recorder],
    sklearn_project: SklearnProject,
    docker_client: docker.DockerClient,
) -> None:
    from dockyard.image.check import check_image
    from dockyard.image.check_report import CheckOptions, Sample, Status

    built, _ = sklearn_build
    sample = Sample(json.dumps(sklearn_project.rows).encode(), "application/json")
    options = CheckOptions(model=sklearn_project.model_dir, sample=sample, name_prefix=f"{PREFIX}check")
    report = check_image(built.image.id, options, docker_client)
    failures = [
        f"{result.name}: {result.message}" for result in report.results if result.status is Status.FAIL
    ]
    assert report.passed, failures
    assert failures == []
    for name in ("serve", "ping", "invocations", "body-6mb", "body-over-limit", "sigterm", "model-writes"):
        assert report.result(name).status is Status.PASS, report.result(name).message


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_image_config_follows_the_contract(
    sklearn_build: tuple[ProjectBuild, Recorder], docker_client: docker.DockerClient
) -> None:
    built, _ = sklearn_build
    config = docker_client.images.get(built.image.id).attrs["Config"]
    assert config["Cmd"] == ["serve"]
    assert not config.get("Entrypoint")
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PATH"].startswith("/opt/dockyard/venv/bin:")
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["DY_BUILD_GREETING"] == "hello $HOME"
    assert built.image.tags == (f"{REPOSITORY}/sklearn:1",)
    assert built.image.size == docker_client.images.get(built.image.id).attrs["Size"]
    assert built.warnings == ("[serve] host is not used in the image: the image listens on all interfaces",)
    settings = _run(docker_client, built.image.id, "cat", env["DOCKYARD_CONFIG"])
    assert 'handler = "/opt/program/inference.py"' in settings
    assert "workers = 1" in settings
    assert "host" not in settings
    assert (
        _run(docker_client, built.image.id, "sh", "-c", "command -v serve").strip()
        == "/opt/dockyard/venv/bin/serve"
    )


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_venv_holds_the_server_and_the_requirements_only(
    sklearn_build: tuple[ProjectBuild, Recorder], docker_client: docker.DockerClient
) -> None:
    built, _ = sklearn_build
    listing = _run(
        docker_client,
        built.image.id,
        "python",
        "-m",
        "pip",
        "list",
        "--format=json",
        "--disable-pip-version-check",
    )
    names = {package["name"].lower().replace("_", "-") for package in json.loads(listing)}
    assert {
        "dockyard",
        "scikit-learn",
        "uvicorn",
        "uvloop",
        "httptools",
        "orjson",
        "numpy",
        "prometheus-client",
    } <= names
    assert not names & NOT_IN_IMAGES
    modules = _run(
        docker_client,
        built.image.id,
        "python",
        "-c",
        "import importlib.util as u; "
        "print([u.find_spec(m) is None for m in ('dockyard.cli', 'dockyard.image')])",
    )
    assert modules.strip() == "[True, True]"


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_index_url_and_ca_certificates_never_reach_the_image(
    sklearn_build: tuple[ProjectBuild, Recorder],
    sklearn_project: SklearnProject,
    docker_client: docker.DockerClient,
) -> None:
    built, recorder = sklearn_build
    # They were used: pip looked in the configured index. The packages stage that held them (pip.conf
    # with the token, the CA bundle) is gone from the engine with every image of its steps.
    assert any(TOKEN in line and "pypi.org/simple" in line for line in recorder.lines), recorder.lines[:20]
    first = next(i for i, step in enumerate(recorder.steps) if step.instruction == "FROM base AS packages")
    last = next(
        i for i, step in enumerate(recorder.steps) if i > first and step.instruction.startswith("FROM")
    )
    stage = recorder.steps[first + 1 : last]
    assert any(step.instruction.startswith("RUN PIP_CONFIG_FILE=") for step in stage)
    for step in stage:
        assert step.image is not None
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(step.image)

    # The image does not: not in its history, its config, or any byte of any of its layers.
    markers = [TOKEN.encode(), sklearn_project.ca_line.encode(), b"/tmp/dockyard-build/"]
    history = json.dumps(docker_client.api.history(built.image.id)).encode()
    config = json.dumps(docker_client.images.get(built.image.id).attrs).encode()
    for marker in [*markers, b"PIP_CONFIG_FILE", b"build-secrets"]:
        assert marker not in history
        assert marker not in config
    keep = max(len(marker) for marker in markers)
    window, total = b"", 0
    for chunk in docker_client.images.get(built.image.id).save(named=False):
        window = window[-keep:] + chunk
        total += len(chunk)
        for marker in markers:
            assert marker not in window, f"{marker!r} is in the saved image"
    assert total > built.image.size / 2  # the whole image was read


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_rebuild_after_a_code_change_reuses_the_layers_before_the_secrets(
    sklearn_build: tuple[ProjectBuild, Recorder],
    sklearn_project: SklearnProject,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    project = tmp_path / "changed"
    shutil.copytree(sklearn_project.root, project)
    (project / "inference.py").write_text(INFERENCE.replace('VERSION = "v1"', 'VERSION = "v2"'))
    tag = f"{REPOSITORY}/sklearn:2"
    began = time.monotonic()
    result = _dockyard("build", "--project-dir", str(project), "--tag", tag)
    seconds = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    steps = [match.groups() for match in map(STEP_LINE.match, result.stdout.splitlines()) if match]
    assert steps, result.stdout
    code = next(i for i, (*_, instruction) in enumerate(steps) if instruction.startswith("COPY program/"))
    # The packages stage held the pip configuration: its images were removed after the first build, so
    # it runs again, and every step after it (its venv is new). What comes before it is reused.
    first = [instruction for *_, instruction in steps].index("FROM base AS packages")
    for _number, _total, took, instruction in steps[:first]:
        assert took == "cached" or instruction.startswith("FROM"), (instruction, result.stdout)
    assert steps[code][2] != "cached"
    cached = sum(took == "cached" for _number, _total, took, _instruction in steps)
    summary = (
        rf"^Built sha256:[0-9a-f]{{64}} in [\d.]+ s \({cached} of {len(steps)} steps cached\), [\d.]+ MB$"
    )
    assert re.search(summary, result.stdout, re.MULTILINE), result.stdout
    assert f"Tagged {tag}" in result.stdout
    assert seconds < 900
    assert 'VERSION = "v2"' in _run(docker_client, tag, "cat", "/opt/program/inference.py")
    assert docker_client.images.get(tag).id != sklearn_build[0].image.id


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_failing_step_is_named_with_its_last_output_lines(
    tmp_path: Path, base_image: str, docker_client: docker.DockerClient
) -> None:
    (tmp_path / "dockyard.toml").write_text(
        f"""\
[project]
name = "{PREFIX}failing"
flavor = "sklearn"
requirements = ["{PREFIX}no-such-distribution==0.0.1"]
base_image = "{base_image}"

[build]
network_mode = "host"
"""
    )
    recorder = Recorder()
    try:
        with pytest.raises(BuildError) as failure:
            build_project(load_config(tmp_path), tags=[f"{REPOSITORY}/failing:1"], progress=recorder)
        message = failure.value.message
        assert re.match(
            r"step \d+/\d+ RUN /opt/dockyard/venv/bin/python -m pip install .* failed \(exit code 1\); "
            r"its last output lines:\n  ",
            message,
        ), message
        assert f"No matching distribution found for {PREFIX}no-such-distribution==0.0.1" in message
        assert "\x1b[" not in message
        assert "Removing intermediate container" not in message
        assert len(message.splitlines()) <= 16
        # The failed step's container went with it.
        before = recorder.steps[-2].image
        assert docker_client.containers.list(all=True, filters={"ancestor": before}) == []
    finally:
        _remove_images(docker_client, [], recorder.steps)


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_missing_base_image_fails_at_its_from_step(
    tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    missing = f"{PREFIX}no-such-base:{uuid.uuid4().hex[:8]}"
    project = _minimal_project(tmp_path / "p", f'base_image = "{missing}"\n')
    result = _dockyard("build", "-C", str(project), "-t", f"{REPOSITORY}/no-base:1")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: step 1/14 FROM {missing} AS base failed (")
    assert result.stderr.rstrip().endswith(
        f"; {missing} is not in the engine's images and could not be pulled: pull or load it first)"
    )
    assert "Traceback" not in result.stderr


def _own_project(
    root: Path, base_image: str, dockerfile: str, serve_mode: int, platform: str = "linux/amd64"
) -> Path:
    root.mkdir()
    (root / "dockyard.toml").write_text(
        f'[project]\nname = "{PREFIX}own"\ndockerfile = "Dockerfile"\n\n[build]\nplatform = "{platform}"\n'
    )
    (root / "Dockerfile").write_text(f"FROM {base_image}\n{dockerfile}")
    (root / "serve").write_text("#!/bin/sh\nexec python3 -m http.server 8080\n")
    (root / "serve").chmod(serve_mode)
    return root


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_own_dockerfile_is_built_tagged_and_checked(
    tmp_path: Path, base_image: str, docker_client: docker.DockerClient
) -> None:
    project = _own_project(tmp_path / "own", base_image, "COPY serve /usr/local/bin/serve\n", 0o755)
    tag, second = f"{REPOSITORY}/own:1", f"{REPOSITORY}/own-alias:also"
    try:
        result = _dockyard("build", "-C", str(project), "-t", tag, "-t", second)
        assert result.returncode == 0, result.stderr
        assert f"Tagged {tag}\nTagged {second}\n" in result.stdout
        assert sorted(docker_client.images.get(tag).tags) == sorted([tag, second])
        assert "Building dy-build-own from Dockerfile" in result.stdout
        assert result.stderr.splitlines() == [
            f"warning: {tag} does not EXPOSE 8080: SageMaker sends requests to port 8080; "
            "add `EXPOSE 8080` to document it",
            f"warning: {tag} has no label com.amazonaws.sagemaker.capabilities.accept-bind-to-port: "
            "SageMaker will always use port 8080; add the label if the server honours SAGEMAKER_BIND_TO_PORT",
        ]
    finally:
        _remove_images(docker_client, [tag, second], [])


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_own_dockerfile_without_serve_fails_the_check(
    tmp_path: Path, base_image: str, docker_client: docker.DockerClient
) -> None:
    # `serve` is there, but not executable: SageMaker could not start it.
    project = _own_project(
        tmp_path / "own", base_image, "COPY serve /usr/local/bin/serve\nEXPOSE 8080\n", 0o644
    )
    tag = f"{REPOSITORY}/own-broken:1"
    try:
        result = _dockyard("build", "-C", str(project), "-t", tag)
        assert result.returncode == 1, result.stdout
        assert result.stderr.strip() == (
            f"error: {tag} was built, but `docker run {tag} serve` cannot start: it has no ENTRYPOINT and no "
            "executable `serve` on its PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin); "
            "add a `serve` script to the image or an ENTRYPOINT that accepts the argument serve"
        )
    finally:
        _remove_images(docker_client, [tag], [])


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_platform_other_than_the_engines_is_warned_about(
    tmp_path: Path, base_image: str, docker_client: docker.DockerClient
) -> None:
    engine = platform_architecture(f"linux/{docker_client.version()['Arch']}")
    other = "arm64" if engine == "amd64" else "amd64"
    project = _own_project(
        tmp_path / "own", base_image, "COPY serve /usr/local/bin/serve\n", 0o755, platform=f"linux/{other}"
    )
    tag = f"{REPOSITORY}/own-{other}:1"
    try:
        result = _dockyard("build", "-C", str(project), "-t", tag)
        assert f"warning: {architecture_warning(engine, f'linux/{other}')}" in result.stderr
        # Without emulation the engine builds from the local base image's own architecture anyway.
        if result.returncode == 0:
            assert (
                f"warning: {tag} is built for {engine}, not for the target platform linux/{other}"
                in result.stderr
            )
    finally:
        _remove_images(docker_client, [tag], [])


@pytest.mark.parametrize(
    ("tag", "parts"),
    [
        ("iris", ("iris", None)),
        ("iris:1", ("iris", "1")),
        ("127.0.0.1:5000/team/iris", ("127.0.0.1:5000/team/iris", None)),
        ("127.0.0.1:5000/team/iris:v2.1", ("127.0.0.1:5000/team/iris", "v2.1")),
    ],
)
def test_tags_are_checked_and_split(tag: str, parts: tuple[str, str | None]) -> None:
    check_tags([tag])
    assert split_tag(tag) == parts


def test_architecture_warning_only_on_a_mismatch() -> None:
    assert architecture_warning("amd64", "linux/amd64") is None
    assert architecture_warning("x86_64", "linux/amd64") is None
    assert architecture_warning("aarch64", "linux/arm64/v8") is None
    assert architecture_warning("arm64", "linux/amd64") == (
        "the Docker engine runs on arm64 but the target platform is linux/amd64: RUN steps go through "
        "emulation (slow, and 'exec format error' without QEMU binfmt); SageMaker's ml.* instances are "
        "amd64 except the Graviton types, so an image built for the wrong architecture fails to start there"
    )


def test_review_of_an_image_with_an_entrypoint_needs_no_serve_on_path() -> None:
    attrs = {
        "Config": {
            "Entrypoint": ["python", "/app/main.py"],
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"com.amazonaws.sagemaker.capabilities.accept-bind-to-port": "true"},
        }
    }

    def never(name: str, path: str) -> bool:
        raise AssertionError("no lookup is needed with an ENTRYPOINT")

    verdict = review("x:1", attrs, never)
    assert verdict.command == 'the ENTRYPOINT ["python", "/app/main.py"] with the argument serve'
    assert verdict.warnings == ()


def _minimal_project(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dockyard.toml").write_text(f'[project]\nname = "{PREFIX}minimal"\n{extra}')
    return root


def test_unreachable_engine_is_one_sentence_naming_the_socket(tmp_path: Path) -> None:
    socket = tmp_path / "no-engine.sock"
    result = _dockyard(
        "build", "-C", str(_minimal_project(tmp_path / "p")), env={"DOCKER_HOST": f"unix://{socket}"}
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: cannot reach the Docker engine at unix://{socket} (no such file or directory); start it "
        "(`sudo systemctl start docker`, or `dockerd &` as root, or scripts/docker-engine.sh here) "
        "or point DOCKER_HOST at a running engine"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_tag_is_a_usage_error(tmp_path: Path) -> None:
    result = _dockyard("build", "-C", str(_minimal_project(tmp_path / "p")), "-t", "Iris:1")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --tag 'Iris:1' is not a valid image reference; expected [REGISTRY/]NAME[:TAG] with a "
        "lowercase NAME, for example iris:1 or 127.0.0.1:5000/team/iris:1"
    )


def test_bad_platform_names_the_key(tmp_path: Path) -> None:
    project = _minimal_project(tmp_path / "p", '[build]\nplatform = "amd64"\n')
    result = _dockyard("build", "-C", str(project))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {project / 'dockyard.toml'}: [build] platform: "
        "expected OS/ARCH such as linux/amd64, got 'amd64'"
    )


def test_base_image_option_does_not_apply_to_an_own_dockerfile(tmp_path: Path) -> None:
    project = _own_project(tmp_path / "own", "scratch", "", 0o755)
    result = _dockyard("build", "-C", str(project), "--base-image", "python:3.12-slim")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --base-image applies to the Dockerfile dockyard renders; dy-build-own builds its own "
        "(Dockerfile), so set the base image in its FROM line"
    )


def test_print_dockerfile_needs_no_engine(tmp_path: Path) -> None:
    project = _minimal_project(tmp_path / "p")
    result = _dockyard(
        "build",
        "-C",
        str(project),
        "--print-dockerfile",
        "--base-image",
        "debian:12",
        env={"DOCKER_HOST": "unix:///nowhere"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == render_project(load_config(project), "debian:12")
    assert "FROM debian:12 AS base\n" in result.stdout
