"""Inference handler for the sagemaker-inference toolkit: the benchmark's model file, JSON or CSV in,
JSON out.

Written from the toolkit's documented handler contract (model_fn, input_fn, predict_fn, output_fn).
It lives in its own module because Multi Model Server expects exactly one class in the
handler-service module. The model file may be joblib, XGBoost or ONNX (see ../model_files.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sagemaker_inference import content_types, default_inference_handler, errors

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import model_files


class SklearnJsonHandler(default_inference_handler.DefaultInferenceHandler):
    """Loads the model file and predicts on a JSON list of rows or CSV rows."""

    def default_model_fn(self, model_dir: str, context: Any = None) -> Any:
        return model_files.load(Path(model_dir))

    def default_input_fn(self, input_data: Any, content_type: str, context: Any = None) -> np.ndarray:
        if content_type not in (content_types.JSON, content_types.CSV):
            raise errors.UnsupportedFormatError(content_type)
        data = input_data.encode() if isinstance(input_data, str) else bytes(input_data)
        return model_files.parse(data, content_type)

    def default_predict_fn(self, data: np.ndarray, model: Any, context: Any = None) -> Any:
        return model(data)

    def default_output_fn(self, prediction: Any, accept: str, context: Any = None) -> bytes:
        return json.dumps(np.asarray(prediction).tolist()).encode()
