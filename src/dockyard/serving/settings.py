"""The inference server's settings: one table of options, read from the command line, the environment
and the ``[serve]`` table of ``dockyard.toml`` (in that order of precedence), then defaults.

The same table drives the ``serve`` entrypoint's argparse parser and the error messages, so an option
is declared once. SageMaker's own environment variables (``SAGEMAKER_BIND_TO_PORT``,
``SAGEMAKER_MODEL_SERVER_WORKERS``, ...) are honoured where they exist.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_BODY_BYTES = 6_291_456  # SageMaker's InvokeEndpoint limit for request and response bodies


class SettingsError(Exception):
    """A setting has a bad value; the message names where it came from and what is expected."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    model_dir: Path = Path("/opt/ml/model")
    handler: str | None = None
    flavor: str | None = None
    flavor_options: Mapping[str, str] = field(default_factory=dict)
    host: str = "0.0.0.0"
    port: int = 8080
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    timeout: float = 60.0
    startup_timeout: float = 600.0
    graceful_timeout: float = 25.0
    body_timeout: float = 60.0
    max_batch_size: int = 1
    max_batch_delay_ms: float = 0.0
    max_body_bytes: int = MAX_BODY_BYTES
    default_accept: str = "application/json"
    metrics_port: int = 9464
    access_log: bool = True
    log_level: str = "info"
    max_concurrent_transforms: int | None = None
    batch_strategy: str = "MULTI_RECORD"
    max_payload_mb: int = 6
    multi_model: bool = False

    @property
    def batching(self) -> bool:
        return self.max_batch_size > 1


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _log_level(text: str) -> str:
    # SAGEMAKER_CONTAINER_LOG_LEVEL is numeric (20 = INFO) in the toolkits; names are accepted too.
    numeric = {"10": "debug", "20": "info", "30": "warning", "40": "error", "50": "critical"}
    lowered = text.strip().lower()
    level = numeric.get(lowered, lowered)
    if level not in {"debug", "info", "warning", "error", "critical"}:
        raise ValueError("must be debug, info, warning, error or critical (or 10..50)")
    return level


def _batch_strategy(text: str) -> str:
    value = text.strip().upper()
    if value not in {"MULTI_RECORD", "SINGLE_RECORD"}:
        raise ValueError("must be MULTI_RECORD or SINGLE_RECORD")
    return value


def _options(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected KEY=VALUE pairs separated by commas, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # the ServerSettings field, the TOML key, and (with dashes) the CLI flag
    parse: Callable[[str], Any]
    env: tuple[str, ...]
    help: str
    expected: str  # what a valid value looks like, for error messages

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option(
        "model_dir", Path, ("DOCKYARD_MODEL_DIR", "SM_MODEL_DIR"), "directory of the unpacked model", "a path"
    ),
    Option(
        "handler",
        str,
        ("DOCKYARD_HANDLER", "SAGEMAKER_PROGRAM"),
        "handler module, file or module:Class (default: MODEL_DIR/code/inference.py if present)",
        "a module or file",
    ),
    Option(
        "flavor", str, ("DOCKYARD_FLAVOR",), "built-in flavor when no handler (default: detected)", "a name"
    ),
    Option(
        "flavor_options",
        _options,
        ("DOCKYARD_FLAVOR_OPTIONS",),
        "flavor options as KEY=VALUE,...",
        "KEY=VALUE,...",
    ),
    Option("host", str, ("DOCKYARD_HOST",), "address to bind", "an address"),
    Option("port", _port, ("SAGEMAKER_BIND_TO_PORT", "DOCKYARD_PORT"), "port to listen on", "a port number"),
    Option(
        "workers",
        _positive_int,
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "DOCKYARD_WORKERS"),
        "worker processes, each holding the model (default: CPU count)",
        "a positive integer",
    ),
    Option(
        "timeout",
        _seconds,
        ("DOCKYARD_TIMEOUT", "SAGEMAKER_MODEL_SERVER_TIMEOUT"),
        "seconds one request may take",
        "a number of seconds > 0",
    ),
    Option(
        "startup_timeout",
        _seconds,
        ("DOCKYARD_STARTUP_TIMEOUT", "SAGEMAKER_STARTUP_TIMEOUT"),
        "seconds the model may take to load before the server gives up",
        "a number of seconds > 0",
    ),
    Option(
        "graceful_timeout",
        _seconds,
        ("DOCKYARD_GRACEFUL_TIMEOUT",),
        "seconds in-flight requests get after SIGTERM",
        "a number of seconds > 0",
    ),
    Option(
        "body_timeout",
        _seconds,
        ("DOCKYARD_BODY_TIMEOUT",),
        "seconds a request's head or body may take to arrive; then the connection is closed (408 for a body)",
        "a number of seconds > 0",
    ),
    Option(
        "max_batch_size",
        _positive_int,
        ("DOCKYARD_MAX_BATCH_SIZE",),
        "adaptive batching: most requests per predict call (1 = off)",
        "a positive integer",
    ),
    Option(
        "max_batch_delay_ms",
        _non_negative,
        ("DOCKYARD_MAX_BATCH_DELAY_MS",),
        "adaptive batching: longest wait for more requests, in ms",
        "a number of milliseconds >= 0",
    ),
    Option(
        "max_body_bytes",
        _positive_int,
        ("DOCKYARD_MAX_BODY_BYTES",),
        "largest accepted request body",
        "a positive integer",
    ),
    Option(
        "default_accept",
        str,
        ("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "DOCKYARD_DEFAULT_ACCEPT"),
        "response type when Accept is missing or */*",
        "a media type",
    ),
    Option(
        "metrics_port",
        _port,
        ("DOCKYARD_METRICS_PORT",),
        "Prometheus metrics port (0 = off)",
        "a port number",
    ),
    Option("access_log", _bool, ("DOCKYARD_ACCESS_LOG",), "one JSON log line per request", "true or false"),
    Option(
        "log_level",
        _log_level,
        ("DOCKYARD_LOG_LEVEL", "SAGEMAKER_CONTAINER_LOG_LEVEL"),
        "log level",
        "debug, info, warning, error or critical",
    ),
    Option(
        "max_concurrent_transforms",
        _positive_int,
        ("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS",),
        "batch transform: MaxConcurrentTransforms (default: workers)",
        "a positive integer",
    ),
    Option(
        "batch_strategy",
        _batch_strategy,
        ("SAGEMAKER_BATCH_STRATEGY",),
        "batch transform: BatchStrategy",
        "MULTI_RECORD or SINGLE_RECORD",
    ),
    Option(
        "max_payload_mb",
        _positive_int,
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB",),
        "batch transform: MaxPayloadInMB",
        "a positive integer",
    ),
    Option(
        "multi_model",
        _bool,
        ("SAGEMAKER_MULTI_MODEL", "DOCKYARD_MULTI_MODEL"),
        "serve SageMaker's multi-model API (/models) instead of one model from MODEL_DIR",
        "true or false",
    ),
)


def build_parser(prog: str = "serve") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a model behind SageMaker's hosting contract (GET /ping, POST /invocations).",
        epilog="Each option may also be set by the environment variables shown, "
        "or under [serve] in dockyard.toml.",
    )
    parser.add_argument("--config", help="dockyard.toml to read (default: ./dockyard.toml when present)")
    for option in OPTIONS:
        parser.add_argument(
            option.flag, dest=option.name, default=None, help=f"{option.help} [env: {', '.join(option.env)}]"
        )
    return parser


def _parse(option: Option, raw: object, source: str) -> Any:
    text = raw if isinstance(raw, str) else str(raw).lower() if isinstance(raw, bool) else str(raw)
    try:
        return option.parse(text)
    except ValueError as exc:
        # int()/float() explain nothing the expectation does not; our own checks say what is wrong.
        detail = str(exc)
        reason = "" if detail.startswith(("invalid literal", "could not convert")) else f" ({detail})"
        raise SettingsError(f"{source}: expected {option.expected}, got {raw!r}{reason}") from None


def _toml_table(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot be read: {exc.strerror}") from None
    table = document.get("serve", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [serve] must be a table")
    known = {option.name for option in OPTIONS}
    unknown = sorted(set(table) - known)
    if unknown:
        raise SettingsError(
            f"{path}: unknown key(s) in [serve]: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return table


def resolve(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    prog: str = "serve",
) -> ServerSettings:
    """Settings from ``argv`` over ``environ`` over dockyard.toml over ``defaults`` over the built-ins."""
    environ = os.environ if environ is None else environ
    args = vars(build_parser(prog).parse_args(argv))
    config_path = args.pop("config") or environ.get("DOCKYARD_CONFIG")
    toml: dict[str, Any] = {}
    if config_path is not None:
        toml = _toml_table(Path(config_path))
    elif Path("dockyard.toml").is_file():
        toml = _toml_table(Path("dockyard.toml"))
        config_path = "dockyard.toml"

    values: dict[str, Any] = dict(defaults or {})
    for option in OPTIONS:
        if args.get(option.name) is not None:
            values[option.name] = _parse(option, args[option.name], f"option {option.flag}")
            continue
        env_name = next((name for name in option.env if environ.get(name, "").strip()), None)
        if env_name is not None:
            values[option.name] = _parse(option, environ[env_name], f"environment variable {env_name}")
        elif option.name in toml:
            raw = toml[option.name]
            source = f"{config_path}: [serve] {option.name}"
            if option.name == "flavor_options" and isinstance(raw, dict):
                values[option.name] = {str(key): str(value) for key, value in raw.items()}
            else:
                values[option.name] = _parse(option, raw, source)
    return ServerSettings(**values)


def to_json(settings: ServerSettings) -> dict[str, Any]:
    """A JSON-safe dict, for handing the settings to worker processes."""
    data = dataclasses.asdict(settings)
    data["model_dir"] = str(settings.model_dir)
    data["flavor_options"] = dict(settings.flavor_options)
    return data


def from_json(data: Mapping[str, Any]) -> ServerSettings:
    values = dict(data)
    values["model_dir"] = Path(values["model_dir"])
    return ServerSettings(**values)
