"""The lightgbm flavor against LightGBM's own predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pytest

from dockyard.serving.errors import BadRequest, ModelLoadError
from dockyard.serving.flavors import load_flavor

Array = npt.NDArray[Any]
PARAMS = {"num_leaves": 4, "min_data_in_leaf": 5, "num_threads": 1, "verbose": -1}


@pytest.fixture(scope="module")
def booster(tabular: tuple[Array, Array]) -> lgb.Booster:
    features, labels = tabular
    return lgb.train(
        {"objective": "binary", **PARAMS}, lgb.Dataset(features, label=labels), num_boost_round=4
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, booster: lgb.Booster) -> Path:
    root = tmp_path_factory.mktemp("lightgbm")
    booster.save_model(root / "model.txt")
    booster.save_model(root / "model.lgb")
    return root


@pytest.mark.parametrize("file_name", ["model.txt", "model.lgb"])
def test_each_file_kind_predicts_like_lightgbm(
    saved: Path, tabular: tuple[Array, Array], booster: lgb.Booster, file_name: str
) -> None:
    features, _ = tabular
    model = load_flavor(saved, None, {"model_file": file_name})
    assert (model.flavor, model.model_file) == ("lightgbm", saved / file_name)
    np.testing.assert_allclose(model.predict(features), booster.predict(features))
    np.testing.assert_allclose(model.predict(features[:1], None), booster.predict(features[:1]))


def test_margin_output(saved: Path, tabular: tuple[Array, Array], booster: lgb.Booster) -> None:
    features, _ = tabular
    model = load_flavor(saved, "lightgbm", {"model_file": "model.txt", "output": "margin", "threads": "2"})
    np.testing.assert_allclose(model.predict(features), booster.predict(features, raw_score=True))
    assert repr(model) == "<lightgbm model model.txt: output=margin>"


def test_a_booster_saved_from_the_sklearn_wrapper(tmp_path: Path, tabular: tuple[Array, Array]) -> None:
    features, labels = tabular
    classifier = lgb.LGBMClassifier(n_estimators=3, num_leaves=4, min_child_samples=5, n_jobs=1, verbose=-1)
    classifier.fit(features, labels)
    classifier.booster_.save_model(tmp_path / "model.txt")
    model = load_flavor(tmp_path, None, {})
    np.testing.assert_allclose(model.predict(features), classifier.predict_proba(features)[:, 1])


def test_multiclass_probabilities(tmp_path: Path, tabular: tuple[Array, Array]) -> None:
    features, _ = tabular
    labels = np.arange(len(features)) % 3
    params = {"objective": "multiclass", "num_class": 3, **PARAMS}
    booster = lgb.train(params, lgb.Dataset(features, label=labels), num_boost_round=2)
    booster.save_model(tmp_path / "model.lgb")
    result = load_flavor(tmp_path, None, {}).predict(features)
    assert result.shape == (len(features), 3)
    np.testing.assert_allclose(result, booster.predict(features))


def test_bad_requests_raise_informative_errors(saved: Path, tabular: tuple[Array, Array]) -> None:
    features, _ = tabular
    model = load_flavor(saved, None, {"model_file": "model.txt"})
    expected = r"^the lightgbm model takes rows of 4 features, shape \(rows, 4\); the request has shape "
    with pytest.raises(BadRequest, match=expected + r"\(60, 3\)$"):
        model.predict(features[:, :3])
    with pytest.raises(BadRequest, match=expected + r"\(4,\)$"):
        model.predict(features[0])
    with pytest.raises(BadRequest, match=expected + r"\(2, 4, 1\)$"):
        model.predict(np.zeros((2, 4, 1)))
    with pytest.raises(
        BadRequest, match=r"^the lightgbm model takes numbers; the request has strings \(<U1\)$"
    ):
        model.predict(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(BadRequest, match=r"^the lightgbm flavor takes one array, but the request has named"):
        model.predict({"x": features})
    # Missing values are LightGBM's to handle, not an error.
    assert model.predict(np.array([[np.nan, 1.0, np.inf, 0.0]])).shape == (1,)


def test_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "model.lgb").write_text("tree\nversion=v4\nnonsense")
    with pytest.raises(ModelLoadError, match=r"^could not load model\.lgb with lightgbm: LightGBMError: "):
        load_flavor(tmp_path, None, {})
