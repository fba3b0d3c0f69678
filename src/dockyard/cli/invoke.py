"""``dockyard invoke ENDPOINT --data FILE|-``: the prediction's bytes, raw, on stdout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.common import reports_errors
from dockyard.cli.target import (
    Output,
    print_json,
    with_target,
)
from dockyard.errors import UsageError
from dockyard.lifecycle.target import TargetOptions


def register(app: typer.Typer) -> None:
    app.command("invoke")(invoke)


def read_data(data: str) -> bytes:
    if data == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(data).read_bytes()
    except OSError as exc:
        raise UsageError(f"--data {data}: cannot read it ({exc.strerror})") from None


def guess_content_type(data: str) -> str:
    from dockyard.config import CONTENT_TYPES

    return (
        CONTENT_TYPES.get(Path(data).suffix.lower(), "application/json")
        if data != "-"
        else "application/json"
    )


@reports_errors
@with_target()
def invoke(
    endpoint_name: Annotated[str, typer.Argument(metavar="ENDPOINT", help="The endpoint's name.")],
    data: Annotated[
        str, typer.Option("--data", "-d", metavar="FILE|-", help="The request body: a file, or - for stdin.")
    ],
    content_type: Annotated[
        str | None,
        typer.Option(
            "--content-type", help="The body's type (default: from the file's extension, else JSON)."
        ),
    ] = None,
    accept: Annotated[str | None, typer.Option("--accept", help="The answer's type to ask for.")] = None,
    variant: Annotated[
        str | None, typer.Option("--variant", help="Send it to this production variant.")
    ] = None,
    custom_attributes: Annotated[
        str | None,
        typer.Option("--custom-attributes", help="X-Amzn-SageMaker-Custom-Attributes, passed verbatim."),
    ] = None,
    output: Annotated[
        Output | None,
        typer.Option("--output", "-o", help="json: the answer with its headers (default: the raw body)."),
    ] = None,
    *,
    target: TargetOptions,
) -> None:
    """Send a request to an endpoint and print the prediction as the model answered it."""
    from dockyard.lifecycle.invoke import invoke as invoke_endpoint

    result = invoke_endpoint(
        endpoint_name,
        read_data(data),
        content_type=content_type or guess_content_type(data),
        accept=accept,
        variant=variant,
        custom_attributes=custom_attributes,
        target=target,
    )
    if output is Output.json:
        print_json(result.as_dict())
        return
    sys.stdout.buffer.write(result.body)
    sys.stdout.buffer.flush()
