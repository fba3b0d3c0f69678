"""Save the benchmark's joblib model as an MLflow model: `mlflow_save.py MODEL.joblib OUT_DIR`.

Run with the `mlflow` peer venv's Python. OUT_DIR must not exist yet.
"""

from __future__ import annotations

import sys

import joblib
import mlflow.sklearn


def main() -> None:
    model_file, out_dir = sys.argv[1], sys.argv[2]
    model = joblib.load(model_file)
    mlflow.sklearn.save_model(model, out_dir, pip_requirements=["scikit-learn", "joblib"])


if __name__ == "__main__":
    main()
