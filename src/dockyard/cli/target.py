"""What the deploy-lifecycle commands share: the target options, ``--output``, and printing calls."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape

from dockyard.cli.common import console

if TYPE_CHECKING:
    from dockyard.lifecycle.calls import Call

R = TypeVar("R")


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


_TARGET_OPTIONS = {
    "target": TargetOption,
    "region": RegionOption,
    "profile": ProfileOption,
    "role": RoleOption,
    "emulator_url": EmulatorUrlOption,
}


def with_target(*, role: bool = False) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give a command the target options (--target, --region, --profile, --emulator-url, and --role
    when ``role``); the command receives them as one value, its ``target: TargetOptions`` parameter,
    which the lifecycle checks and resolves."""
    names = [name for name in _TARGET_OPTIONS if role or name != "role"]

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(command, eval_str=True)
        own = [parameter for parameter in signature.parameters.values() if parameter.name != "target"]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_TARGET_OPTIONS[name]
            )
            for name in names
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            from dockyard.lifecycle.target import TargetOptions

            options = TargetOptions(**{name: kwargs.pop(name, None) for name in names})
            return command(*args, target=options, **kwargs)

        parameters = [*own, *added]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        return wrapper

    return decorate


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
