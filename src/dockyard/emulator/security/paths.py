"""Which host files ``file://`` model data may come from: only under the allowed roots.

A CreateModel request chooses the path, so without this check any caller could copy any directory of
the user's (``~/.ssh``) into a container. Allowed: the emulator's state directory, the project it was
started from, and directories given with ``--allow-path``. Symbolic links are resolved before the check,
so a link inside an allowed root cannot point out of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

ALLOW_PATH_FLAG = "--allow-path"
ALLOW_PATHS_ENV = "DOCKYARD_EMULATOR_ALLOW_PATHS"


class PathNotAllowed(Exception):
    """``message`` says which path was refused and the setting that would allow it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def checked_host_path(path: Path, roots: Iterable[Path]) -> Path:
    """``path`` resolved (symlinks followed); raise :class:`PathNotAllowed` unless it lies under one of
    ``roots`` (themselves resolved). A missing path under a root is returned for the caller to report."""
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        # Still checked against the roots (links on the way resolved), so that a caller learns nothing
        # of paths outside them, not even whether they exist; the caller reports a missing one.
        resolved = path.resolve(strict=False)
    except (OSError, RuntimeError):
        raise PathNotAllowed(f"{path} cannot be resolved on this machine") from None
    allowed = [_resolved(root) for root in roots]
    if any(root is not None and resolved.is_relative_to(root) for root in allowed):
        return resolved
    shown = ", ".join(str(root) for root in allowed if root is not None) or "(none)"
    return _refuse(path, resolved, shown)


def _refuse(path: Path, resolved: Path, shown: str) -> Path:
    target = f"{path} (which resolves to {resolved})" if resolved != path else str(path)
    raise PathNotAllowed(
        f"{target} is outside the directories the local target may read model data from ({shown}); "
        f"start the emulator with {ALLOW_PATH_FLAG} DIR (or {ALLOW_PATHS_ENV}) to allow another directory"
    )


def _resolved(root: Path) -> Path | None:
    try:
        return root.resolve(strict=True)
    except (OSError, RuntimeError):
        return None


def copy_checked_tree(source: Path, destination: Path, roots: Iterable[Path]) -> None:
    """Copy the directory ``source`` to ``destination``, every file checked as :func:`checked_host_path`
    checks: a link inside an allowed directory may not bring in a file from outside the roots."""
    allowed = tuple(roots)

    def copy(src: str, dst: str) -> object:
        return shutil.copy2(checked_host_path(Path(src), allowed), dst)

    shutil.copytree(source, destination, symlinks=False, copy_function=copy)
