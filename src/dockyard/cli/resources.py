"""``dockyard endpoints|models|configs|packages list|describe|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.common import console, reports_errors
from dockyard.cli.target import (
    Output,
    OutputOption,
    print_json,
    say,
    with_target,
)
from dockyard.lifecycle.target import TargetOptions

NAME_HELP = "The resource's name (a package version: its ARN, or GROUP/VERSION)."
_HELP = {
    "endpoints": "Endpoints: list, describe, delete.",
    "models": "Models: list, describe, delete.",
    "configs": "Endpoint configs: list, describe, delete.",
    "packages": "Model registry: package groups and versions; list, describe, delete, approve.",
}


def register(app: typer.Typer) -> None:
    from dockyard.cli.register import approve

    for kind, help_text in _HELP.items():
        group = typer.Typer(name=kind, help=help_text, no_args_is_help=True)
        _add_commands(group, kind)
        if kind == "packages":
            group.command("approve")(approve)
        app.add_typer(group)


def _add_commands(group: typer.Typer, kind: str) -> None:
    noun = kind.rstrip("s") if kind != "packages" else "package version (ARN or GROUP/VERSION)"

    @group.command("list")
    @reports_errors
    @with_target()
    def list_command(
        name_contains: Annotated[
            str | None, typer.Option("--name-contains", help="Only names containing this.")
        ] = None,
        group_name: Annotated[
            str | None,
            typer.Option("--group", help="packages: list this group's versions (default: the groups)."),
        ] = None,
        output: OutputOption = Output.table,
        *,
        target: TargetOptions,
    ) -> None:
        from rich.table import Table

        from dockyard.lifecycle.resources import list_resources

        listing = list_resources(
            kind,
            name_contains=name_contains,
            group=group_name,
            target=target,
        )
        if output is Output.json:
            print_json(listing.items)
            return
        if not listing.items:
            say(f"no {kind}")
            return
        table = Table(*listing.columns, box=None, header_style="bold")
        for item in listing.items:
            table.add_row(*(str(item.get(column, "")) for column in listing.columns))
        console.print(table, highlight=False)

    list_command.__doc__ = f"List the {kind}, newest first."

    @group.command("describe")
    @reports_errors
    @with_target()
    def describe_command(
        name: Annotated[str, typer.Argument(metavar="NAME", help=NAME_HELP)],
        output: OutputOption = Output.table,
        *,
        target: TargetOptions,
    ) -> None:
        from dockyard.lifecycle.resources import describe_resource

        resource = describe_resource(kind, name, target=target)
        if output is Output.json:
            print_json(resource.description)
            return
        for key, value in resource.description.items():
            say(f"{key}: {value}")

    describe_command.__doc__ = f"Show one {noun} as SageMaker describes it."

    @group.command("delete")
    @reports_errors
    @with_target()
    def delete_command(
        name: Annotated[str, typer.Argument(metavar="NAME", help=NAME_HELP)],
        wait: Annotated[bool, typer.Option("--wait", help="endpoints: return once it is gone.")] = False,
        *,
        target: TargetOptions,
    ) -> None:
        from dockyard.lifecycle.resources import delete_resource

        deleted = delete_resource(kind, name, wait=wait, target=target)
        say(f"deleted {noun.split(' ')[0]} {deleted.name}")

    delete_command.__doc__ = f"Delete one {noun}."
