"""Inference handler for the sagemaker-inference toolkit: a joblib scikit-learn model, JSON in and out.

Written from the toolkit's documented handler contract (model_fn, input_fn, predict_fn, output_fn).
It lives in its own module because Multi Model Server expects exactly one class in the
handler-service module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sagemaker_inference import content_types, default_inference_handler, errors

MODEL_FILE = "model.joblib"


class SklearnJsonHandler(default_inference_handler.DefaultInferenceHandler):
    """Loads `model.joblib` and predicts on a JSON list of rows."""

    def default_model_fn(self, model_dir: str, context: Any = None) -> Any:
        return joblib.load(Path(model_dir) / MODEL_FILE)

    def default_input_fn(self, input_data: Any, content_type: str, context: Any = None) -> np.ndarray:
        if content_type != content_types.JSON:
            raise errors.UnsupportedFormatError(content_type)
        text = input_data.decode() if isinstance(input_data, bytes | bytearray) else input_data
        return np.asarray(json.loads(text), dtype=np.float64)

    def default_predict_fn(self, data: np.ndarray, model: Any, context: Any = None) -> Any:
        return model.predict(data)

    def default_output_fn(self, prediction: Any, accept: str, context: Any = None) -> bytes:
        return json.dumps(np.asarray(prediction).tolist()).encode()
