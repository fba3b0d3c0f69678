"""``dockyard build``: the project's image, built through the Docker engine with each step's time."""

from __future__ import annotations

from pathlib import Path

import typer

from dockyard.cli.common import console, err_console, reports_errors


@reports_errors
def build(
    tag: list[str] = typer.Option(  # noqa: B008 (typer declares options as defaults)
        [], "--tag", "-t", help="Tag for the image (repeatable; default: NAME:latest)."
    ),
    base_image: str | None = typer.Option(
        None, "--base-image", help="Base image (default: base_image in dockyard.toml)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Build every step again, ignoring the cache."),
    network: str | None = typer.Option(
        None, "--network", help="Network for RUN steps, e.g. host (default: network_mode in dockyard.toml)."
    ),
    project_dir: Path = typer.Option(  # noqa: B008
        Path("."), "--project-dir", "-C", help="Directory holding dockyard.toml.", file_okay=False
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print every step's output."),
    print_dockerfile: bool = typer.Option(
        False, "--print-dockerfile", help="Print the Dockerfile that would be built, and stop."
    ),
) -> None:
    """Build the project's image (rendered Dockerfile, or the project's own) and tag it."""
    from rich.markup import escape

    from dockyard.config import load_config
    from dockyard.image.builder import RichProgress
    from dockyard.image.project import build_project, render_project

    config = load_config(project_dir.resolve())
    if print_dockerfile:
        typer.echo(render_project(config, base_image), nl=False)
        return

    def warn(message: str) -> None:
        err_console.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)

    source = config.project.dockerfile or f"the Dockerfile rendered from {config.root.name}/dockyard.toml"
    console.print(
        f"Building {config.project.name} from {source}", highlight=False, soft_wrap=True, markup=False
    )
    with RichProgress(console, verbose=verbose) as progress:
        result = build_project(
            config,
            tags=tag,
            base_image=base_image,
            no_cache=no_cache,
            network_mode=network,
            progress=progress,
            warn=warn,
        )
    image = result.image
    cached = sum(step.cached for step in image.steps)
    console.print(
        f"Built {image.id} in {image.seconds:.1f} s ({cached} of {len(image.steps)} steps cached), "
        f"{image.size / 1e6:.1f} MB",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    for name in image.tags:
        console.print(f"Tagged {name}", highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    app.command("build")(build)
