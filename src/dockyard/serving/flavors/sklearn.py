"""scikit-learn (and anything else with a ``predict``-like method) saved with joblib, pickle or skops.

Options: ``predict_method`` (``predict`` by default; checked at load time), ``trusted_types`` (.skops
files only: the types skops does not trust by default that this file may contain).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dockyard.serving.errors import BadRequest, ModelLoadError
from dockyard.serving.flavors.base import (
    Inputs,
    Outputs,
    as_array,
    check_options,
    choice_option,
    list_option,
    load_failed,
    require,
    resolve_model_file,
    single_array,
    with_suffix,
)
from dockyard.serving.flavors.inputs import check_rows, raised_in

SUFFIXES = (".joblib", ".pkl", ".pickle", ".skops")
PREDICT_METHOD = "predict_method"
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")
TRUSTED_TYPES = "trusted_types"


class SklearnFlavor:
    name = "sklearn"
    accepts = "*.joblib, *.pkl, *.pickle (joblib or pickle) and *.skops"

    def matches(self, model_dir: Path) -> list[Path]:
        return with_suffix(model_dir, SUFFIXES)

    def load(self, model_dir: Path, options: Mapping[str, str]) -> SklearnModel:
        check_options(self.name, options, (PREDICT_METHOD, TRUSTED_TYPES))
        method = choice_option(options, PREDICT_METHOD, PREDICT_METHODS)
        path = resolve_model_file(self, model_dir, options)
        if path.suffix.lower() == ".skops":
            estimator = _load_skops(path, list_option(options, TRUSTED_TYPES))
        else:
            joblib = require("joblib", self.name, "joblib")
            try:
                estimator = joblib.load(path)  # also reads plain pickles
            except Exception as exc:
                raise load_failed(path, "joblib", exc) from exc
        # getattr, not hasattr on the class: sklearn hides methods the fitted estimator cannot run
        # (SVC(probability=False).predict_proba), so this catches them at load time, not per request.
        function = getattr(estimator, method, None)
        if not callable(function):
            have = [name for name in PREDICT_METHODS if callable(getattr(estimator, name, None))]
            raise ModelLoadError(
                f"{type(estimator).__name__} loaded from {path.name} has no {method}() method; "
                f"set the {PREDICT_METHOD} option to one it has ({', '.join(have) or 'none'})"
            )
        return SklearnModel(path, estimator, method, function)


def _load_skops(path: Path, trusted: list[str]) -> Any:
    sio = require("skops.io", "sklearn", "skops")
    try:
        found = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise load_failed(path, "skops", exc) from exc
    refused = [name for name in found if name not in trusted]
    if refused:
        raise ModelLoadError(
            f"{path.name} holds types that skops does not trust by default ({', '.join(refused)}); "
            f"if you trust this file, allow them with the {TRUSTED_TYPES} option, e.g. "
            f"{TRUSTED_TYPES}={';'.join(refused)} (separate names with ';' or ',')"
        )
    try:
        return sio.load(path, trusted=found)
    except Exception as exc:
        raise load_failed(path, "skops", exc) from exc


class SklearnModel:
    __slots__ = ("_features", "_function", "estimator", "flavor", "method", "model_file")

    def __init__(self, path: Path, estimator: Any, method: str, function: Callable[[Any], Any]) -> None:
        self.flavor = "sklearn"
        self.model_file = path
        self.estimator = estimator
        self.method = method
        self._function = function
        features = getattr(estimator, "n_features_in_", None)
        self._features = features if isinstance(features, int) else None

    def predict(self, inputs: Inputs, context: object = None) -> Outputs:
        if type(inputs) is not np.ndarray:
            inputs = single_array(inputs, self.flavor)
        features = self._features
        if features is not None and (inputs.ndim != 2 or inputs.shape[1] != features):
            check_rows(inputs, type(self.estimator).__name__, features)
        try:
            result = self._function(inputs)
        except ValueError as exc:
            # scikit-learn checks its input before computing anything (validation.py, and the numpy
            # conversion in _array_api.py): what it refuses there (NaN or infinity where the estimator
            # takes none, strings for numbers) is the caller's mistake.
            if raised_in(exc, "sklearn/utils/validation.py", "sklearn/utils/_array_api.py"):
                raise BadRequest(f"{type(self.estimator).__name__} refused the input: {exc}") from None
            raise
        return result if type(result) is np.ndarray else as_array(result)

    def __repr__(self) -> str:
        return f"<sklearn model {self.model_file.name}: {type(self.estimator).__name__}.{self.method}>"
