"""TorchScript modules (``torch.jit.save`` archives) run on the CPU in eval mode under inference_mode.

Inputs: one array is the module's positional argument; named inputs become keyword arguments. Float
arrays are cast to the module's float type (float32 unless its parameters are float64). Outputs: a tensor
gives an array; a tuple/list gives ``{"output_0": ..., "output_1": ...}``; a dict keeps its keys.

Options: ``threads`` (``torch.set_num_threads`` for the worker process; default 1 since the server runs
one worker process per core).
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dockyard.serving.flavors.base import (
    THREADS,
    Array,
    Inputs,
    Outputs,
    check_options,
    load_failed,
    require,
    resolve_model_file,
    threads_option,
    with_suffix,
)
from dockyard.serving.flavors.inputs import NUMERIC_KINDS, check_numeric

SUFFIXES = (".pt", ".pth", ".torchscript")


def is_torchscript(path: Path) -> bool:
    """A TorchScript archive is a zip with ``<name>/constants.pkl`` and ``<name>/code/``; torch.save's
    zips (state dicts, pickled modules) have neither. Reading the zip directory is cheap."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(name.endswith("/constants.pkl") or "/code/" in name for name in names)


class TorchScriptFlavor:
    name = "torchscript"
    accepts = "*.pt, *.pth and *.torchscript saved by torch.jit.save (not torch.save)"

    def matches(self, model_dir: Path) -> list[Path]:
        return [path for path in with_suffix(model_dir, SUFFIXES) if is_torchscript(path)]

    def load(self, model_dir: Path, options: Mapping[str, str]) -> TorchScriptModel:
        check_options(self.name, options, (THREADS,))
        threads = threads_option(options)
        path = resolve_model_file(self, model_dir, options)
        torch = require("torch", self.name, "torch")
        torch.set_num_threads(threads)
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            raise load_failed(path, "torch.jit.load", exc) from exc
        module.eval()
        # Without grad-requiring parameters TorchScript never builds a differentiable graph: faster, and
        # safe whatever grad mode a first call ran in (inference tensors cannot enter autograd graphs).
        parameters = list(module.parameters())
        for parameter in parameters:
            parameter.requires_grad_(False)
        floats = [parameter.dtype for parameter in parameters if parameter.is_floating_point()]
        float_dtype = np.dtype(np.float64 if floats and floats[0] == torch.float64 else np.float32)
        return TorchScriptModel(path, module, torch, float_dtype)


class TorchScriptModel:
    __slots__ = (
        "_from_numpy",
        "_inference_mode",
        "_tensor_type",
        "flavor",
        "float_dtype",
        "model_file",
        "module",
    )

    def __init__(self, path: Path, module: Any, torch: Any, float_dtype: np.dtype[Any]) -> None:
        self.flavor = "torchscript"
        self.model_file = path
        self.module = module
        self.float_dtype = float_dtype
        self._from_numpy = torch.from_numpy
        self._inference_mode = torch.inference_mode
        self._tensor_type = torch.Tensor

    def _tensor(self, array: Array) -> Any:
        if array.dtype.kind not in NUMERIC_KINDS:
            check_numeric(array, self.flavor)
        if array.dtype.kind == "f" and array.dtype != self.float_dtype:
            array = array.astype(self.float_dtype)
        elif not array.flags.writeable:
            array = array.copy()  # torch warns on read-only arrays (np.frombuffer bodies)
        try:
            return self._from_numpy(array)
        except ValueError:
            return self._from_numpy(np.ascontiguousarray(array))  # negative strides

    def _array(self, value: Any) -> Array:
        return value.numpy() if isinstance(value, self._tensor_type) else np.asarray(value)

    def predict(self, inputs: Inputs, context: object = None) -> Outputs:
        with self._inference_mode():
            if isinstance(inputs, np.ndarray):
                result = self.module(self._tensor(inputs))
            elif isinstance(inputs, Mapping):
                result = self.module(**{name: self._tensor(np.asarray(v)) for name, v in inputs.items()})
            else:
                result = self.module(self._tensor(np.asarray(inputs)))
        if isinstance(result, self._tensor_type):
            array: Array = result.numpy()
            return array
        if isinstance(result, tuple | list):
            return {f"output_{index}": self._array(value) for index, value in enumerate(result)}
        if isinstance(result, dict):
            return {str(key): self._array(value) for key, value in result.items()}
        return self._array(result)

    def __repr__(self) -> str:
        return f"<torchscript model {self.model_file.name}: {self.float_dtype} inputs>"
