"""The ``dockyard`` command."""

from __future__ import annotations

import typer

from dockyard.cli import build, check, deploy, emulator, init, package, push, run, web_console
from dockyard.cli.common import console, reports_errors

app = typer.Typer(
    name="dockyard",
    help="Take a trained model to a SageMaker-style endpoint, and run the whole loop locally first.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def serve(ctx: typer.Context) -> None:
    """Serve a model behind SageMaker's hosting contract (all options: dockyard serve --help)."""
    from dockyard.serving.cli import main

    # The serving options are declared once, in dockyard.serving.settings, for this command and for the
    # image's own `serve`; here the default address is loopback, since this runs on a developer's machine.
    main(ctx.args, prog="dockyard serve", defaults={"host": "127.0.0.1"})


@app.command()
@reports_errors
def demo(
    base_image: str | None = typer.Option(
        None, "--base-image", envvar="DOCKYARD_DEMO_BASE_IMAGE", help="Base image (default python:3.11-slim)."
    ),
    network_mode: str | None = typer.Option(
        None, "--network-mode", envvar="DOCKYARD_DEMO_NETWORK_MODE", help='Build network ("host" here).'
    ),
) -> None:
    """Train a model, build its image, deploy it to the local SageMaker, invoke it, print the answer."""
    from dockyard.cli.demo import run_demo

    run_demo(console, base_image=base_image, network_mode=network_mode)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.", envvar="DOCKYARD_DEBUG"),
) -> None:
    """dockyard: model → image → endpoint."""
    if debug:
        import os

        os.environ["DOCKYARD_DEBUG"] = "1"


# Each command group lives in its own module with a register(app); they import their heavy
# dependencies inside the commands, so that `dockyard --help` stays fast.
for _module in (init, package, build, run, check, push, emulator, deploy, web_console):
    _module.register(app)
