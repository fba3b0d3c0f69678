"""The errors the dockyard tool reports to its user (the inference server has its own, in serving/).

Each is one clear sentence that says what went wrong and what to do; the CLI prints it on one line,
without a traceback (unless --debug), and exits with the class's code: 2 for bad input (usage,
project file), 1 for a failure of the work itself. Third-party exceptions (docker SDK, botocore) are
translated into these at one boundary each.
"""

from __future__ import annotations

from typing import ClassVar


class DockyardError(Exception):
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(DockyardError):
    """The user asked for something that cannot be done as asked (arguments, files)."""

    exit_code = 2


class ConfigError(UsageError):
    """dockyard.toml is missing, malformed or incomplete; the message names the file and key."""


class EngineUnavailable(DockyardError):
    """The Docker engine cannot be reached."""


class BuildError(DockyardError):
    """An image build failed; the message names the step and ends with its last output lines."""


class ArchiveError(DockyardError):
    """A model archive is unsafe or unreadable; nothing was written."""


class RegistryError(DockyardError):
    """A push or pull to or from an image registry failed."""


class ContainerError(DockyardError):
    """A container did not start or did not behave as SageMaker requires."""
