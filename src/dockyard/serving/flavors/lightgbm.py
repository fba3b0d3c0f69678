"""LightGBM models saved with ``Booster.save_model`` (the text format), predicted with ``Booster.predict``.

Options: ``output`` — ``value`` (default: the objective's output, e.g. probabilities) or ``margin``
(raw scores); ``threads`` (default 1: one worker process per core, and LightGBM's OpenMP start-up costs
more than a small batch takes to predict).
"""

from __future__ import annotations

import re
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
    choice_option,
    load_failed,
    read_head,
    require,
    resolve_model_file,
    single_array,
    threads_option,
    top_level_files,
)
from dockyard.serving.flavors.inputs import NUMERIC_KINDS, check_numeric, check_rows

OUTPUT = "output"
OUTPUTS = ("value", "margin")
_HEADER = re.compile(rb"tree\r?\nversion=")  # how every LightGBM text model begins


def is_lightgbm_text(path: Path) -> bool:
    return _HEADER.match(read_head(path, 16)) is not None


class LightGBMFlavor:
    name = "lightgbm"
    accepts = "*.lgb and *.txt saved by LightGBM's save_model"

    def matches(self, model_dir: Path) -> list[Path]:
        return [
            path
            for path in top_level_files(model_dir)
            if path.suffix.lower() == ".lgb" or (path.suffix.lower() == ".txt" and is_lightgbm_text(path))
        ]

    def load(self, model_dir: Path, options: Mapping[str, str]) -> LightGBMModel:
        check_options(self.name, options, (OUTPUT, THREADS))
        output = choice_option(options, OUTPUT, OUTPUTS)
        threads = threads_option(options)
        path = resolve_model_file(self, model_dir, options)
        lgb = require("lightgbm", self.name, "lightgbm")
        try:
            booster = lgb.Booster(model_file=str(path))
        except Exception as exc:
            raise load_failed(path, "lightgbm", exc) from exc
        return LightGBMModel(path, booster, output, threads)


class LightGBMModel:
    __slots__ = ("_features", "_raw_score", "_threads", "booster", "flavor", "model_file", "output")

    def __init__(self, path: Path, booster: Any, output: str, threads: int) -> None:
        self.flavor = "lightgbm"
        self.model_file = path
        self.booster = booster
        self.output = output
        self._raw_score = output == "margin"
        self._threads = threads
        self._features: int = booster.num_feature()

    def predict(self, inputs: Inputs, context: object = None) -> Outputs:
        array = inputs if type(inputs) is np.ndarray else single_array(inputs, self.flavor)
        if array.ndim != 2 or array.shape[1] != self._features:
            check_rows(array, self.flavor, self._features)
        if array.dtype.kind not in NUMERIC_KINDS:
            check_numeric(array, self.flavor)
        result: Array = self.booster.predict(array, raw_score=self._raw_score, num_threads=self._threads)
        return result

    def __repr__(self) -> str:
        return f"<lightgbm model {self.model_file.name}: output={self.output}>"
