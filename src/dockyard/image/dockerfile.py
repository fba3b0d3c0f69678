"""Rendering the Dockerfile of a dockyard project: a pure function of a :class:`DockerfileSpec`.

Layers go from the least to the most often changed, so that editing the handler rebuilds only the
last ones: base → system packages → Python requirements → dockyard's serving runtime → user code →
(optionally) the model. Python packages are installed in a throwaway ``packages`` stage, the only
place that sees the pip index URL and extra CA certificates; the image copies just the venv, so
neither is in any of its layers, its history or its config (the classic builder has no secret mounts).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Paths inside the image.
VENV = "/opt/dockyard/venv"
PROGRAM_DIR = "/opt/program"
MODEL_DIR = "/opt/ml/model"
IMAGE_CONFIG = "/opt/dockyard/dockyard.toml"
PORT = 8080

# Paths inside the build context (written by dockyard.image.context).
CONTEXT_SECRETS = "build-secrets"  # pip.conf and ca/*.pem: copied into the packages stage only
CONTEXT_REQUIREMENTS = "requirements"
CONTEXT_RUNTIME = "runtime"  # the dockyard wheel
CONTEXT_CONFIG = "dockyard.toml"
CONTEXT_PROGRAM = "program"
CONTEXT_MODEL = "model"

BIND_TO_PORT_LABEL = "com.amazonaws.sagemaker.capabilities.accept-bind-to-port"
MULTI_MODELS_LABEL = "com.amazonaws.sagemaker.capabilities.multi-models"

SECRETS_IN_STAGE = "/tmp/dockyard-build"  # where the packages stage keeps them (never the image)
CA_BUNDLE_IN_STAGE = f"{SECRETS_IN_STAGE}/ca-bundle.pem"
_REQUIREMENTS_IN_STAGE = "/tmp/dockyard-requirements"
_RUNTIME_IN_IMAGE = "/tmp/dockyard-runtime"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class DockerfileSpec:
    """What the Dockerfile needs to know; every path is one that ``context.assemble`` wrote."""

    project: str
    base_image: str
    requirement_files: tuple[str, ...]  # names under requirements/, installed in one pip run
    system_packages: tuple[str, ...] = ()
    pip_config: bool = False  # build-secrets/pip.conf exists (index URL and/or CA bundle)
    extra_ca_certs: bool = False  # build-secrets/ca/*.pem exist
    environment: tuple[tuple[str, str], ...] = ()
    program: bool = False  # program/ holds the user's code
    include_model: bool = False  # model/ holds the model, baked into /opt/ml/model
    multi_model: bool = False  # [serve] multi_model: the server answers SageMaker's /models API


def env_value(value: str) -> str:
    """``value`` quoted for ENV and LABEL: double quotes, with ``\\``, ``"`` and ``$`` escaped."""
    if "\n" in value or "\r" in value:
        raise ValueError("must not contain a line break")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def check_env_name(name: str) -> None:
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an environment variable name (letters, digits, _)")


def _continued(lines: list[str]) -> str:
    """Shell lines joined with `` \\`` continuations, each after the first indented."""
    return " \\\n    ".join(lines)


def _base_stage(spec: DockerfileSpec) -> list[str]:
    lines = [
        "# The base image and its system packages, shared by both stages below.",
        f"FROM {spec.base_image} AS base",
    ]
    if spec.system_packages:
        # The package lists are removed in the same layer, or they would stay in the image.
        install = [
            "RUN apt-get update",
            "&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
            + " ".join(spec.system_packages),
            "&& rm -rf /var/lib/apt/lists/*",
        ]
        lines.append(_continued(install))
    return lines


def _packages_stage(spec: DockerfileSpec) -> list[str]:
    lines = [
        "",
        "# Python packages, installed into a venv in a throwaway stage: the pip index and CA",
        "# certificates used here never reach the image, which copies only the venv.",
        "FROM base AS packages",
    ]
    venv = [f"RUN python3 -m venv {VENV}"]
    if spec.pip_config:
        lines.append(f"COPY {CONTEXT_SECRETS}/ {SECRETS_IN_STAGE}/")
    if spec.extra_ca_certs:
        # pip's own CA bundle (Debian's points at the system one) plus the extra certificates.
        where = f"{VENV}/bin/python -c 'from pip._vendor import certifi; print(certifi.where())'"
        venv.append(f'&& pip_ca="$({where})"')
        venv.append(f'&& cat "$pip_ca" {SECRETS_IN_STAGE}/ca/*.pem > {CA_BUNDLE_IN_STAGE}')
    lines.append(_continued(venv))
    lines.append(f"COPY {CONTEXT_REQUIREMENTS}/ {_REQUIREMENTS_IN_STAGE}/")
    pip = f"{VENV}/bin/python -m pip install --no-cache-dir --disable-pip-version-check"
    if spec.pip_config:
        pip = f"PIP_CONFIG_FILE={SECRETS_IN_STAGE}/pip.conf {pip}"
    files = [f"-r {_REQUIREMENTS_IN_STAGE}/{name}" for name in spec.requirement_files]
    lines.append(_continued([f"RUN {pip}", *files]))
    return lines


def _image_stage(spec: DockerfileSpec) -> list[str]:
    env = [
        f'ENV PATH="{VENV}/bin:$PATH"',
        "PYTHONUNBUFFERED=1",
        "PYTHONDONTWRITEBYTECODE=1",
        f"DOCKYARD_CONFIG={IMAGE_CONFIG}",
    ]
    lines = [
        "",
        "# The image: the venv, dockyard's serving runtime, the project's code and settings.",
        "FROM base",
        f"COPY --from=packages {VENV} {VENV}",
        _continued(env),
        "# dockyard's serving runtime; its dependencies are in the venv, so no index is needed.",
        f"COPY {CONTEXT_RUNTIME}/ {_RUNTIME_IN_IMAGE}/",
        _continued(
            [
                f"RUN python -m pip install --no-cache-dir --no-index --no-deps {_RUNTIME_IN_IMAGE}/*.whl",
                f"&& rm -rf {_RUNTIME_IN_IMAGE}",
            ]
        ),
        "",
        "# The project's settings, environment and code come last: changing them rebuilds nothing above.",
        f"COPY {CONTEXT_CONFIG} {IMAGE_CONFIG}",
    ]
    if spec.environment:
        pairs = [f"{name}={env_value(value)}" for name, value in spec.environment]
        lines.append(_continued([f"ENV {pairs[0]}", *pairs[1:]]))
    if spec.program:
        lines.append(f"COPY {CONTEXT_PROGRAM}/ {PROGRAM_DIR}/")
    if spec.include_model:
        lines.append(
            "# The model itself ([build] include_model); otherwise SageMaker brings it from model.tar.gz."
        )
        lines.append(f"COPY {CONTEXT_MODEL}/ {MODEL_DIR}/")
    lines += [
        # dockyard's server listens on SAGEMAKER_BIND_TO_PORT when SageMaker sets it.
        f'LABEL {BIND_TO_PORT_LABEL}="true" org.opencontainers.image.title={env_value(spec.project)}',
    ]
    if spec.multi_model:
        # SageMaker hosts an image in a multi-model endpoint only when it carries this label.
        lines.append(f'LABEL {MULTI_MODELS_LABEL}="true"')
    lines += [
        f"EXPOSE {PORT}",
        # No ENTRYPOINT: SageMaker runs `docker run IMAGE serve`, which replaces this command.
        'CMD ["serve"]',
    ]
    return lines


def render(spec: DockerfileSpec) -> str:
    """The Dockerfile text for ``spec``; the same spec always gives the same bytes."""
    header = [
        f"# Rendered by dockyard for {json.dumps(spec.project)}; `dockyard build` writes it again,",
        "# so change dockyard.toml rather than this file.",
        "",
    ]
    return "\n".join([*header, *_base_stage(spec), *_packages_stage(spec), *_image_stage(spec)]) + "\n"
