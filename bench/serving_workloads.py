"""The serving benchmark's workloads: the model files every server loads and the request each gets.

- ``sklearn``: a scikit-learn LogisticRegression (10 features, seeded random data) saved with
  joblib; one JSON row per request. The main workload, measured at every concurrency.
- ``xgboost``: an XGBoost booster (same data, 20 trees) saved as ``model.ubj``; one JSON row.
- ``onnx``: the LogisticRegression exported by skl2onnx (no ZipMap), one output asked for
  (``label``); one JSON row.
- ``csv1000``: the scikit-learn model with a 1,000-row CSV body (throughput in MB/s).

Each workload knows the in-process answer to its request, which every server must return before it
is measured, and the in-process time of that prediction.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

N_FEATURES = 10
SEED = 20240601
CSV_ROWS = 1000
WORKLOADS = ("sklearn", "xgboost", "onnx", "csv1000")
BENCH = Path(__file__).resolve().parent
PEER_VENVS = BENCH / ".peers"
PEER_CODE = BENCH / "peers"


@dataclass(frozen=True)
class Workload:
    name: str
    model_dir: Path  # holds model.joblib, model.ubj or model.onnx
    model_file: str
    body: bytes
    content_type: str
    expected: list[Any]  # the in-process prediction for the body
    predict_us: float  # in-process time of that prediction, median
    mlflow_model_dir: Path | None = None  # the same model saved as an MLflow model (None: not made)
    dockyard_options: tuple[str, ...] = ()


def _data() -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(SEED)
    features = rng.normal(size=(2000, N_FEATURES))
    labels = (features @ rng.normal(size=N_FEATURES) + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    rows = np.round(rng.normal(size=(CSV_ROWS, N_FEATURES)), 4)
    return features, labels, rows


def time_call(function: Callable[[], Any], calls: int = 2000) -> float:
    for _ in range(min(200, calls)):
        function()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def make_workloads(scratch: Path, names: list[str], with_mlflow: bool) -> dict[str, Workload]:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    features, labels, rows = _data()
    row = rows[:1]
    body = f"[{', '.join(str(v) for v in row[0])}]".join("[]").encode()
    made: dict[str, Workload] = {}
    classifier = LogisticRegression().fit(features, labels)
    sk_dir = scratch / "sklearn"
    sk_dir.mkdir()
    joblib.dump(classifier, sk_dir / "model.joblib")
    if "sklearn" in names:
        made["sklearn"] = Workload(
            "sklearn", sk_dir, "model.joblib", body, "application/json",
            classifier.predict(row).tolist(), time_call(lambda: classifier.predict(row)),
            _mlflow(sk_dir / "model.joblib", scratch / "mlflow-sklearn", "sklearn") if with_mlflow else None,
        )  # fmt: skip
    if "csv1000" in names:
        text = "\n".join(",".join(str(v) for v in line) for line in rows) + "\n"
        made["csv1000"] = Workload(
            "csv1000", sk_dir, "model.joblib", text.encode(), "text/csv",
            classifier.predict(rows).tolist(), time_call(lambda: classifier.predict(rows), 300),
        )  # fmt: skip
    if "xgboost" in names:
        import xgboost as xgb

        booster = xgb.train(
            {"objective": "binary:logistic", "max_depth": 4, "nthread": 1},
            xgb.DMatrix(features, label=labels),
            num_boost_round=20,
        )
        xgb_dir = scratch / "xgboost"
        xgb_dir.mkdir()
        booster.save_model(xgb_dir / "model.ubj")
        made["xgboost"] = Workload(
            "xgboost", xgb_dir, "model.ubj", body, "application/json",
            booster.inplace_predict(row).tolist(), time_call(lambda: booster.inplace_predict(row)),
            _mlflow(xgb_dir / "model.ubj", scratch / "mlflow-xgboost", "xgboost") if with_mlflow else None,
        )  # fmt: skip
    if "onnx" in names:
        import onnxruntime as ort
        from skl2onnx import to_onnx

        onnx_dir = scratch / "onnx"
        onnx_dir.mkdir()
        exported = to_onnx(classifier, features[:1].astype(np.float32), options={"zipmap": False})
        (onnx_dir / "model.onnx").write_bytes(exported.SerializeToString())
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(
            str(onnx_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        feed = {session.get_inputs()[0].name: row.astype(np.float32)}
        made["onnx"] = Workload(
            "onnx", onnx_dir, "model.onnx", body, "application/json",
            session.run(["label"], feed)[0].tolist(), time_call(lambda: session.run(["label"], feed)),
            _mlflow(onnx_dir / "model.onnx", scratch / "mlflow-onnx", "onnx") if with_mlflow else None,
            ("--flavor-options", "output_names=label"),
        )  # fmt: skip
    return made


def _mlflow(model_file: Path, out_dir: Path, flavor: str) -> Path | None:
    """The model saved with MLflow's own flavor, by the mlflow peer's venv (None when that fails)."""
    python = PEER_VENVS / "mlflow" / "bin" / "python"
    if not python.exists():
        return None
    argv = [str(python), str(PEER_CODE / "mlflow_save.py"), flavor, str(model_file), str(out_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        print(f"!! could not save the {flavor} model for MLflow:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return out_dir


def same_answer(got: Any, expected: list[Any]) -> bool:
    """Equal labels, or probabilities equal to 6 digits (servers print floats differently)."""
    if isinstance(got, list) and len(got) == len(expected):
        return all(same_answer(g, e) for g, e in zip(got, expected, strict=True))
    if isinstance(got, int | float) and isinstance(expected, int | float):
        return abs(float(got) - float(expected)) <= 1e-6 * max(1.0, abs(float(expected)))
    return bool(got == expected)
