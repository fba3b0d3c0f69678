"""``dockyard deploy``: a project to a running endpoint, with live progress; and the lifecycle's commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from dockyard.cli.common import err_console, reports_errors
from dockyard.cli.target import DryRunOption, Output, OutputOption, print_calls, print_json, say, with_target
from dockyard.lifecycle.target import TargetOptions

if TYPE_CHECKING:
    from rich.live import Live

    from dockyard.config import ProjectConfig
    from dockyard.lifecycle.deploy import EndpointState


def register(app: typer.Typer) -> None:
    """Every command of the deploy lifecycle: register, deploy, invoke, the resource groups, logs."""
    from dockyard.cli import invoke, logs, resources
    from dockyard.cli import register as register_cli

    register_cli.register(app)
    app.command("deploy")(deploy)
    invoke.register(app)
    resources.register(app)
    logs.register(app)


class EndpointProgress:
    """The endpoint's status and per-variant instance counts: a live table on a terminal, else one
    plain line per change."""

    def __init__(self, out: Console, before: Callable[[], None] = lambda: None) -> None:
        self.out = out
        self.before = before  # ends the display that came before this one (the transfers')
        self.live: Live | None = None
        self.last = ""

    def __enter__(self) -> EndpointProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live is not None:
            self.live.stop()

    def __call__(self, state: EndpointState) -> None:
        line = state.line()
        if line == self.last:
            return
        self.last = line
        self.before()
        if not self.out.is_terminal:
            self.out.print(line, highlight=False, soft_wrap=True, markup=False)
            return
        from rich.live import Live
        from rich.table import Table

        table = Table(title=f"{escape(state.name)}: [bold]{escape(state.status)}[/]", title_justify="left")
        for column in ("variant", "instances (current/desired)", "weight", "variant status"):
            table.add_column(column)
        for variant in state.variants:
            current = "-" if variant.current_instances is None else str(variant.current_instances)
            desired = "-" if variant.desired_instances is None else str(variant.desired_instances)
            weight = "-" if variant.weight is None else f"{variant.weight:g}"
            table.add_row(escape(variant.name), f"{current}/{desired}", weight, escape(variant.status or "-"))
        if self.live is None:
            self.live = Live(table, console=self.out, refresh_per_second=4)
            self.live.start()
        else:
            self.live.update(table)


@reports_errors
@with_target(role=True)
def deploy(
    project_dir: Annotated[
        Path, typer.Option("--project-dir", "-C", file_okay=False, help="Directory holding dockyard.toml.")
    ] = Path("."),
    endpoint_name: Annotated[
        str | None, typer.Option("--endpoint-name", "-n", help="Endpoint name (default: the project's name).")
    ] = None,
    instance_type: Annotated[
        str | None, typer.Option("--instance-type", help="ml.* instance type (default: dockyard.toml's).")
    ] = None,
    instance_count: Annotated[
        int, typer.Option("--instance-count", min=1, help="Instances per variant.")
    ] = 1,
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            metavar="NAME=WEIGHT[@MODEL]",
            help="A production variant (repeatable); without @MODEL it serves the model deployed now.",
        ),
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="Deploy this local image instead of building the project.")
    ] = None,
    no_build: Annotated[
        bool,
        typer.Option("--no-build", help="Use the project's image as it is (NAME:latest), without building."),
    ] = False,
    model_package: Annotated[
        str | None,
        typer.Option(
            "--model-package", help="Deploy a model-registry version (ARN or GROUP/VERSION) instead."
        ),
    ] = None,
    bucket: Annotated[
        str | None,
        typer.Option("--bucket", help="S3 bucket for model data (default dockyard-ACCOUNT-REGION)."),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry", help="local: also push the image here (it is tagged with its ECR URI either way)."
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the endpoint to be InService.")
    ] = True,
    smoke_test: Annotated[
        bool,
        typer.Option("--smoke-test/--no-smoke-test", help="Send the project's sample request when it is up."),
    ] = True,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for InService.")] = 1800,
    dry_run: DryRunOption = False,
    output: OutputOption = Output.table,
    *,
    target: TargetOptions,
) -> None:
    """Build if needed, register, create or update the endpoint, wait, and send the sample request."""
    from dockyard.lifecycle.deploy import deploy as deploy_project

    def warn(message: str) -> None:
        err_console.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)

    # Progress goes to stderr so that stdout stays the result (and clean JSON with --output json).
    from dockyard.cli.push import TransferBars

    with TransferBars(err_console) as transfers, EndpointProgress(err_console, transfers.close) as progress:
        result = deploy_project(
            project_dir,
            endpoint_name=endpoint_name,
            instance_type=instance_type,
            instance_count=instance_count,
            variants=variant or (),
            image=image,
            no_build=no_build,
            model_package=model_package,
            bucket=bucket,
            registry=registry,
            wait=wait,
            smoke_test=smoke_test,
            timeout=timeout,
            dry_run=dry_run,
            target=target,
            on_status=progress,
            builder=lambda config: _build(config, warn),
            on_push=transfers.on_push,
            on_upload=transfers.on_upload,
        )
    if output is Output.json:
        print_json(result.as_dict())
        return
    if result.dry_run:
        print_calls(result.calls, result.notes)
        say(f"dry run: the endpoint {result.endpoint_name} would be {result.action} (nothing was changed)")
        return
    if result.action == "up to date":
        say(f"{result.endpoint_name} is up to date ({result.config_name}, {result.status})")
    else:
        say(f"{result.endpoint_name} {result.action}: {result.status} (config {result.config_name})")
    say(f"model: {', '.join(result.models)}")
    if result.smoke is not None:
        say(f"sample request answered: {result.smoke.body.decode('utf-8', 'replace').strip()}")


def _build(config: ProjectConfig, warn: Callable[[str], None]) -> str:
    """The project's image, built with step progress (an unchanged project is all cache: same image)."""
    from dockyard.image.builder import RichProgress
    from dockyard.image.project import build_project

    with RichProgress(err_console) as progress:
        built = build_project(config, progress=progress, warn=warn)
    return built.image.id
