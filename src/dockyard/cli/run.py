"""``dockyard run IMAGE``: start an image as SageMaker would, on 127.0.0.1, until Ctrl-C."""

from __future__ import annotations

import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from dockyard.cli.common import err_console, reports_errors
from dockyard.errors import UsageError

DEFAULT_PORT = 8080
DEFAULT_INSTANCE_TYPE = "ml.m5.large"

ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="Model directory, or a model.tar.gz (unpacked into a temporary directory); mounted read-only "
        "at /opt/ml/model (default: dockyard.toml's model, when it exists).",
    ),
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--env", "-e", help="KEY=VALUE for the container (repeatable; over dockyard.toml's environment)."
    ),
]
InstanceTypeOption = Annotated[
    str | None,
    typer.Option(
        "--instance-type",
        help=f"ml.* type whose vCPUs and memory limit the container (default: dockyard.toml's, or "
        f"{DEFAULT_INSTANCE_TYPE}).",
    ),
]
StartupTimeoutOption = Annotated[
    float,
    typer.Option("--startup-timeout", min=1, help="Seconds the container gets to answer GET /ping with 200."),
]
ProjectDirOption = Annotated[
    Path,
    typer.Option("--project-dir", "-C", file_okay=False, help="Directory holding dockyard.toml (optional)."),
]


@dataclass(frozen=True)
class ProjectDefaults:
    """What dockyard.toml contributes to `run` and `check` when there is one."""

    model: Path | None = None
    environment: dict[str, str] = field(default_factory=dict)
    instance_type: str = DEFAULT_INSTANCE_TYPE
    sample: Path | None = None
    sample_type: str | None = None


def project_defaults(directory: Path) -> ProjectDefaults:
    from dockyard.config import CONFIG_FILE, load_config

    if not (directory / CONFIG_FILE).is_file():
        return ProjectDefaults()
    config = load_config(directory)
    project = config.project
    model = config.path(project.model)
    sample = config.path(project.sample_request) if project.sample_request else None
    return ProjectDefaults(
        model=model if model.exists() else None,
        environment=dict(project.environment),
        instance_type=project.instance_type,
        sample=sample,
        sample_type=project.sample_type,
    )


def parse_env(pairs: list[str] | None) -> dict[str, str]:
    environment: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {pair!r}: expected KEY=VALUE")
        environment[key] = value
    return environment


def default_port() -> int:
    """8080 when it is free on 127.0.0.1; otherwise 0 (the engine picks a free port)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", DEFAULT_PORT))
        except OSError:
            return 0
    return DEFAULT_PORT


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@reports_errors
def run(
    image: Annotated[str, typer.Argument(help="Image to start (name[:tag] or id).")],
    model: ModelOption = None,
    env: EnvOption = None,
    instance_type: InstanceTypeOption = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="Port on 127.0.0.1 for the container's 8080 (default: 8080 if free, else any free one; "
            "0: any).",
        ),
    ] = None,
    startup_timeout: StartupTimeoutOption = 120.0,
    name: Annotated[
        str | None, typer.Option("--name", help="Container name (default: dockyard-run-<random>).")
    ] = None,
    project_dir: ProjectDirOption = Path("."),
) -> None:
    """Start IMAGE as SageMaker does (`serve`, read-only model, instance limits) and stream its logs."""
    import time

    from dockyard.containers.local_run import LocalContainer, RunSpec

    defaults = project_defaults(project_dir)
    spec = RunSpec(
        image=image,
        model=model or defaults.model,
        environment={**defaults.environment, **parse_env(env)},
        instance_type=instance_type or defaults.instance_type,
        host_port=default_port() if port is None else port,
        name=name,
    )
    # Stop the container when we are stopped: on SIGTERM, and on Ctrl-C even where a parent shell started
    # us with SIGINT ignored (background jobs).
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def say(message: str) -> None:
        err_console.print(message, highlight=False, soft_wrap=True)

    def write(chunk: bytes) -> None:
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()

    box = LocalContainer(spec)
    limits = box.limits
    cpus = limits.nano_cpus / 1e9
    capped = f" (capped: {spec.instance_type} has {limits.instance_vcpus})" if limits.capped else ""
    model_note = f"model {spec.model} read-only at /opt/ml/model" if spec.model else "no model mounted"
    say(
        f"Starting {image} as {box.name}: {spec.instance_type} limits {cpus:g} CPU{capped}, "
        f"{limits.memory / 2**30:g} GiB; {model_note}"
    )
    try:
        with box:
            try:
                box.stream_logs(write)
                seconds = box.wait_ready(startup_timeout)
                say(f"Ready in {seconds:.1f} s: {box.url} (POST {box.url}/invocations); Ctrl-C stops it")
                while True:
                    status, code = box.state()
                    if status != "running":
                        raise box.exited_error(code, "after it was ready")
                    time.sleep(0.5)
            except KeyboardInterrupt:
                say(f"Stopping {box.name} (SIGTERM, then SIGKILL after 30 s; Ctrl-C again kills it now)")
                raise
    except KeyboardInterrupt:
        say(f"Removed {box.name}")
        raise


def register(app: typer.Typer) -> None:
    app.command("run")(run)
