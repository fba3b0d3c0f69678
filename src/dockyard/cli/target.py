"""What the deploy-lifecycle commands share: the target options, ``--output``, and printing calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from dockyard.cli.common import console

if TYPE_CHECKING:
    from dockyard.lifecycle.calls import Call


class Output(StrEnum):
    table = "table"
    json = "json"


TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        help="local (the emulator, started when not running) or aws (default: $DOCKYARD_TARGET, else local).",
        show_default=False,
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option("--region", help="AWS region (default: the AWS configuration's; local: us-east-1)."),
]
ProfileOption = Annotated[str | None, typer.Option("--profile", help="AWS profile from ~/.aws/config (aws).")]
RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role", help="SageMaker execution role ARN for CreateModel (aws; default $DOCKYARD_ROLE_ARN)."
    ),
]
EmulatorUrlOption = Annotated[
    str | None,
    typer.Option("--emulator-url", help="A running emulator's URL (local; default: $DOCKYARD_EMULATOR_URL)."),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the boto3 calls it would make; make none that change anything."),
]
OutputOption = Annotated[Output, typer.Option("--output", "-o", help="table for people, json for scripts.")]


@dataclass(frozen=True)
class TargetArgs:
    target: str | None
    region: str | None
    profile: str | None
    role: str | None = None
    emulator_url: str | None = None

    def kwargs(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "region": self.region,
            "profile": self.profile,
            "role": self.role,
            "emulator_url": self.emulator_url,
        }

    def without_role(self) -> dict[str, Any]:
        return {key: value for key, value in self.kwargs().items() if key != "role"}


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True, markup=False)


def print_calls(calls: list[Call], notes: list[str]) -> None:
    """A dry run's plan as boto3 code: each call, marked as made (reads) or held back (changes)."""
    for call in calls:
        mark = "sent" if call.sent else "not sent: dry run"
        console.print(f"{escape(call.python())}  [dim]# {mark}[/]", highlight=False, soft_wrap=True)
    for note in notes:
        console.print(f"[dim]# would also {escape(note)}[/]", highlight=False, soft_wrap=True)
