"""XGBoost models saved with ``Booster.save_model`` or ``XGBModel.save_model`` (JSON or UBJSON).

Every file is loaded as a ``Booster`` and predicted with ``inplace_predict``: no DMatrix per request,
lock-free, and the same file format whichever API saved it (the sklearn wrapper writes a Booster plus a
``scikit_learn`` attribute). A pickled ``XGBClassifier`` (.joblib/.pkl) is the sklearn flavor's job.
Predictions stop at ``best_iteration`` when training stopped early, as ``XGBModel.predict`` does.

Options: ``output`` — ``value`` (default: the objective's output, e.g. probabilities for
``binary:logistic``, as SageMaker's built-in XGBoost answers) or ``margin`` (raw scores before the link
function); ``threads`` (default 1).
"""

from __future__ import annotations

import json
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
BINARY_SUFFIXES = (".ubj", ".xgb", ".bst")
# XGBoost writes the "learner" object first; 4 KiB leaves room for pretty-printed or reordered JSON.
_JSON_MODEL = re.compile(rb'"learner"\s*:\s*\{')
_SNIFF_BYTES = 4096


def is_xgboost_json(path: Path) -> bool:
    head = read_head(path, _SNIFF_BYTES)
    return head.lstrip().startswith(b"{") and _JSON_MODEL.search(head) is not None


class XGBoostFlavor:
    name = "xgboost"
    accepts = "*.ubj, *.xgb, *.bst and *.json saved by XGBoost's save_model"

    def matches(self, model_dir: Path) -> list[Path]:
        return [
            path
            for path in top_level_files(model_dir)
            if path.suffix.lower() in BINARY_SUFFIXES
            or (path.suffix.lower() == ".json" and is_xgboost_json(path))
        ]

    def load(self, model_dir: Path, options: Mapping[str, str]) -> XGBoostModel:
        check_options(self.name, options, (OUTPUT, THREADS))
        output = choice_option(options, OUTPUT, OUTPUTS)
        threads = threads_option(options)
        path = resolve_model_file(self, model_dir, options)
        xgb = require("xgboost", self.name, "xgboost")
        booster = xgb.Booster()
        try:
            if path.suffix.lower() in (".json", ".ubj"):
                booster.load_model(path)
            else:
                # From a buffer XGBoost tells JSON from UBJSON by content; from a path with another
                # suffix it guesses and warns.
                booster.load_model(bytearray(path.read_bytes()))
            booster.set_param({"nthread": threads})
        except Exception as exc:
            raise load_failed(path, "xgboost", exc) from exc
        return XGBoostModel(path, booster, output, _iteration_range(booster))


def _iteration_range(booster: Any) -> tuple[int, int]:
    best = booster.attr("best_iteration")
    if best is None:
        return (0, 0)  # all trees
    config = json.loads(booster.save_config())
    if config["learner"]["gradient_booster"]["name"] == "gblinear":
        return (0, 0)  # a linear booster has no trees to cut
    return (0, int(best) + 1)


class XGBoostModel:
    __slots__ = ("_features", "_iterations", "booster", "flavor", "model_file", "output")

    def __init__(self, path: Path, booster: Any, output: str, iterations: tuple[int, int]) -> None:
        self.flavor = "xgboost"
        self.model_file = path
        self.booster = booster
        self.output = output
        self._iterations = iterations
        self._features: int = booster.num_features()

    def predict(self, inputs: Inputs, context: object = None) -> Outputs:
        array = inputs if type(inputs) is np.ndarray else single_array(inputs, self.flavor)
        # XGBoost would read a 1-D array as one column and answer a mismatch with a C++ stack trace.
        if array.ndim != 2 or array.shape[1] != self._features:
            check_rows(array, self.flavor, self._features)
        if array.dtype.kind not in NUMERIC_KINDS:
            check_numeric(array, self.flavor)
        result: Array = self.booster.inplace_predict(
            array, iteration_range=self._iterations, predict_type=self.output
        )
        return result

    def __repr__(self) -> str:
        return f"<xgboost model {self.model_file.name}: output={self.output}>"
