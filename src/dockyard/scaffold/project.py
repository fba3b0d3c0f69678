"""Planning a new project (every file's content, pure) and writing it (all or nothing)."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.config import CONFIG_FILE, FLAVORS, NAME_PATTERN
from dockyard.errors import DockyardError, UsageError
from dockyard.scaffold.kits import (
    FLAVOR_ALIASES,
    HANDLER_FILE,
    KITS,
    MODEL_DIR,
    REQUIREMENTS_FILE,
    SAMPLE_FILE,
    SAMPLE_REQUEST,
)
from dockyard.scaffold.render import render_config, render_handler, render_model_readme, render_requirements


@dataclass(frozen=True)
class Scaffold:
    """A planned project: its name, its flavor (None for a handler project) and its files' contents."""

    name: str
    flavor: str | None
    handler_file: str  # inference.py, or inference.py.example (inactive) in a flavor project
    files: dict[str, str]  # relative path -> text, in the order they are written
    values: dict[str, Any]  # the [project] values dockyard.toml holds


def project_name(directory: Path) -> str:
    """The directory's name made to fit SageMaker's pattern (lower-case too, as Docker repositories are)."""
    text = unicodedata.normalize("NFKD", directory.resolve().name).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].rstrip("-")
    return name or "model"


def resolve_flavor(flavor: str | None, handler: bool) -> str | None:
    """The flavor's canonical name, or None for a handler project; UsageError for a bad choice."""
    if flavor is None:
        return None
    if handler:
        raise UsageError("choose --flavor (a built-in loader) or --handler (your own inference.py), not both")
    canonical = FLAVOR_ALIASES.get(flavor.strip().lower(), flavor.strip().lower())
    if canonical not in FLAVORS:
        raise UsageError(f"unknown flavor {flavor!r}; choose one of {', '.join(FLAVORS)}")
    return canonical


def plan(
    directory: Path, *, name: str | None = None, flavor: str | None = None, handler: bool = False
) -> Scaffold:
    """Every file of a new project in ``directory``, rendered; nothing is written."""
    flavor = resolve_flavor(flavor, handler)
    if name is None:
        name = project_name(directory)
    elif not re.fullmatch(NAME_PATTERN, name):
        raise UsageError(
            f"--name {name!r} does not fit SageMaker's names: letters, digits and single or repeated "
            "hyphens, starting and ending with a letter or digit, at most 63 characters"
        )
    kit = KITS[flavor]
    values: dict[str, Any] = {
        "name": name,
        "model": MODEL_DIR,
        "flavor": flavor,
        "handler": None if flavor else HANDLER_FILE,
        "python": "3.11",
        "requirements": [],
        "requirements_file": REQUIREMENTS_FILE,
        "system_packages": list(kit.system_packages),
        "base_image": "python:3.11-slim",
        "instance_type": "ml.m5.large",
        "sample_request": SAMPLE_FILE,
        "sample_content_type": None,
        "environment": {},
        "dockerfile": None,
    }
    handler_file = f"{HANDLER_FILE}.example" if flavor else HANDLER_FILE
    files = {
        CONFIG_FILE: render_config(values),
        handler_file: render_handler(name, flavor),
        SAMPLE_FILE: json.dumps(SAMPLE_REQUEST) + "\n",
        REQUIREMENTS_FILE: render_requirements(flavor),
        f"{MODEL_DIR}/README.md": render_model_readme(flavor),
    }
    return Scaffold(name=name, flavor=flavor, handler_file=handler_file, files=files, values=values)


def write(directory: Path, scaffold: Scaffold, *, force: bool = False) -> list[Path]:
    """Write the planned files under ``directory`` (created if missing); the paths written, in order.

    Every check runs before the first byte is written: a file where a directory must go, a directory
    where a file must go, and (without ``force``) any planned file that already exists.
    """
    try:
        return _write(directory, scaffold, force)
    except OSError as exc:
        raise DockyardError(f"cannot write {exc.filename or directory}: {exc.strerror}") from None


def _write(directory: Path, scaffold: Scaffold, force: bool) -> list[Path]:
    if directory.is_file():
        raise UsageError(f"{directory} is a file; give dockyard init a directory")
    targets = [directory / relative for relative in scaffold.files]
    for path in targets:
        if path.parent.is_file():
            raise UsageError(f"{path.parent} is a file; dockyard init needs a directory there")
        if path.is_dir():
            raise UsageError(f"{path} is a directory; dockyard init needs to write a file there")
    existing = [path for path in targets if path.exists() or path.is_symlink()]
    if existing and not force:
        names = ", ".join(str(path) for path in existing)
        raise UsageError(
            f"dockyard init would overwrite {names}; move them away or pass --force to replace them"
        )
    for path, text in zip(targets, scaffold.files.values(), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():  # replace the link itself, never the file it points to
            path.unlink()
        path.write_text(text, encoding="utf-8", newline="\n")
    return targets


def init_project(
    directory: Path,
    *,
    name: str | None = None,
    flavor: str | None = None,
    handler: bool = False,
    force: bool = False,
) -> tuple[Scaffold, list[Path]]:
    """Plan and write a new project: what ``dockyard init`` does."""
    scaffold = plan(directory, name=name, flavor=flavor, handler=handler)
    return scaffold, write(directory, scaffold, force=force)


# --- rendering -----------------------------------------------------------------------------------
