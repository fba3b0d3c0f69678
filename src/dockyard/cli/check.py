"""``dockyard check IMAGE``: SageMaker's hosting contract, checked on any image, one line per check."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dockyard.cli.common import console, reports_errors
from dockyard.cli.run import (
    EnvOption,
    InstanceTypeOption,
    ModelOption,
    ProjectDirOption,
    StartupTimeoutOption,
    parse_env,
    project_defaults,
)

if TYPE_CHECKING:
    from dockyard.image.check_report import CheckResult


class Output(StrEnum):
    TEXT = "text"
    JSON = "json"


STYLES = {"pass": "green", "fail": "bold red", "warn": "yellow", "info": "cyan", "skip": "dim"}


def _print_result(result: CheckResult) -> None:
    from rich.markup import escape

    status = result.status.value
    console.print(
        f"[{STYLES[status]}]{status:<4}[/]  {escape(result.title):<34} {escape(result.message)}",
        highlight=False,
        soft_wrap=True,
    )


@reports_errors
def check(
    image: Annotated[
        str, typer.Argument(help="Image to check (name[:tag] or id); any image, not only dockyard's.")
    ],
    model: ModelOption = None,
    sample: Annotated[
        Path | None,
        typer.Option(
            "--sample",
            help="Request body for POST /invocations (default: dockyard.toml's sample_request).",
            dir_okay=False,
        ),
    ] = None,
    content_type: Annotated[
        str | None,
        typer.Option("--content-type", help="Content type of --sample (default: from its extension)."),
    ] = None,
    env: EnvOption = None,
    instance_type: InstanceTypeOption = None,
    startup_timeout: StartupTimeoutOption = 120.0,
    output: Annotated[
        Output, typer.Option("--output", "-o", help="text (one line per check) or json.")
    ] = Output.TEXT,
    project_dir: ProjectDirOption = Path("."),
) -> None:
    """Start IMAGE as SageMaker does and check it against the hosting contract (exit 1: a required check
    failed)."""
    from dockyard.image.check import check_image
    from dockyard.image.check_report import CheckOptions, Sample

    defaults = project_defaults(project_dir)
    sample_path = sample or defaults.sample
    sample_type = content_type or (defaults.sample_type if sample is None else None)
    options = CheckOptions(
        model=model or defaults.model,
        sample=Sample.from_file(sample_path, sample_type) if sample_path else None,
        environment={**defaults.environment, **parse_env(env)},
        instance_type=instance_type or defaults.instance_type,
        startup_timeout=startup_timeout,
    )
    if output is Output.TEXT:
        console.print(
            f"Checking {image} against SageMaker's hosting contract", highlight=False, soft_wrap=True
        )
    report = check_image(image, options, on_result=_print_result if output is Output.TEXT else None)
    if output is Output.JSON:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        failed = [
            result.title for result in report.results if result.required and result.status.value == "fail"
        ]
        if failed:
            console.print(
                f"[bold red]{len(failed)} required check(s) failed:[/] {', '.join(failed)}", highlight=False
            )
        else:
            console.print("[green]every required check passed[/]", highlight=False)
    if not report.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
