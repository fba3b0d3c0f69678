"""The sklearn flavor against scikit-learn's own predictions, for joblib, pickle and skops files."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from dockyard.serving.errors import BadRequest, ModelLoadError
from dockyard.serving.flavors import load_flavor

Array = npt.NDArray[Any]


def save(estimator: object, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".skops":
        sio.dump(estimator, path)
    elif path.suffix == ".joblib":
        joblib.dump(estimator, path)
    else:
        with path.open("wb") as file:
            pickle.dump(estimator, file)
    return path.parent


@pytest.fixture(scope="module")
def classifier(tabular: tuple[Array, Array]) -> LogisticRegression:
    return LogisticRegression().fit(*tabular)


@pytest.fixture(scope="module")
def pipeline(tabular: tuple[Array, Array]) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(*tabular)


@pytest.mark.parametrize("file_name", ["model.joblib", "model.pkl", "model.pickle", "model.skops"])
def test_each_format_predicts_like_sklearn(
    tmp_path: Path, tabular: tuple[Array, Array], classifier: LogisticRegression, file_name: str
) -> None:
    features, _ = tabular
    model = load_flavor(save(classifier, tmp_path / file_name), None, {})
    assert model.flavor == "sklearn"
    assert model.model_file == tmp_path / file_name
    np.testing.assert_array_equal(model.predict(features), classifier.predict(features))
    np.testing.assert_array_equal(model.predict(features[:1], None), classifier.predict(features[:1]))
    assert repr(model) == f"<sklearn model {file_name}: LogisticRegression.predict>"


def test_a_skops_pipeline_needs_no_trusted_types(
    tmp_path: Path, tabular: tuple[Array, Array], pipeline: Pipeline
) -> None:
    features, _ = tabular
    model = load_flavor(
        save(pipeline, tmp_path / "model.skops"), "sklearn", {"predict_method": "predict_proba"}
    )
    np.testing.assert_allclose(model.predict(features), pipeline.predict_proba(features))


@pytest.mark.parametrize("method", ["predict_proba", "predict_log_proba", "decision_function"])
def test_predict_method(
    tmp_path: Path, tabular: tuple[Array, Array], classifier: LogisticRegression, method: str
) -> None:
    features, _ = tabular
    model = load_flavor(save(classifier, tmp_path / "model.joblib"), None, {"predict_method": method})
    np.testing.assert_allclose(model.predict(features), getattr(classifier, method)(features))


def test_sparse_transform_output_is_densified(tmp_path: Path) -> None:
    categories = np.array([["red"], ["green"], ["red"], ["blue"]])
    encoder = OneHotEncoder().fit(categories)
    model = load_flavor(save(encoder, tmp_path / "model.joblib"), None, {"predict_method": "transform"})
    result = model.predict(categories)
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, encoder.transform(categories).toarray())


def test_a_method_the_estimator_lacks_fails_at_load(tmp_path: Path, tabular: tuple[Array, Array]) -> None:
    # sklearn hides predict_proba on an SVC fitted without probability=True.
    model_dir = save(SVC().fit(*tabular), tmp_path / "model.joblib")
    with pytest.raises(ModelLoadError) as caught:
        load_flavor(model_dir, None, {"predict_method": "predict_proba"})
    assert str(caught.value) == (
        "SVC loaded from model.joblib has no predict_proba() method; "
        "set the predict_method option to one it has (predict, decision_function)"
    )


def test_an_object_without_predict(tmp_path: Path) -> None:
    model_dir = save({"weights": [1, 2, 3]}, tmp_path / "model.pkl")
    with pytest.raises(
        ModelLoadError, match=r"^dict loaded from model\.pkl has no predict\(\) method; .*\(none\)$"
    ):
        load_flavor(model_dir, None, {})


def test_skops_refuses_untrusted_types_until_trusted(tmp_path: Path, tabular: tuple[Array, Array]) -> None:
    features, labels = tabular
    forest = RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(features, labels)
    model_dir = save(forest, tmp_path / "model.skops")
    with pytest.raises(ModelLoadError) as caught:
        load_flavor(model_dir, None, {})
    assert str(caught.value) == (
        "model.skops holds types that skops does not trust by default (sklearn.tree._tree.Tree); "
        "if you trust this file, allow them with the trusted_types option, "
        "e.g. trusted_types=sklearn.tree._tree.Tree (separate names with ';' or ',')"
    )
    with pytest.raises(ModelLoadError, match=r"\(sklearn\.tree\._tree\.Tree\)"):
        load_flavor(model_dir, None, {"trusted_types": "numpy.float64"})
    model = load_flavor(model_dir, None, {"trusted_types": "numpy.float64; sklearn.tree._tree.Tree"})
    np.testing.assert_array_equal(model.predict(features), forest.predict(features))


def test_corrupt_files_name_the_file_and_the_loader(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"\x80\x05garbage")
    with pytest.raises(ModelLoadError, match=r"^could not load model\.joblib with joblib: \w+Error: "):
        load_flavor(tmp_path, None, {})
    (tmp_path / "model.joblib").unlink()
    (tmp_path / "model.skops").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match=r"^could not load model\.skops with skops: \w+: "):
        load_flavor(tmp_path, None, {})


def test_bad_requests_raise_informative_errors(
    tmp_path: Path, tabular: tuple[Array, Array], classifier: LogisticRegression
) -> None:
    features, _ = tabular
    model = load_flavor(save(classifier, tmp_path / "model.joblib"), None, {})
    expected = (
        r"^the LogisticRegression model takes rows of 4 features, shape \(rows, 4\); the request has shape "
    )
    with pytest.raises(BadRequest, match=expected + r"\(60, 3\)$"):
        model.predict(features[:, :3])
    with pytest.raises(BadRequest, match=expected + r"\(2, 4, 1\)$"):
        model.predict(np.zeros((2, 4, 1)))
    refused = r"^LogisticRegression refused the input: "
    with pytest.raises(
        BadRequest, match=refused + r"dtype='numeric' is not compatible with arrays of bytes/strings"
    ):
        model.predict(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(BadRequest, match=refused + r"Input X contains NaN"):
        model.predict(np.array([[np.nan, 1.0, 2.0, 3.0]]))
    with pytest.raises(BadRequest, match=refused + r"Input X contains infinity"):
        model.predict(np.array([[np.inf, 1.0, 2.0, 3.0]]))
    with pytest.raises(
        BadRequest, match=r"^the sklearn flavor takes one array, but the request has named inputs \(a, b\)$"
    ):
        model.predict({"a": features, "b": features})
