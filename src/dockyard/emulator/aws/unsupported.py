"""Refusing input members the local target does not act on, instead of accepting and ignoring them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from dockyard.emulator.errors import ServiceError, ValidationException


def refuse_unsupported(
    operation: str,
    params: Mapping[str, Any],
    supported: Collection[str],
    error: type[ServiceError] = ValidationException,
) -> None:
    """Raise ``error`` naming every member of ``params`` outside ``supported`` (None values ignored)."""
    unsupported = sorted(
        name for name, value in params.items() if value is not None and name not in supported
    )
    if unsupported:
        names = ", ".join(unsupported)
        raise error(f"The local target (dockyard emulator) does not support {names} in {operation} yet.")
