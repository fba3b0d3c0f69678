"""ONNX models run by onnxruntime on the CPU.

Inputs: one array feeds the model's only input; named inputs (a dict) feed inputs by name. Numeric
arrays are cast to each input's declared type (``same_kind`` casting: float64 → float32 is fine, a float
for an int64 input is refused). Outputs: one array when one output is asked for, else a dict by name.
skl2onnx's ZipMap output (a list of ``{class: probability}`` dicts) becomes a rows x classes array.

Options: ``output_names`` (the outputs to return, separated by ',' or ';'; default all), ``threads``
(intra-op threads, default 1 since the server runs one worker process per core).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dockyard.serving.errors import BadRequest, ModelLoadError
from dockyard.serving.flavors.base import (
    THREADS,
    Array,
    Inputs,
    Outputs,
    check_options,
    list_option,
    load_failed,
    require,
    resolve_model_file,
    threads_option,
    with_suffix,
)
from dockyard.serving.flavors.inputs import describe_shape

OUTPUT_NAMES = "output_names"
# onnxruntime's type names → numpy; inputs of other types (strings, sequences) are passed as given.
_DTYPES = {
    f"tensor({name})": np.dtype(dtype)
    for name, dtype in {
        "float": "float32",
        "double": "float64",
        "float16": "float16",
        "int8": "int8",
        "int16": "int16",
        "int32": "int32",
        "int64": "int64",
        "uint8": "uint8",
        "uint16": "uint16",
        "uint32": "uint32",
        "uint64": "uint64",
        "bool": "bool",
    }.items()
}


class OnnxFlavor:
    name = "onnx"
    accepts = "*.onnx"

    def matches(self, model_dir: Path) -> list[Path]:
        return with_suffix(model_dir, (".onnx",))

    def load(self, model_dir: Path, options: Mapping[str, str]) -> OnnxModel:
        check_options(self.name, options, (OUTPUT_NAMES, THREADS))
        threads = threads_option(options)
        path = resolve_model_file(self, model_dir, options)
        ort = require("onnxruntime", self.name, "onnxruntime")
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = threads
        session_options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(
                str(path), sess_options=session_options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise load_failed(path, "onnxruntime", exc) from exc
        declared = [output.name for output in session.get_outputs()]
        wanted = list_option(options, OUTPUT_NAMES) or declared
        unknown = [name for name in wanted if name not in declared]
        if unknown:
            raise ModelLoadError(
                f"option {OUTPUT_NAMES} names outputs {path.name} does not have ({', '.join(unknown)}); "
                f"its outputs are {', '.join(declared)}"
            )
        zipmaps = {output.name for output in session.get_outputs() if output.type.startswith("seq(map(")}
        return OnnxModel(path, session, wanted, zipmaps)


def _cast(array: Array, dtype: np.dtype[Any] | None, name: str) -> Array:
    if dtype is None or array.dtype == dtype:
        return array
    try:
        return array.astype(dtype, casting="same_kind")
    except TypeError:
        raise BadRequest(
            f"input {name!r} is {dtype}, and the request's {array.dtype} cannot be cast to it"
        ) from None


def _fits(array: Array, dims: list[Any]) -> bool:
    """Whether the array's shape fits the declared one (an open dimension takes any size)."""
    if array.ndim != len(dims):
        return False
    return all(not isinstance(dim, int) or dim == size for dim, size in zip(dims, array.shape, strict=True))


def _check_shape(array: Array, dims: list[Any] | None, name: str) -> None:
    if dims is not None and not _fits(array, dims):
        raise BadRequest(
            f"input {name!r} takes shape {describe_shape(dims)}; the request has shape {tuple(array.shape)}"
        )


def _zipmap_rows(rows: list[dict[Any, float]]) -> Array:
    return np.array([list(row.values()) for row in rows], dtype=np.float32)


class OnnxModel:
    __slots__ = (
        "_dims",
        "_dtypes",
        "_single",
        "_zipmaps",
        "flavor",
        "input_names",
        "model_file",
        "output_names",
        "session",
    )

    def __init__(self, path: Path, session: Any, output_names: list[str], zipmaps: set[str]) -> None:
        self.flavor = "onnx"
        self.model_file = path
        self.session = session
        self.output_names = output_names
        self.input_names = [item.name for item in session.get_inputs()]
        self._dtypes: dict[str, np.dtype[Any] | None] = {
            item.name: _DTYPES.get(item.type) for item in session.get_inputs()
        }
        # Declared shapes; None where the model declares none (sequences, maps, unknown rank).
        self._dims: dict[str, list[Any] | None] = {
            item.name: list(item.shape) if isinstance(item.shape, list) else None
            for item in session.get_inputs()
        }
        self._single = next(iter(self._dtypes.items())) if len(self._dtypes) == 1 else None
        self._zipmaps = [index for index, name in enumerate(output_names) if name in zipmaps]

    def predict(self, inputs: Inputs, context: object = None) -> Outputs:
        if isinstance(inputs, np.ndarray):
            if self._single is None:
                raise BadRequest(
                    f"the model has inputs {', '.join(self.input_names)}; send named inputs, not one array"
                )
            name, dtype = self._single
            _check_shape(inputs, self._dims[name], name)
            feed = {name: inputs if dtype is None or inputs.dtype == dtype else _cast(inputs, dtype, name)}
        else:
            problems = []
            missing = [name for name in self.input_names if name not in inputs]
            if missing:
                problems.append(f"lacks {', '.join(missing)}")
            unknown = [str(name) for name in inputs if name not in self._dtypes]
            if unknown:
                problems.append(f"has unknown inputs {', '.join(unknown)}")
            if problems:
                declared = ", ".join(self.input_names)
                raise BadRequest(f"the model's inputs are {declared}; the request {' and '.join(problems)}")
            feed = {}
            for name, value in inputs.items():
                array = np.asarray(value)
                _check_shape(array, self._dims[name], name)
                feed[name] = _cast(array, self._dtypes[name], name)
        results: list[Any] = self.session.run(self.output_names, feed)
        for index in self._zipmaps:
            results[index] = _zipmap_rows(results[index])
        if len(results) == 1:
            only: Array = results[0]
            return only
        return dict(zip(self.output_names, results, strict=True))

    def __repr__(self) -> str:
        inputs, outputs = ", ".join(self.input_names), ", ".join(self.output_names)
        return f"<onnx model {self.model_file.name}: {inputs} -> {outputs}>"
