"""Shaping decoded request values into model input for the built-in flavors and batching.

``to_array`` accepts rows of numbers, one row, the ``{"instances": ...}`` / ``{"inputs": ...}``
envelopes, and the arrays that CSV, NPY and NPZ bodies decode to; anything else is a 400 that lists
the accepted shapes. ``wrapped`` tells whether the envelope was used, so the answer can mirror it.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import numpy as np

from dockyard.serving.errors import BadRequest

_SHAPES = (
    'accepted shapes: rows of numbers [[1, 2], [3, 4]], one row [1, 2], {"instances": rows}, '
    '{"inputs": rows} or {"inputs": {"name": array, ...}}, or a CSV, NPY or NPZ body'
)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bytes | bytearray | memoryview):
        return "raw bytes"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer outside the 64-bit range" if abs(value) >= 1 << 63 else "a number"
    if isinstance(value, float):
        return "a number"
    return type(value).__name__


def _array(value: Any, where: str, one_row: bool) -> np.ndarray:
    """Convert a decoded list to an array, refusing what numpy would silently turn into objects."""
    try:
        array = np.asarray(value)
    except ValueError:
        raise BadRequest(f"{where}: ragged input, every row must have the same length; {_SHAPES}") from None
    kind = array.dtype.kind
    if kind == "O":  # null, records, integers past 64 bits, or a mix of those with numbers/strings
        for leaf in array.flat:
            if isinstance(leaf, dict):
                raise BadRequest(f"{where}: records (JSON objects) are not model input; {_SHAPES}")
            if _describe(leaf) not in ("a number", "a string", "a boolean"):
                raise BadRequest(f"{where}: {_describe(leaf)} is not a model input value; {_SHAPES}")
        raise BadRequest(f"{where}: values must be all numbers or all strings; {_SHAPES}")
    if kind == "U":  # numpy turns numbers into strings when any value is a string: refuse the mix
        for leaf in np.asarray(value, dtype=object).flat:
            if not isinstance(leaf, str):
                raise BadRequest(f"{where}: mixes strings with {_describe(leaf)} ({leaf!r})")
    if array.size == 0:
        raise BadRequest(f"{where}: empty input; {_SHAPES}")
    if one_row and array.ndim == 1 and kind in "biuf":
        return array.reshape(1, -1)
    return array


def _rows(value: Any, where: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, list):
        raise BadRequest(f"{where} is {_describe(value)}; {_SHAPES}")
    return _array(value, where, one_row=True)


def to_array(value: Any) -> np.ndarray | dict[str, np.ndarray]:
    """Shape a decoded body into input for the built-in flavors.

    Unwraps ``{"instances": x}`` / ``{"inputs": x}``; a 1-D numeric list is one row (shape ``(1, n)``);
    ``{"inputs": {name: x}}`` and NPZ bodies give a dict of arrays (named inputs keep their shapes).
    Arrays (NPY, CSV) pass through unchanged. Raises BadRequest for anything else.
    """
    if isinstance(value, np.ndarray):
        return value
    if wrapped(value):
        if "instances" in value:
            if "inputs" in value:
                raise BadRequest('the request has both "instances" and "inputs"; send one of them')
            return _rows(value["instances"], '"instances"')
        inputs = value["inputs"]
        if isinstance(inputs, dict) and inputs:
            return {str(k): _array(v, f'"inputs"["{k}"]', one_row=False) for k, v in inputs.items()}
        return _rows(inputs, '"inputs"')
    if _is_npz(value):
        return value
    return _rows(value, "the request body")


def _is_npz(value: Any) -> TypeGuard[dict[str, np.ndarray]]:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, np.ndarray) for v in value.values())


def wrapped(value: Any) -> bool:
    """Whether the request used the ``instances``/``inputs`` envelope (answer ``{"predictions": ...}``)."""
    if isinstance(value, dict):
        for key in ("instances", "inputs"):
            if key in value:
                # JSON never yields arrays: an array here is an NPZ member that happens to have this name.
                return not isinstance(value[key], np.ndarray)
    return False
