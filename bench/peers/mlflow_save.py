"""Save one of the benchmark's model files as an MLflow model: `mlflow_save.py FLAVOR FILE OUT_DIR`.

FLAVOR is sklearn (a joblib file), xgboost (a booster saved by XGBoost) or onnx. Run with the
`mlflow` peer venv's Python. OUT_DIR must not exist yet.
"""

from __future__ import annotations

import sys


def main() -> None:
    flavor, model_file, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    if flavor == "sklearn":
        import joblib
        import mlflow.sklearn

        mlflow.sklearn.save_model(
            joblib.load(model_file), out_dir, pip_requirements=["scikit-learn", "joblib"]
        )
    elif flavor == "xgboost":
        import mlflow.xgboost
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(model_file)
        mlflow.xgboost.save_model(booster, out_dir, pip_requirements=["xgboost"])
    elif flavor == "onnx":
        import mlflow.onnx
        import onnx

        mlflow.onnx.save_model(onnx.load(model_file), out_dir, pip_requirements=["onnx", "onnxruntime"])
    else:
        raise SystemExit(f"unknown flavor {flavor}")


if __name__ == "__main__":
    main()
