"""The Flask app of the "bring your own container" pattern: /ping and /invocations on one model file.

Written from the documented behaviour of AWS's scikit_bring_your_own sample, answering JSON for a
JSON or CSV body (the sample answers CSV) so that every server in the benchmark gets the same
request. gunicorn imports this module once per worker, so each worker loads the model once, at
start-up. The model file may be joblib, XGBoost or ONNX (see ../model_files.py).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
from flask import Flask, Response, request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import model_files

JSON = "application/json"
ACCEPTED = (JSON, "text/csv")

app = Flask(__name__)
predict = model_files.load(Path(os.environ.get("MODEL_DIR", "/opt/ml/model")))


@app.get("/ping")
def ping() -> Response:
    """Healthy once the model is loaded, which happened when this module was imported."""
    return Response("\n", status=200, mimetype=JSON)


@app.post("/invocations")
def invocations() -> Response:
    """Predict on rows (JSON list or CSV) and answer a JSON list."""
    if request.mimetype not in ACCEPTED:
        return Response("This predictor only supports JSON and CSV data", status=415, mimetype="text/plain")
    rows = model_files.parse(request.get_data(), request.mimetype)
    return Response(json.dumps(np.asarray(predict(rows)).tolist()), status=200, mimetype=JSON)
