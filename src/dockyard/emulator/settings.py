"""Where the emulator listens, keeps its state, finds S3, and whom it lets in; from arguments, else
environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.emulator.context import DEFAULT_ACCOUNT
from dockyard.errors import UsageError

DEFAULT_PORT = 7474
DEFAULT_HOST = "127.0.0.1"
STATUS_PATH = "/_dockyard/status"  # what a running emulator answers about itself
ALLOW_HOSTS_ENV = "DOCKYARD_EMULATOR_ALLOW_HOSTS"  # comma-separated
ALLOW_PATHS_ENV = "DOCKYARD_EMULATOR_ALLOW_PATHS"  # os.pathsep-separated
INSECURE_ENV = "DOCKYARD_EMULATOR_INSECURE_ANY_CREDENTIALS"
READ_TIMEOUT_ENV = "DOCKYARD_EMULATOR_READ_TIMEOUT"  # seconds a client may stall mid-request
PULL_ENV = "DOCKYARD_EMULATOR_PULL"  # "1": images a model names may be pulled when missing
CAPTURE_INTERVAL_ENV = "DOCKYARD_EMULATOR_CAPTURE_INTERVAL"  # seconds between data capture writes


def default_state_dir() -> Path:
    configured = os.environ.get("DOCKYARD_STATE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".dockyard"


def _default_port() -> int:
    return int(os.environ.get("DOCKYARD_EMULATOR_PORT") or DEFAULT_PORT)


def _env_list(name: str, separator: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, "").split(separator) if part.strip())


def project_dir() -> Path | None:
    """The current directory when it is a dockyard project (its model data may be used as-is)."""
    here = Path.cwd()
    return here if (here / "dockyard.toml").is_file() else None


def _default_s3_endpoint() -> str | None:
    # The standard boto3 variable for a per-service endpoint, or ours.
    return os.environ.get("DOCKYARD_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3") or None


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:  # also refuses nan
        raise UsageError(f"{name}={text!r} is not a number of seconds above 0, such as {default:g}")
    return seconds


def _default_read_timeout() -> float:
    return _seconds(READ_TIMEOUT_ENV, 30.0)


@dataclass(frozen=True)
class EmulatorSettings:
    host: str = DEFAULT_HOST
    port: int = field(default_factory=_default_port)
    state_dir: Path = field(default_factory=default_state_dir)
    # The account every resource belongs to (the region comes from each request's signature scope).
    account: str = field(
        default_factory=lambda: os.environ.get("DOCKYARD_EMULATOR_ACCOUNT") or DEFAULT_ACCOUNT
    )
    s3_endpoint_url: str | None = field(default_factory=_default_s3_endpoint)
    # Host names answered besides the loopback ones (--allow-host).
    allow_hosts: tuple[str, ...] = field(default_factory=lambda: _env_list(ALLOW_HOSTS_ENV, ","))
    # Directories file:// model data may come from besides the state directory (--allow-path).
    allow_paths: tuple[Path, ...] = field(
        default_factory=lambda: tuple(Path(p).expanduser() for p in _env_list(ALLOW_PATHS_ENV, os.pathsep))
    )
    # Accept any signature (one is still required): --insecure-any-credentials.
    insecure_any_credentials: bool = field(
        default_factory=lambda: os.environ.get(INSECURE_ENV, "").lower() in ("1", "true", "yes")
    )
    # Off by default: an image is run only when it is already in the local engine.
    pull: bool = field(default_factory=lambda: os.environ.get(PULL_ENV, "") in ("1", "true", "yes"))
    # A client that sends nothing, or stops mid-headers or mid-body, for this long gets a 408 and is
    # disconnected; an idle keep-alive connection is closed after keep_alive seconds.
    read_timeout: float = field(default_factory=_default_read_timeout)
    keep_alive: float = 5.0
    # How often captured requests are written to S3 (and once more at shutdown).
    capture_interval: float = field(default_factory=lambda: _seconds(CAPTURE_INTERVAL_ENV, 2.0))

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def model_data_roots(self) -> tuple[Path, ...]:
        """Where file:// model data may be read from."""
        return (self.state_dir, *self.allow_paths)

    def arguments(self) -> list[str]:
        """The ``python -m dockyard.emulator`` arguments that give these settings."""
        arguments = ["--host", self.host, "--port", str(self.port), "--state-dir", str(self.state_dir)]
        for name in self.allow_hosts:
            arguments += ["--allow-host", name]
        for path in self.allow_paths:
            arguments += ["--allow-path", str(path)]
        if self.insecure_any_credentials:
            arguments.append("--insecure-any-credentials")
        if self.pull:
            arguments.append("--pull")
        return arguments

    @property
    def database(self) -> Path:
        return self.state_dir / "emulator.db"
