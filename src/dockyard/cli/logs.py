"""``dockyard logs ENDPOINT [--follow]``: the endpoint's container logs, each line with its instance."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.common import reports_errors
from dockyard.cli.target import with_target
from dockyard.lifecycle.target import TargetOptions


def register(app: typer.Typer) -> None:
    app.command("logs")(logs)


@reports_errors
@with_target()
def logs(
    endpoint_name: Annotated[str, typer.Argument(metavar="ENDPOINT", help="The endpoint's name.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C stops).")
    ] = False,
    *,
    target: TargetOptions,
) -> None:
    """Print the endpoint's logs (local: the emulator's files; aws: CloudWatch Logs)."""
    from dockyard.lifecycle.logs import logs as endpoint_logs

    for line in endpoint_logs(endpoint_name, follow=follow, target=target):
        typer.echo(f"{line.source} | {line.message}")
