"""The Flask app of the "bring your own container" pattern: /ping and /invocations on a joblib model.

Written from the documented behaviour of AWS's scikit_bring_your_own sample, but answering JSON
instead of CSV so that every server in the benchmark gets the same request. gunicorn imports this
module once per worker, so each worker loads the model once, at start-up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from flask import Flask, Response, request

MODEL_PATH = Path(os.environ.get("MODEL_DIR", "/opt/ml/model")) / "model.joblib"
JSON = "application/json"

app = Flask(__name__)
model: Any = joblib.load(MODEL_PATH)


@app.get("/ping")
def ping() -> Response:
    """Healthy once the model is loaded, which happened when this module was imported."""
    status = 200 if model is not None else 404
    return Response("\n", status=status, mimetype=JSON)


@app.post("/invocations")
def invocations() -> Response:
    """Predict on a JSON list of rows and answer a JSON list of labels."""
    if request.mimetype != JSON:
        return Response("This predictor only supports JSON data", status=415, mimetype="text/plain")
    rows = np.asarray(json.loads(request.get_data()), dtype=np.float64)
    labels = np.asarray(model.predict(rows)).tolist()
    return Response(json.dumps(labels), status=200, mimetype=JSON)
