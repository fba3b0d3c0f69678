"""A caller's mistake is a 4xx naming what was expected, through the real server with real models."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
import xgboost as xgb
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

pytestmark = pytest.mark.slow

FEATURES = 4


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, FEATURES))
    return x, (x[:, 0] > 0).astype(np.int64)


def _sklearn(root: Path) -> Path:
    x, y = _data()
    joblib.dump(LogisticRegression().fit(x, y), root / "model.joblib")
    return root


def _xgboost(root: Path) -> Path:
    x, y = _data()
    xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(x, label=y), 3).save_model(
        root / "model.ubj"
    )
    return root


def _onnx(root: Path) -> Path:
    x, y = _data()
    exported = to_onnx(LogisticRegression().fit(x, y), x[:1].astype(np.float32), options={"zipmap": False})
    (root / "model.onnx").write_bytes(exported.SerializeToString())
    return root


MODELS = {"sklearn": _sklearn, "xgboost": _xgboost, "onnx": _onnx}
ROWS_OF_4 = "takes rows of 4 features, shape (rows, 4); the request has shape"
EXPECTED = {
    "sklearn": f"the LogisticRegression model {ROWS_OF_4}",
    "xgboost": f"the xgboost model {ROWS_OF_4}",
    "onnx": "input 'X' takes shape (rows, 4); the request has shape",
}
STRINGS = {
    "sklearn": "LogisticRegression refused the input: dtype='numeric' is not compatible with arrays of "
    "bytes/strings",
    "xgboost": "the xgboost model takes numbers; the request has strings (<U1)",
    "onnx": "input 'X' is float32, and the request's <U1 cannot be cast to it",
}


@pytest.mark.parametrize("flavor", list(MODELS))
def test_shape_and_type_mistakes_are_400_with_expected_and_received(
    start_server, tmp_path: Path, flavor: str
) -> None:
    server = start_server("--model-dir", str(MODELS[flavor](tmp_path)), "--workers", "1")

    def bad(body: bytes, content_type: str = "application/json") -> str:
        response = server.client.post("/invocations", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "BadRequest"
        return str(response.json()["message"])

    assert bad(b"[[1, 2, 3]]") == f"{EXPECTED[flavor]} (1, 3)"
    assert bad(b"1,2,3\n", "text/csv") == f"{EXPECTED[flavor]} (1, 3)"
    assert bad(b"[[[1, 2, 3, 4]]]") == f"{EXPECTED[flavor]} (1, 1, 4)"
    assert bad(b'[["a", "b", "c", "d"]]').startswith(STRINGS[flavor])
    good = server.client.post("/invocations", content=b"1,2,3,4\n", headers={"Content-Type": "text/csv"})
    assert good.status_code == 200


def test_csv_nan_and_inf_are_400_for_a_model_that_refuses_them(start_server, tmp_path: Path) -> None:
    server = start_server("--model-dir", str(_sklearn(tmp_path)), "--workers", "1")
    for body, said in (
        (b"nan,1,2,3\n", "Input X contains NaN"),
        (b"1,inf,2,3\n", "Input X contains infinity"),
    ):
        response = server.client.post("/invocations", content=body, headers={"Content-Type": "text/csv"})
        assert response.status_code == 400
        assert response.json()["message"].startswith(f"LogisticRegression refused the input: {said}")


def test_an_answer_the_accept_type_cannot_carry_is_406(start_server, tmp_path: Path) -> None:
    server = start_server("--model-dir", str(_sklearn(tmp_path)), "--workers", "1")
    response = server.client.post(
        "/invocations",
        content=b'{"instances": [[1, 2, 3, 4]]}',
        headers={"Content-Type": "application/json", "Accept": "text/csv"},
    )
    assert response.status_code == 406
    assert response.json() == {
        "error": "NotAcceptable",
        "message": "cannot encode dict as text/csv; ask for application/json (Accept) to get this answer",
    }
    rows = server.client.post(
        "/invocations",
        content=b"[[1, 2, 3, 4]]",
        headers={"Content-Type": "application/json", "Accept": "text/csv"},
    )
    assert rows.status_code == 200
    assert rows.headers["content-type"] == "text/csv"
