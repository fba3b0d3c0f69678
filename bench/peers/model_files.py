"""What the byoc and toolkit peers share: loading the benchmark's model file and parsing a request.

The model directory holds one of model.joblib (scikit-learn), model.ubj (an XGBoost booster,
predicted with ``inplace_predict``) or model.onnx (onnxruntime, output ``label``), as dockyard's
flavors load them; the body is a JSON list of rows or CSV rows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Predict = Callable[[np.ndarray], Any]


def load(model_dir: Path) -> Predict:
    if (model_dir / "model.joblib").exists():
        import joblib

        return joblib.load(model_dir / "model.joblib").predict  # type: ignore[no-any-return]
    if (model_dir / "model.ubj").exists():
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(model_dir / "model.ubj")
        booster.set_param({"nthread": 1})
        return booster.inplace_predict  # type: ignore[no-any-return]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda rows: session.run(["label"], {name: rows.astype(np.float32)})[0]


def parse(body: bytes, content_type: str) -> np.ndarray:
    if content_type.startswith("text/csv"):
        return np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2)
    return np.asarray(json.loads(body), dtype=np.float64)
