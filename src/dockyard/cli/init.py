"""``dockyard init``: scaffold a project (dockyard.toml, a handler template, a sample request)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.common import console, reports_errors


def register(app: typer.Typer) -> None:
    app.command("init")(init)


@reports_errors
def init(
    directory: Annotated[
        Path, typer.Argument(help="Project directory (created if missing).", show_default="current directory")
    ] = Path("."),
    name: Annotated[
        str | None, typer.Option("--name", help="Project name (default: the directory's name, made valid).")
    ] = None,
    flavor: Annotated[
        str | None,
        typer.Option(
            "--flavor",
            help="Serve the model with a built-in loader: sklearn, xgboost, lightgbm, onnx or torchscript.",
        ),
    ] = None,
    handler: Annotated[
        bool,
        typer.Option("--handler", help="Serve through your own inference.py (the default without --flavor)."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
) -> None:
    """Create dockyard.toml, an inference.py handler template, a sample request and a model/ directory."""
    from dockyard.scaffold import MODEL_DIR, init_project

    scaffold, written = init_project(directory, name=name, flavor=flavor, handler=handler, force=force)
    kind = f"the {scaffold.flavor} flavor" if scaffold.flavor else f"the handler {scaffold.handler_file}"
    lines = [f"Created project {scaffold.name} ({kind}) in {directory.resolve()}:"]
    lines += [f"  {path}" for path in written]
    steps = [f"cd {directory}"] if directory.resolve() != Path.cwd().resolve() else []
    steps += [
        f"put the model in {MODEL_DIR}/ (see {MODEL_DIR}/README.md) and pin requirements.txt",
        "dockyard build",
        f"dockyard run {scaffold.name.lower()}:latest",  # the tag `dockyard build` gives by default
    ]
    lines += ["Next:", *(f"  {number}. {step}" for number, step in enumerate(steps, 1))]
    # Paths may hold brackets: print them as they are, not as Rich markup.
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
