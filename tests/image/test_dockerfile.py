"""The rendered Dockerfile: its exact text, its layer order, and where the build secrets may appear."""

from __future__ import annotations

import pytest

from dockyard.image.dockerfile import DockerfileSpec, check_env_name, env_value, render

FULL = DockerfileSpec(
    project="iris",
    base_image="python:3.11-slim",
    requirement_files=("project.txt", "dockyard-serving.txt"),
    system_packages=("libgomp1", "curl"),
    pip_config=True,
    extra_ca_certs=True,
    environment=(("GREETING", 'say "hi" to $USER'), ("LOG_LEVEL", "info")),
    program=True,
    include_model=True,
)
MINIMAL = DockerfileSpec(
    project="iris", base_image="python:3.11-slim", requirement_files=("dockyard-serving.txt",)
)

FULL_TEXT = r"""# Rendered by dockyard for "iris"; `dockyard build` writes it again,
# so change dockyard.toml rather than this file.

# The base image and its system packages, shared by both stages below.
FROM python:3.11-slim AS base
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgomp1 curl \
    && rm -rf /var/lib/apt/lists/*

# Python packages, installed into a venv in a throwaway stage: the pip index and CA
# certificates used here never reach the image, which copies only the venv.
FROM base AS packages
COPY build-secrets/ /tmp/dockyard-build/
RUN python3 -m venv /opt/dockyard/venv \
    && pip_ca="$(/opt/dockyard/venv/bin/python -c 'from pip._vendor import certifi; print(certifi.where())')" \
    && cat "$pip_ca" /tmp/dockyard-build/ca/*.pem > /tmp/dockyard-build/ca-bundle.pem
COPY requirements/ /tmp/dockyard-requirements/
RUN PIP_CONFIG_FILE=/tmp/dockyard-build/pip.conf /opt/dockyard/venv/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
    -r /tmp/dockyard-requirements/project.txt \
    -r /tmp/dockyard-requirements/dockyard-serving.txt

# The image: the venv, dockyard's serving runtime, the project's code and settings.
FROM base
COPY --from=packages /opt/dockyard/venv /opt/dockyard/venv
ENV PATH="/opt/dockyard/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DOCKYARD_CONFIG=/opt/dockyard/dockyard.toml
# dockyard's serving runtime; its dependencies are in the venv, so no index is needed.
COPY runtime/ /tmp/dockyard-runtime/
RUN python -m pip install --no-cache-dir --no-index --no-deps /tmp/dockyard-runtime/*.whl \
    && rm -rf /tmp/dockyard-runtime

# The project's settings, environment and code come last: changing them rebuilds nothing above.
COPY dockyard.toml /opt/dockyard/dockyard.toml
ENV GREETING="say \"hi\" to \$USER" \
    LOG_LEVEL="info"
COPY program/ /opt/program/
# The model itself ([build] include_model); otherwise SageMaker brings it from model.tar.gz.
COPY model/ /opt/ml/model/
LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port="true" org.opencontainers.image.title="iris"
EXPOSE 8080
CMD ["serve"]
"""  # noqa: E501 (the Dockerfile's own long lines)


def _instructions(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]


def test_full_spec_renders_exactly() -> None:
    assert render(FULL) == FULL_TEXT


def test_rendering_is_deterministic() -> None:
    assert render(FULL) == render(FULL)
    assert render(MINIMAL) == render(MINIMAL)


def test_layers_go_from_base_to_code_to_model() -> None:
    lines = _instructions(render(FULL))

    def first(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    order = [
        first("FROM python:3.11-slim AS base"),
        first("RUN apt-get update"),
        first("RUN PIP_CONFIG_FILE="),  # the Python requirements
        first("COPY --from=packages"),
        first("RUN python -m pip install --no-cache-dir --no-index --no-deps"),  # dockyard's runtime
        first("COPY program/"),
        first("COPY model/"),
    ]
    assert order == sorted(order)
    assert lines[-1] == 'CMD ["serve"]'


def test_secrets_appear_only_in_the_packages_stage() -> None:
    text = render(FULL)
    packages, image = text.split("\nFROM base\n")
    assert "COPY build-secrets/" in packages
    assert "PIP_CONFIG_FILE=" in packages
    for secret_path in ("build-secrets", "/tmp/dockyard-build", "PIP_CONFIG_FILE", "pip.conf"):
        assert secret_path not in image
    # The venv is the only thing the image takes from that stage.
    assert [line for line in image.splitlines() if "--from=" in line] == [
        "COPY --from=packages /opt/dockyard/venv /opt/dockyard/venv"
    ]


def test_minimal_spec_has_no_apt_secrets_code_or_model() -> None:
    text = render(MINIMAL)
    for absent in (
        "apt-get",
        "build-secrets",
        "PIP_CONFIG_FILE",
        "ca-bundle",
        "COPY program/",
        "COPY model/",
    ):
        assert absent not in text
    assert "RUN python3 -m venv /opt/dockyard/venv\n" in text
    assert "RUN /opt/dockyard/venv/bin/python -m pip install" in text


def test_image_runs_as_sagemaker_starts_it() -> None:
    lines = _instructions(render(MINIMAL))
    assert not any(line.startswith("ENTRYPOINT") for line in lines)
    assert 'CMD ["serve"]' in lines
    assert "EXPOSE 8080" in lines
    assert any("com.amazonaws.sagemaker.capabilities.accept-bind-to-port" in line for line in lines)
    assert 'ENV PATH="/opt/dockyard/venv/bin:$PATH" \\' in lines


def test_env_values_are_quoted_against_expansion() -> None:
    assert env_value("plain") == '"plain"'
    assert env_value('a "b" $HOME \\n') == '"a \\"b\\" \\$HOME \\\\n"'
    with pytest.raises(ValueError, match="must not contain a line break"):
        env_value("two\nlines")


def test_env_names_are_checked() -> None:
    check_env_name("LOG_LEVEL")
    check_env_name("_x1")
    with pytest.raises(ValueError, match=r"'1BAD' is not an environment variable name"):
        check_env_name("1BAD")
    with pytest.raises(ValueError, match=r"'A-B' is not an environment variable name"):
        check_env_name("A-B")
