"""``dockyard emulator up|down|status``: the local SageMaker that ``--target local`` talks to."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from dockyard.cli.common import console, err_console, reports_errors

emulator_app = typer.Typer(
    name="emulator",
    help="The local SageMaker: SageMaker's API and runtime API on one port, endpoints as local containers.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(emulator_app)


STATE_DIR_OPTION = typer.Option(
    None,
    "--state-dir",
    help="Where the emulator keeps its database, model data and logs (default ~/.dockyard).",
    show_default=False,
)


ALLOW_HOST_OPTION = typer.Option(
    [],
    "--allow-host",
    help="Also answer requests for this Host name (repeatable); only loopback names are answered "
    "otherwise. Needed with --host 0.0.0.0 to be reached from another machine.",
)
ALLOW_PATH_OPTION = typer.Option(
    [],
    "--allow-path",
    help="Also let file:// model data come from this directory (repeatable); the state directory and "
    "the current dockyard project are always allowed.",
)
INSECURE_OPTION = typer.Option(
    False,
    "--insecure-any-credentials",
    help="Accept any SigV4 signature, whatever its secret (a signature is still required).",
)


@emulator_app.command("up")
@reports_errors
def up(
    port: int | None = typer.Option(
        None, "--port", help="Port for both APIs (default 7474).", show_default=False
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    state_dir: Path | None = STATE_DIR_OPTION,
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background and return."),
    allow_host: list[str] = ALLOW_HOST_OPTION,
    allow_path: list[Path] = ALLOW_PATH_OPTION,
    insecure_any_credentials: bool = INSECURE_OPTION,
) -> None:
    """Start the emulator (in the foreground unless --detach). Endpoints from an earlier run come back."""
    from dockyard.emulator.process import run_foreground, start_detached
    from dockyard.emulator.security import local_credentials
    from dockyard.emulator.settings import EmulatorSettings, project_dir

    defaults = EmulatorSettings()
    project = project_dir()
    overrides: dict[str, object] = {
        "host": host,
        "allow_hosts": (*defaults.allow_hosts, *allow_host),
        "allow_paths": (*defaults.allow_paths, *allow_path, *([project] if project else [])),
        "insecure_any_credentials": defaults.insecure_any_credentials or insecure_any_credentials,
    }
    if port is not None:
        overrides["port"] = port
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    settings = EmulatorSettings(**overrides)  # type: ignore[arg-type]
    credentials = local_credentials(settings.state_dir, create=True)
    if detach:
        running = start_detached(settings)
        console.print(f"emulator running at {running.url} (pid {running.pid}, state {running.state_dir})")
        console.print(
            'point the AWS CLI and boto3 at it with `eval "$(dockyard emulator env)"`; '
            f"console: {running.url}/console/?token={credentials.console_token}; "
            "stop it with `dockyard emulator down`",
            highlight=False,
            soft_wrap=True,
        )
        return
    err_console.print(
        f"emulator listening on {settings.url} (state {settings.state_dir}); Ctrl-C stops it\n"
        f'point the AWS CLI and boto3 at it with `eval "$(dockyard emulator env)"`; '
        f"console: {settings.url}/console/?token={credentials.console_token}",
        highlight=False,
        soft_wrap=True,
    )
    run_foreground(settings)


@emulator_app.command("env")
@reports_errors
def env(
    state_dir: Path | None = STATE_DIR_OPTION,
    region: str = typer.Option("us-east-1", "--region", help="The region the exported lines name."),
) -> None:
    """Shell lines (`eval "$(dockyard emulator env)"`) that send the AWS CLI and boto3 to the emulator with
    the credentials it accepts."""
    from dockyard.emulator.process import status
    from dockyard.emulator.security import local_credentials
    from dockyard.emulator.settings import EmulatorSettings

    settings = EmulatorSettings() if state_dir is None else EmulatorSettings(state_dir=state_dir)
    running = status(settings.state_dir)
    url = running.url if running is not None else settings.url
    for line in local_credentials(settings.state_dir, create=True).export_lines(url, region):
        print(line)


@emulator_app.command("down")
@reports_errors
def down(
    state_dir: Path | None = STATE_DIR_OPTION,
    stop_endpoints: bool = typer.Option(
        False,
        "--stop-endpoints",
        help="Also stop every endpoint's containers (their records stay; `up` starts them again).",
    ),
) -> None:
    """Stop the background emulator. Endpoint containers keep running unless --stop-endpoints."""
    from dockyard.emulator.process import stop

    stopped = stop(state_dir)
    if stop_endpoints:
        from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers
        from dockyard.emulator.settings import EmulatorSettings

        settings = EmulatorSettings() if state_dir is None else EmulatorSettings(state_dir=state_dir)
        remove_fleet_containers(settings.state_dir)
    if stopped is None:
        console.print("no emulator was running")
    else:
        console.print(f"emulator stopped (pid {stopped.pid})")


@emulator_app.command("status")
@reports_errors
def status_command(
    state_dir: Path | None = STATE_DIR_OPTION,
    output: str = typer.Option("table", "--output", "-o", help="table or json"),
) -> None:
    """Whether an emulator runs, and where. Exits 1 when none does."""
    from dockyard.emulator.process import holdings, status

    found = status(state_dir)
    held = holdings(found.url) if found is not None and found.ready else {}
    if output == "json":
        console.print_json(json.dumps({**found.as_dict(), "services": held} if found else {"running": False}))
    elif found is None:
        console.print("no emulator is running (start one with `dockyard emulator up --detach`)")
    else:
        console.print(f"emulator running at {found.url} (pid {found.pid}, state {found.state_dir})")
        for service, counts in held.items():
            if isinstance(counts, dict):
                shown = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in counts.items())
                console.print(f"  {service}: {shown}")
    if found is None:
        raise typer.Exit(1)


@emulator_app.command("console")
@reports_errors
def console_link(state_dir: Path | None = STATE_DIR_OPTION) -> None:
    """The console's login link (it carries a token derived from the emulator's secret)."""
    from dockyard.emulator.process import status
    from dockyard.emulator.security import local_credentials
    from dockyard.emulator.settings import EmulatorSettings

    settings = EmulatorSettings() if state_dir is None else EmulatorSettings(state_dir=state_dir)
    running = status(settings.state_dir)
    url = running.url if running is not None else settings.url
    print(f"{url}/console/?token={local_credentials(settings.state_dir, create=True).console_token}")
