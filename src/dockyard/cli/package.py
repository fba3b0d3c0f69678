"""``dockyard package``: write the model directory as a deterministic ``model.tar.gz``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.common import console, reports_errors


def register(app: typer.Typer) -> None:
    app.command("package")(package)


def _configured_model_dir() -> Path:
    from dockyard.config import CONFIG_FILE, load_config
    from dockyard.errors import UsageError

    if not (Path.cwd() / CONFIG_FILE).is_file():
        raise UsageError(
            f"no MODEL_DIR given and no {CONFIG_FILE} in {Path.cwd()}; "
            "pass the model directory (dockyard package MODEL_DIR)"
        )
    config = load_config()
    return config.path(config.project.model)


@reports_errors
def package(
    model_dir: Annotated[
        Path | None,
        typer.Argument(
            metavar="MODEL_DIR", help="The model directory.", show_default="[project] model in dockyard.toml"
        ),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The archive to write.")] = Path(
        "model.tar.gz"
    ),
) -> None:
    """Pack the model directory into model.tar.gz (same files → same bytes)."""
    from dockyard.archive import human_size, pack

    result = pack(model_dir if model_dir is not None else _configured_model_dir(), output)
    console.print(f"Wrote {result.path}", highlight=False)
    console.print(f"  size    {human_size(result.size)} ({result.size} bytes)", highlight=False)
    console.print(f"  sha256  {result.sha256}", highlight=False)
    console.print(f"  files   {result.files}", highlight=False)
