"""Assembling the build context of a dockyard project: a fresh directory holding the rendered
Dockerfile and exactly the files it copies, nothing else of the project (so no stray virtualenv,
data set or .git is sent to the engine, and no .dockerignore is needed).

```
Dockerfile
dockyard.toml            the image's [serve] settings (handler and flavor included)
requirements/            project.txt, file.txt (the project's requirements_file), dockyard-serving.txt
runtime/                 dockyard-<version>-py3-none-any.whl
program/                 the handler (and its folder's modules when it lives in one)
model/                   only with [build] include_model = true
build-secrets/           pip.conf and ca/*.pem, only when [build] sets an index URL or CA certificates
```

Every problem with the project's files is a ConfigError naming dockyard.toml and the key.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from dockyard.config import CONFIG_FILE, ProjectConfig
from dockyard.errors import ConfigError
from dockyard.image import dockerfile as df
from dockyard.image.runtime_wheel import serving_requirements, write_runtime_wheel

# Settings the SageMaker contract fixes for an image, whatever [serve] says for local serving.
SERVING_REQUIREMENTS = "dockyard-serving.txt"
IMAGE_FIXED_SETTINGS = {
    "host": "the image listens on all interfaces",
    "port": "the image listens on 8080, or SAGEMAKER_BIND_TO_PORT",
    "model_dir": f"the image reads its model from {df.MODEL_DIR}",
    "handler": "the image's handler is [project] handler",
}

# The distribution each built-in flavor imports: without it in the requirements, the image cannot load.
FLAVOR_LIBRARIES = {
    "sklearn": "scikit-learn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "onnx": "onnxruntime",
    "torchscript": "torch",
}


@dataclass(frozen=True, slots=True)
class BuildContext:
    directory: Path
    spec: df.DockerfileSpec
    notes: tuple[str, ...]  # for the user: settings left out of the image, a flavor's missing library


def _where(config: ProjectConfig, key: str) -> str:
    return f"{config.root / CONFIG_FILE}: {key}"


def _ignore_caches(_folder: str, names: list[str]) -> set[str]:
    return {name for name in names if name == "__pycache__" or name.endswith((".pyc", ".pyo"))}


def _copy_program(config: ProjectConfig, destination: Path) -> str | None:
    """Copy the handler into program/ and return the handler setting for the image."""
    handler = config.project.handler
    if handler is None:
        return None
    target, sep, attribute = handler.partition(":")
    if not target.endswith(".py"):
        return handler  # a module name: the requirements install it
    source = config.path(target)
    if not source.is_file():
        raise ConfigError(
            f"{_where(config, '[project] handler')}: {target} does not exist in {config.root.resolve()}"
        )
    if source.parent == config.root.resolve():
        # A handler beside dockyard.toml goes alone: the project folder also holds the model and more.
        destination.mkdir(parents=True)
        shutil.copy2(source, destination / source.name)
    else:
        # A handler in its own folder takes its sibling modules along (the server imports them).
        shutil.copytree(source.parent, destination, ignore=_ignore_caches)
    return f"{df.PROGRAM_DIR}/{source.name}{sep}{attribute}"


def _copy_model(config: ProjectConfig, destination: Path) -> None:
    source = config.path(config.project.model)
    if source.is_dir():
        shutil.copytree(source, destination)
    elif source.is_file():
        destination.mkdir(parents=True)
        shutil.copy2(source, destination / source.name)
    else:
        raise ConfigError(
            f"{_where(config, '[project] model')}: {source} does not exist, "
            "and [build] include_model = true copies it into the image"
        )


def _write_requirements(config: ProjectConfig, destination: Path) -> tuple[str, ...]:
    destination.mkdir(parents=True)
    names: list[str] = []
    if config.project.requirements:
        (destination / "project.txt").write_text("\n".join(config.project.requirements) + "\n")
        names.append("project.txt")
    if config.project.requirements_file:
        source = config.path(config.project.requirements_file)
        if not source.is_file():
            raise ConfigError(f"{_where(config, '[project] requirements_file')}: {source} does not exist")
        shutil.copyfile(source, destination / "file.txt")
        names.append("file.txt")
    (destination / SERVING_REQUIREMENTS).write_text("\n".join(serving_requirements()) + "\n")
    names.append(SERVING_REQUIREMENTS)
    return tuple(names)


def _requirement_names(directory: Path, files: tuple[str, ...]) -> set[str]:
    names = set()
    for name in files:
        for line in (directory / name).read_text().splitlines():
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
            if match and not line.lstrip().startswith("-"):
                names.add(re.sub(r"[._]+", "-", match.group(1)).lower())
    return names


def _flavor_notes(config: ProjectConfig, names: set[str]) -> list[str]:
    flavor = config.project.flavor
    library = FLAVOR_LIBRARIES.get(flavor or "")
    if library is None or library in names:
        return []
    return [
        f"flavor {flavor} loads models with {library}, which is not in [project] requirements "
        "or requirements_file: the image will fail to load the model"
    ]


def _write_build_secrets(config: ProjectConfig, destination: Path) -> tuple[bool, bool]:
    """pip.conf and the extra CA certificates; returns (pip_config, extra_ca_certs)."""
    settings: list[str] = []
    if config.build.pip_index_url:
        settings.append(f"index-url = {config.build.pip_index_url}")
    for number, name in enumerate(config.build.extra_ca_certs):
        source = config.path(name)
        try:
            text = source.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            text = ""
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ConfigError(
                f"{_where(config, '[build] extra_ca_certs')}: {source} is not a readable PEM certificate file"
            )
        (destination / "ca").mkdir(parents=True, exist_ok=True)
        (destination / "ca" / f"{number:02d}.pem").write_text(text if text.endswith("\n") else text + "\n")
    if config.build.extra_ca_certs:
        settings.append(f"cert = {df.CA_BUNDLE_IN_STAGE}")
    if settings:
        destination.mkdir(parents=True, exist_ok=True)
        (destination / "pip.conf").write_text("[global]\n" + "\n".join(settings) + "\n")
    return bool(settings), bool(config.build.extra_ca_certs)


def _toml_value(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are all valid in TOML strings
    if isinstance(value, dict):
        items = ", ".join(
            f"{json.dumps(str(key))} = {_toml_value(item, where)}" for key, item in value.items()
        )
        return "{ " + items + " }"
    raise ConfigError(f"{where}: expected a string, number, boolean or table, got {value!r}")


def image_settings(config: ProjectConfig, handler: str | None) -> tuple[dict[str, object], list[str]]:
    """The image's [serve] table and the notes on what was left out of it."""
    table: dict[str, object] = {}
    notes: list[str] = []
    for key, value in config.serve.items():
        if key in IMAGE_FIXED_SETTINGS:
            notes.append(f"[serve] {key} is not used in the image: {IMAGE_FIXED_SETTINGS[key]}")
        else:
            table[key] = value
    if handler is not None:
        table["handler"] = handler
    if config.project.flavor is not None:
        table["flavor"] = config.project.flavor
    return dict(sorted(table.items())), notes


def _write_image_settings(config: ProjectConfig, table: dict[str, object], path: Path) -> None:
    lines = ["# The image's serving settings, from dockyard.toml; the environment overrides them.", "[serve]"]
    lines += [
        f"{key} = {_toml_value(value, _where(config, f'[serve] {key}'))}" for key, value in table.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    # Checked now with the server's own parser, so that a bad value fails the build, not the endpoint.
    from dockyard.serving.settings import SettingsError, resolve

    try:
        resolve(["--config", str(path)], environ={})
    except SettingsError as exc:
        raise ConfigError(str(exc).replace(str(path), str(config.root / CONFIG_FILE), 1)) from None


def _environment(config: ProjectConfig) -> tuple[tuple[str, str], ...]:
    pairs = sorted(config.project.environment.items())
    for name, value in pairs:
        try:
            df.check_env_name(name)
            df.env_value(value)
        except ValueError as exc:
            raise ConfigError(f"{_where(config, f'[project] environment.{name}')}: {exc}") from None
    return tuple(pairs)


def _check_base_image(config: ProjectConfig, base_image: str) -> None:
    if not base_image or any(char.isspace() for char in base_image):
        raise ConfigError(
            f"{_where(config, '[project] base_image')}: expected an image name, got {base_image!r}"
        )


def assemble(config: ProjectConfig, directory: Path, base_image: str | None = None) -> BuildContext:
    """Write the build context of ``config`` into ``directory`` (which must be empty or missing)."""
    image = base_image or config.project.base_image
    _check_base_image(config, image)
    environment = _environment(config)
    directory.mkdir(parents=True, exist_ok=True)
    requirement_files = _write_requirements(config, directory / df.CONTEXT_REQUIREMENTS)
    pip_config, extra_ca_certs = _write_build_secrets(config, directory / df.CONTEXT_SECRETS)
    write_runtime_wheel(directory / df.CONTEXT_RUNTIME)
    handler = _copy_program(config, directory / df.CONTEXT_PROGRAM)
    table, notes = image_settings(config, handler)
    user_files = tuple(name for name in requirement_files if name != SERVING_REQUIREMENTS)
    notes += _flavor_notes(config, _requirement_names(directory / df.CONTEXT_REQUIREMENTS, user_files))
    _write_image_settings(config, table, directory / df.CONTEXT_CONFIG)
    if config.build.include_model:
        _copy_model(config, directory / df.CONTEXT_MODEL)
    spec = df.DockerfileSpec(
        project=config.project.name,
        base_image=image,
        requirement_files=requirement_files,
        system_packages=tuple(config.project.system_packages),
        pip_config=pip_config,
        extra_ca_certs=extra_ca_certs,
        environment=environment,
        program=(directory / df.CONTEXT_PROGRAM).is_dir(),
        include_model=config.build.include_model,
        multi_model=str(config.serve.get("multi_model", "")).strip().lower() in {"1", "true", "yes", "on"},
    )
    (directory / "Dockerfile").write_text(df.render(spec))
    return BuildContext(directory=directory, spec=spec, notes=tuple(notes))


def user_dockerfile(config: ProjectConfig) -> str:
    """The project's own Dockerfile, as the engine wants it: relative to the project directory."""
    assert config.project.dockerfile is not None
    path = config.path(config.project.dockerfile)
    if not path.is_file():
        raise ConfigError(f"{_where(config, '[project] dockerfile')}: {path} does not exist")
    root = config.root.resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
