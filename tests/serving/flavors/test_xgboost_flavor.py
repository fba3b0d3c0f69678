"""The xgboost flavor against XGBoost's own predictions, for every file kind and both output kinds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import xgboost as xgb

from dockyard.serving.errors import BadRequest, ModelLoadError
from dockyard.serving.flavors import load_flavor

Array = npt.NDArray[Any]
PARAMS = {"objective": "binary:logistic", "max_depth": 2, "nthread": 1}


@pytest.fixture(scope="module")
def booster(tabular: tuple[Array, Array]) -> xgb.Booster:
    features, labels = tabular
    return xgb.train(PARAMS, xgb.DMatrix(features, label=labels), num_boost_round=4)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, booster: xgb.Booster) -> Path:
    """One directory holding the booster in every accepted kind of file."""
    root = tmp_path_factory.mktemp("xgboost")
    booster.save_model(root / "model.json")
    booster.save_model(root / "model.ubj")
    shutil.copy(root / "model.ubj", root / "model.bst")
    shutil.copy(root / "model.json", root / "model.xgb")
    return root


@pytest.mark.parametrize("file_name", ["model.json", "model.ubj", "model.bst", "model.xgb"])
def test_each_file_kind_predicts_like_xgboost(
    saved: Path, tabular: tuple[Array, Array], booster: xgb.Booster, file_name: str
) -> None:
    features, _ = tabular
    model = load_flavor(saved, None, {"model_file": file_name})
    assert (model.flavor, model.model_file) == ("xgboost", saved / file_name)
    expected = booster.predict(xgb.DMatrix(features))
    np.testing.assert_allclose(model.predict(features), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(features[:1].astype(np.float32)), expected[:1], rtol=1e-6)


def test_margin_output(saved: Path, tabular: tuple[Array, Array], booster: xgb.Booster) -> None:
    features, _ = tabular
    model = load_flavor(saved, "xgboost", {"model_file": "model.ubj", "output": "margin", "threads": "2"})
    expected = booster.predict(xgb.DMatrix(features), output_margin=True)
    np.testing.assert_allclose(model.predict(features), expected, rtol=1e-6)
    assert repr(model) == "<xgboost model model.ubj: output=margin>"


def test_a_file_saved_by_the_sklearn_wrapper(tmp_path: Path, tabular: tuple[Array, Array]) -> None:
    features, labels = tabular
    classifier = xgb.XGBClassifier(n_estimators=3, max_depth=2, n_jobs=1).fit(features, labels)
    classifier.save_model(tmp_path / "model.json")
    model = load_flavor(tmp_path, None, {})
    np.testing.assert_allclose(model.predict(features), classifier.predict_proba(features)[:, 1], rtol=1e-6)


def test_multiclass_probabilities(tmp_path: Path, tabular: tuple[Array, Array]) -> None:
    features, _ = tabular
    labels = np.arange(len(features)) % 3
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(features, label=labels), num_boost_round=2)
    booster.save_model(tmp_path / "model.ubj")
    result = load_flavor(tmp_path, None, {}).predict(features)
    assert result.shape == (len(features), 3)
    np.testing.assert_allclose(result, booster.predict(xgb.DMatrix(features)), rtol=1e-6)


def test_early_stopping_predicts_with_the_best_iteration(
    tmp_path: Path, tabular: tuple[Array, Array]
) -> None:
    features, labels = tabular
    # Validating on flipped labels makes every round worse than the first: training stops early.
    booster = xgb.train(
        PARAMS,
        xgb.DMatrix(features, label=labels),
        num_boost_round=20,
        evals=[(xgb.DMatrix(features, label=1 - labels), "flipped")],
        early_stopping_rounds=2,
        verbose_eval=False,
    )
    assert booster.best_iteration < booster.num_boosted_rounds() - 1
    booster.save_model(tmp_path / "model.json")
    best = (0, booster.best_iteration + 1)
    expected = booster.predict(xgb.DMatrix(features), iteration_range=best)
    np.testing.assert_allclose(load_flavor(tmp_path, None, {}).predict(features), expected, rtol=1e-6)


def test_bad_requests_raise_informative_errors(saved: Path, tabular: tuple[Array, Array]) -> None:
    features, _ = tabular
    model = load_flavor(saved, None, {"model_file": "model.ubj"})
    expected = r"^the xgboost model takes rows of 4 features, shape \(rows, 4\); the request has shape "
    with pytest.raises(BadRequest, match=expected + r"\(60, 3\)$"):
        model.predict(features[:, :3])
    with pytest.raises(BadRequest, match=expected + r"\(4,\)$"):
        model.predict(features[0])
    with pytest.raises(BadRequest, match=expected + r"\(2, 4, 1\)$"):
        model.predict(np.zeros((2, 4, 1)))
    with pytest.raises(
        BadRequest, match=r"^the xgboost model takes numbers; the request has strings \(<U1\)$"
    ):
        model.predict(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(
        BadRequest, match=r"^the xgboost flavor takes one array, but the request has named inputs \(x\)$"
    ):
        model.predict({"x": features})
    # NaN is XGBoost's missing value, not an error.
    assert model.predict(np.array([[np.nan, 1.0, 2.0, 0.0]])).shape == (1,)


def test_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "model.bst").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match=r"^could not load model\.bst with xgboost: XGBoostError: "):
        load_flavor(tmp_path, None, {})
