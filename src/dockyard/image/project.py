"""``dockyard build`` as a function: a project's image, from its rendered or its own Dockerfile."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.config import CONFIG_FILE, ProjectConfig
from dockyard.errors import ConfigError, UsageError
from dockyard.image.builder import (
    BuiltImage,
    ImageBuilder,
    Progress,
    architecture_warning,
    normalize_architecture,
    platform_architecture,
)
from dockyard.image.context import assemble, user_dockerfile
from dockyard.image.user_image import review

# Docker's reference grammar, simplified: [host[:port]/]path[:tag], lowercase path components.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = re.compile(
    rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?"
)
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?")


@dataclass(frozen=True, slots=True)
class ProjectBuild:
    image: BuiltImage
    dockerfile: str  # the Dockerfile's text
    own_dockerfile: bool
    warnings: tuple[str, ...]


def default_tag(config: ProjectConfig) -> str:
    return f"{config.project.name.lower()}:latest"


def check_tags(tags: Sequence[str]) -> None:
    for tag in tags:
        # A bare host:port/path must not pass as path:tag, hence the whole-string match.
        if not _TAG.fullmatch(tag):
            raise UsageError(
                f"--tag {tag!r} is not a valid image reference; expected [REGISTRY/]NAME[:TAG] "
                "with a lowercase NAME, for example iris:1 or 127.0.0.1:5000/team/iris:1"
            )


def check_platform(config: ProjectConfig) -> str:
    platform = config.build.platform
    if not _PLATFORM.fullmatch(platform):
        raise ConfigError(
            f"{config.root / CONFIG_FILE}: [build] platform: expected OS/ARCH such as linux/amd64, "
            f"got {platform!r}"
        )
    return platform


def render_project(config: ProjectConfig, base_image: str | None = None) -> str:
    """The Dockerfile ``build_project`` would build, without an engine."""
    if config.project.dockerfile is not None:
        return config.path(user_dockerfile(config)).read_text()
    with tempfile.TemporaryDirectory(prefix="dockyard-context-") as folder:
        return (assemble(config, Path(folder), base_image).directory / "Dockerfile").read_text()


def build_project(
    config: ProjectConfig,
    *,
    tags: Sequence[str] = (),
    base_image: str | None = None,
    no_cache: bool = False,
    network_mode: str | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] = lambda _message: None,
) -> ProjectBuild:
    """Build the project's image, tag it, and return it with the warnings (also sent to ``warn``).

    Everything about the project is checked before the engine is asked for anything.
    """
    platform = check_platform(config)
    tags = list(tags) or [default_tag(config)]
    check_tags(tags)
    warnings: list[str] = []

    def warning(message: str) -> None:
        warnings.append(message)
        warn(message)

    def run(
        builder: ImageBuilder, context: Path, dockerfile: str, discard_stage: str | None = None
    ) -> BuiltImage:
        mismatch = architecture_warning(builder.architecture(), platform)
        if mismatch:
            warning(mismatch)
        built = builder.build(
            context,
            tags,
            dockerfile=dockerfile,
            no_cache=no_cache,
            network_mode=network_mode or config.build.network_mode,
            platform=platform,
            progress=progress,
            discard_stage=discard_stage,
        )
        # An engine without emulation may build from a local base image of another architecture.
        architecture = normalize_architecture(str(builder.inspect(built.id).get("Architecture", "")))
        if architecture != platform_architecture(platform):
            warning(f"{tags[0]} is built for {architecture}, not for the target platform {platform}")
        return built

    if config.project.dockerfile is not None:
        if base_image is not None:
            raise UsageError(
                f"--base-image applies to the Dockerfile dockyard renders; {config.project.name} builds its "
                f"own ({config.project.dockerfile}), so set the base image in its FROM line"
            )
        dockerfile = user_dockerfile(config)
        text = config.path(dockerfile).read_text()
        with ImageBuilder() as builder:
            built = run(builder, config.root, dockerfile)
            verdict = review(
                tags[0],
                builder.inspect(built.id),
                lambda name, path: builder.has_executable(built.id, name, path),
            )
        for message in verdict.warnings:
            warning(message)
        return ProjectBuild(built, text, own_dockerfile=True, warnings=tuple(warnings))

    with tempfile.TemporaryDirectory(prefix="dockyard-context-") as folder:
        context = assemble(config, Path(folder), base_image)
        for note in context.notes:
            warning(note)
        text = (context.directory / "Dockerfile").read_text()
        # The packages stage was given pip.conf (an index URL may hold a token): none of its images stays.
        secrets = "packages" if context.spec.pip_config else None
        with ImageBuilder() as builder:
            built = run(builder, context.directory, "Dockerfile", secrets)
    return ProjectBuild(built, text, own_dockerfile=False, warnings=tuple(warnings))
