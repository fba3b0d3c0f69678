"""``dockyard logs ENDPOINT [--follow]``: the endpoint's container logs, each line with its instance."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.common import reports_errors
from dockyard.cli.target import EmulatorUrlOption, ProfileOption, RegionOption, TargetArgs, TargetOption


def register(app: typer.Typer) -> None:
    app.command("logs")(logs)


@reports_errors
def logs(
    endpoint_name: Annotated[str, typer.Argument(metavar="ENDPOINT", help="The endpoint's name.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C stops).")
    ] = False,
    target: TargetOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    emulator_url: EmulatorUrlOption = None,
) -> None:
    """Print the endpoint's logs (local: the emulator's files; aws: CloudWatch Logs)."""
    from dockyard.lifecycle.logs import logs as endpoint_logs

    for line in endpoint_logs(
        endpoint_name, follow=follow, **TargetArgs(target, region, profile, None, emulator_url).without_role()
    ):
        typer.echo(f"{line.source} | {line.message}")
