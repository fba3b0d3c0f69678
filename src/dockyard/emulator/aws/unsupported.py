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
    """Raise ``error`` naming every member of ``params`` outside ``supported``. A member left at its
    default (None, false, empty) asks for nothing and passes."""
    unsupported = sorted(name for name, value in params.items() if name not in supported and given(value))
    if unsupported:
        names = ", ".join(unsupported)
        raise error(f"The local target (dockyard emulator) does not support {names} in {operation} yet.")


def given(value: Any) -> bool:
    """Whether a member asks for something: None, false and an empty list or map are its defaults."""
    return not (value is None or value is False or (isinstance(value, list | dict) and not value))
