"""What every dockyard command shares: consoles, and turning errors into one line and an exit code."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from dockyard.errors import DockyardError

P = ParamSpec("P")
R = TypeVar("R")

# Rich drops colour and live displays by itself when the stream is not a terminal.
console = Console()
err_console = Console(stderr=True)


def debug_enabled() -> bool:
    return os.environ.get("DOCKYARD_DEBUG", "") not in ("", "0")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a DockyardError as one line on stderr and exit with its code (a traceback with --debug)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DockyardError as exc:
            if debug_enabled():
                raise
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)

    return wrapper
