"""Checking a request's arrays against what the loaded model declares, before the model sees them.

A wrong feature count, a 3-D array or strings for a numeric model are the caller's mistake: they
answer 400 with the shape the model expects and the shape received, instead of whatever the library
raises from deep inside (a 500 with a C++ message at best).
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from typing import Any

from dockyard.serving.errors import BadRequest
from dockyard.serving.flavors.base import Array

NUMERIC_KINDS = "biuf"
_KINDS = {"U": "strings", "S": "bytes", "O": "Python objects", "c": "complex numbers", "M": "dates"}


def describe_shape(dims: Sequence[Any]) -> str:
    """``(rows, 4)``: a dimension the model leaves open (None, a symbolic name) is named, not numbered."""
    names = []
    for index, dim in enumerate(dims):
        if isinstance(dim, int):
            names.append(str(dim))
        else:
            names.append("rows" if index == 0 else str(dim or "any"))
    return f"({', '.join(names)}{',' if len(names) == 1 else ''})"


def check_rows(array: Array, model: str, features: int) -> None:
    """A 2-D array (rows x features) with the model's ``features`` columns."""
    if array.ndim == 2 and array.shape[1] == features:
        return
    raise BadRequest(
        f"the {model} model takes rows of {features} features, shape {describe_shape([None, features])}; "
        f"the request has shape {tuple(array.shape)}"
    )


def check_numeric(array: Array, model: str) -> None:
    if array.dtype.kind in NUMERIC_KINDS:
        return
    kind = _KINDS.get(array.dtype.kind, str(array.dtype))
    raise BadRequest(f"the {model} model takes numbers; the request has {kind} ({array.dtype})")


def raised_in(exc: BaseException, *module_paths: str) -> bool:
    """Whether ``exc`` was raised inside one of ``module_paths`` (e.g. ``sklearn/utils/validation.py``)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.replace("\\", "/").endswith(module_paths)
