"""``dockyard register`` and ``dockyard packages approve``: models and model-registry versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.common import err_console, reports_errors
from dockyard.cli.target import DryRunOption, Output, OutputOption, print_calls, print_json, say, with_target
from dockyard.lifecycle.target import TargetOptions

ApprovalOption = Annotated[
    str,
    typer.Option("--approval-status", help="Approved, Rejected or PendingManualApproval."),
]


def register(app: typer.Typer) -> None:
    app.command("register")(register_model)


@reports_errors
@with_target(role=True)
def register_model(
    project_dir: Annotated[
        Path, typer.Option("--project-dir", "-C", file_okay=False, help="Directory holding dockyard.toml.")
    ] = Path("."),
    image: Annotated[str | None, typer.Option("--image", help="Local image (default: NAME:latest).")] = None,
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
    package_group: Annotated[
        str | None,
        typer.Option(
            "--package-group", help="Register a version in this model package group instead of a model."
        ),
    ] = None,
    approval_status: ApprovalOption = "PendingManualApproval",
    dry_run: DryRunOption = False,
    output: OutputOption = Output.table,
    *,
    target: TargetOptions,
) -> None:
    """Package and upload the model, push the image, and CreateModel (or a model package version)."""
    from dockyard.cli.push import TransferBars
    from dockyard.lifecycle.register import register as register_project

    with TransferBars(err_console) as transfers:
        result = register_project(
            project_dir,
            image=image,
            bucket=bucket,
            registry=registry,
            package_group=package_group,
            approval_status=approval_status,
            dry_run=dry_run,
            target=target,
            on_push=transfers.on_push,
            on_upload=transfers.on_upload,
        )
    if output is Output.json:
        print_json(result.as_dict())
        return
    if dry_run:
        print_calls(result.calls, result.notes)
    what = f"model {result.model_name}" if result.model_name else f"package version {result.package_arn}"
    state = (
        "would be registered" if dry_run and result.created else "registered" if result.created else "exists"
    )
    say(f"{what} {state} (unchanged content is reused)" if not result.created else f"{what} {state}")
    say(f"image: {result.image}")
    say(f"model data: {result.model_data_url}")


@reports_errors
@with_target()
def approve(
    package: Annotated[str, typer.Argument(help="The version: its ARN, or GROUP/VERSION (e.g. iris/3).")],
    approval_status: ApprovalOption = "Approved",
    description: Annotated[
        str | None, typer.Option("--description", help="Why (ApprovalDescription).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the call; do not make it.")] = False,
    output: OutputOption = Output.table,
    *,
    target: TargetOptions,
) -> None:
    """Set a model package version's approval status (Approved by default): it can then be deployed."""
    from dockyard.lifecycle.register import approve_package

    result = approve_package(
        package,
        approval_status=approval_status,
        description=description,
        dry_run=dry_run,
        target=target,
    )
    if output is Output.json:
        print_json({"package_arn": result.package_arn, "approval_status": result.approval_status})
        return
    if dry_run:
        print_calls(result.calls, [])
        return
    say(f"{result.package_arn}: {result.approval_status}")
