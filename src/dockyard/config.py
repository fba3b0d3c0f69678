"""``dockyard.toml``: the project file that ``init`` writes and every later command reads.

```toml
[project]
name = "iris"                 # image and endpoint names derive from it
model = "model"               # model directory (packed into model.tar.gz)
flavor = "sklearn"            # or handler = "inference.py" (dockyard copies it to code/inference.py)
python = "3.11"
requirements = ["scikit-learn==1.5.2"]   # and/or requirements_file = "requirements.txt"
system_packages = []          # Debian packages for the image
base_image = "python:3.11-slim"
instance_type = "ml.m5.large"
sample_request = "sample.json"           # its extension gives the content type, unless sample_content_type
environment = { LOG_LEVEL = "info" }
# dockerfile = "Dockerfile"   # build this instead of rendering one

[build]
platform = "linux/amd64"
pip_index_url = ""            # corporate mirrors; never left in an image layer
extra_ca_certs = []           # PEM files trusted during the build only
network_mode = ""             # "host" where the build needs the host's network

[serve]                       # the inference server's settings (see `dockyard serve --help`)
```

Validation errors name the file, the key and what is expected, in one sentence.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dockyard.errors import ConfigError, UsageError
from dockyard.instance_types import instance_type as known_instance_type

CONFIG_FILE = "dockyard.toml"
FLAVORS = ("sklearn", "xgboost", "lightgbm", "onnx", "torchscript")
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"  # SageMaker's EndpointName/ModelName pattern
CONTENT_TYPES = {
    ".json": "application/json",
    ".jsonl": "application/jsonlines",
    ".csv": "text/csv",
    ".npy": "application/x-npy",
    ".npz": "application/x-npz",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSection(_Section):
    name: str = Field(pattern=NAME_PATTERN)
    model: str = "model"
    flavor: Literal["sklearn", "xgboost", "lightgbm", "onnx", "torchscript"] | None = None
    handler: str | None = None
    python: str = Field(default="3.11", pattern=r"^3\.\d{1,2}$")
    requirements: list[str] = Field(default_factory=list)
    requirements_file: str | None = None
    system_packages: list[str] = Field(default_factory=list)
    base_image: str = "python:3.11-slim"
    instance_type: str = "ml.m5.large"
    sample_request: str | None = None
    sample_content_type: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    dockerfile: str | None = None

    @field_validator("system_packages")
    @classmethod
    def _debian_names(cls, packages: list[str]) -> list[str]:
        for package in packages:
            if not re.fullmatch(r"[a-z0-9][a-z0-9+.\-]+(=[A-Za-z0-9.+~:\-]+)?", package):
                raise ValueError(f"{package!r} is not a Debian package name")
        return packages

    @field_validator("instance_type")
    @classmethod
    def _known_instance_type(cls, name: str) -> str:
        try:
            known_instance_type(name)
        except UsageError as exc:
            raise ValueError(exc.message) from None
        return name

    @model_validator(mode="after")
    def _flavor_or_handler(self) -> ProjectSection:
        if self.flavor is not None and self.handler is not None:
            raise ValueError("set flavor or handler, not both")
        if self.sample_request and not self.sample_content_type:
            suffix = Path(self.sample_request).suffix.lower()
            if suffix not in CONTENT_TYPES:
                raise ValueError(
                    f"cannot tell the content type of sample_request {self.sample_request!r} "
                    "from its extension; "
                    f"set sample_content_type (known extensions: {', '.join(CONTENT_TYPES)})"
                )
        return self

    @property
    def sample_type(self) -> str | None:
        if self.sample_content_type:
            return self.sample_content_type
        if self.sample_request:
            return CONTENT_TYPES[Path(self.sample_request).suffix.lower()]
        return None


class BuildSection(_Section):
    platform: str = "linux/amd64"
    pip_index_url: str | None = None
    extra_ca_certs: list[str] = Field(default_factory=list)
    network_mode: str | None = None
    include_model: bool = False


class ProjectConfig(_Section):
    project: ProjectSection
    build: BuildSection = Field(default_factory=BuildSection)
    serve: dict[str, Any] = Field(default_factory=dict)

    root: Path = Field(default=Path("."), exclude=True)

    def path(self, relative: str) -> Path:
        """A path from the project file, resolved against the project's directory."""
        return (self.root / relative).resolve()


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc if not str(part).startswith(("function-", "literal["))]
    if not parts:
        return ""
    section, *keys = parts
    return f"[{section}] {'.'.join(keys)}".strip() if keys else f"[{section}]"


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key"
    if kind == "string_pattern_mismatch":
        return f"expected a value matching {error['ctx']['pattern']}, got {error['input']!r}"
    if kind == "literal_error":
        return f"expected one of {error['ctx']['expected']}, got {error['input']!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{message}, got {error['input']!r}" if kind.endswith("_type") else message


def parse_config(text: str, path: Path) -> ProjectConfig:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = ProjectConfig.model_validate({**document, "root": path.parent})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _location(first["loc"])
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise ConfigError(f"{path}: {where + ': ' if where else ''}{_message(dict(first))}{more}") from None
    return config


def load_config(directory: Path | None = None) -> ProjectConfig:
    """Read ``dockyard.toml`` from ``directory`` (default: the current directory)."""
    path = (directory or Path.cwd()) / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run `dockyard init` to create a project") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror}") from None
    return parse_config(text, path)
