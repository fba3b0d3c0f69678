"""The onnx flavor against onnxruntime and scikit-learn, with skl2onnx exports and hand-built graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression, LogisticRegression

from dockyard.serving.errors import BadRequest, ModelLoadError
from dockyard.serving.flavors import load_flavor

Array = npt.NDArray[Any]


def write(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path.parent


def two_input_graph() -> onnx.ModelProto:
    """total = a + b (float), ids passed through (int64): named inputs of different types."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["total"]), helper.make_node("Identity", ["ids"], ["same_ids"])],
        "two_inputs",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 2]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 2]),
            helper.make_tensor_value_info("ids", TensorProto.INT64, [None]),
        ],
        [
            helper.make_tensor_value_info("total", TensorProto.FLOAT, [None, 2]),
            helper.make_tensor_value_info("same_ids", TensorProto.INT64, [None]),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.fixture(scope="module")
def classifier(tabular: tuple[Array, Array]) -> LogisticRegression:
    return LogisticRegression().fit(*tabular)


@pytest.fixture(scope="module")
def zipmap_dir(tmp_path_factory: pytest.TempPathFactory, classifier: LogisticRegression) -> Path:
    """skl2onnx's default classifier export: label plus a ZipMap of probabilities."""
    example = np.zeros((1, 4), dtype=np.float32)
    return write(to_onnx(classifier, example), tmp_path_factory.mktemp("onnx") / "model.onnx")


def test_classifier_outputs_by_name(
    zipmap_dir: Path, tabular: tuple[Array, Array], classifier: LogisticRegression
) -> None:
    features, _ = tabular
    model = load_flavor(zipmap_dir, None, {})
    assert (model.flavor, model.model_file) == ("onnx", zipmap_dir / "model.onnx")
    result = model.predict(features)  # float64: cast to the declared float32
    assert isinstance(result, dict)
    assert list(result) == ["output_label", "output_probability"]
    np.testing.assert_array_equal(result["output_label"], classifier.predict(features))
    np.testing.assert_allclose(
        result["output_probability"], classifier.predict_proba(features), rtol=1e-4, atol=1e-6
    )
    assert repr(model) == "<onnx model model.onnx: X -> output_label, output_probability>"


def test_output_names_picks_outputs(
    zipmap_dir: Path, tabular: tuple[Array, Array], classifier: LogisticRegression
) -> None:
    features, _ = tabular
    model = load_flavor(zipmap_dir, "onnx", {"output_names": "output_probability"})
    probabilities = model.predict(features[:1].astype(np.float32), None)
    assert isinstance(probabilities, np.ndarray)
    np.testing.assert_allclose(probabilities, classifier.predict_proba(features[:1]), rtol=1e-4, atol=1e-6)
    with pytest.raises(ModelLoadError) as caught:
        load_flavor(zipmap_dir, "onnx", {"output_names": "label;probabilities"})
    assert str(caught.value) == (
        "option output_names names outputs model.onnx does not have (label, probabilities); "
        "its outputs are output_label, output_probability"
    )


def test_a_regressor_gives_one_array(tmp_path: Path, tabular: tuple[Array, Array]) -> None:
    features, _ = tabular
    regressor = LinearRegression().fit(features, features @ np.array([1.0, -2.0, 0.5, 3.0]))
    model = load_flavor(
        write(to_onnx(regressor, features[:1].astype(np.float32)), tmp_path / "m.onnx"), None, {}
    )
    result = model.predict(features)
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(result.ravel(), regressor.predict(features), rtol=1e-4, atol=1e-4)


def test_named_inputs_are_cast_to_their_declared_types(tmp_path: Path) -> None:
    model = load_flavor(write(two_input_graph(), tmp_path / "model.onnx"), None, {"threads": "2"})
    a = np.array([[1.0, 2.0]])
    b = np.array([[10, 20]])  # int64 into a float input
    ids = np.array([7, 8], dtype=np.int32)  # int32 into an int64 input
    result = model.predict({"a": a, "b": b, "ids": ids})
    assert isinstance(result, dict)
    np.testing.assert_array_equal(result["total"], np.array([[11.0, 22.0]], dtype=np.float32))
    assert result["same_ids"].dtype == np.int64
    np.testing.assert_array_equal(result["same_ids"], [7, 8])
    session: ort.InferenceSession = model.session  # type: ignore[attr-defined]
    assert session.get_session_options().intra_op_num_threads == 2
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_bad_requests_raise_informative_errors(
    tmp_path: Path, zipmap_dir: Path, tabular: tuple[Array, Array]
) -> None:
    features, _ = tabular
    two = load_flavor(write(two_input_graph(), tmp_path / "model.onnx"), None, {})
    with pytest.raises(
        BadRequest, match=r"^the model has inputs a, b, ids; send named inputs, not one array$"
    ):
        two.predict(np.zeros((1, 2)))
    with pytest.raises(
        BadRequest, match=r"^input 'ids' is int64, and the request's float64 cannot be cast to it$"
    ):
        two.predict({"a": np.zeros((1, 2)), "b": np.zeros((1, 2)), "ids": np.array([1.5])})
    with pytest.raises(
        BadRequest,
        match=r"^the model's inputs are a, b, ids; the request lacks ids and has unknown inputs c$",
    ):
        two.predict({"a": np.zeros((1, 2)), "b": np.zeros((1, 2)), "c": np.zeros(1)})
    one = load_flavor(zipmap_dir, None, {})
    declared = one.session.get_inputs()[0].shape  # type: ignore[attr-defined]
    assert declared[1] == 4
    with pytest.raises(
        BadRequest, match=r"^input 'X' takes shape \(rows, 4\); the request has shape \(60, 3\)$"
    ):
        one.predict(features[:, :3])
    with pytest.raises(
        BadRequest, match=r"^input 'X' takes shape \(rows, 4\); the request has shape \(2, 4, 1\)$"
    ):
        one.predict(np.zeros((2, 4, 1)))
    with pytest.raises(
        BadRequest, match=r"^input 'X' is float\d+, and the request's <U1 cannot be cast to it$"
    ):
        one.predict(np.array([["a", "b", "c", "d"]]))


def test_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match=r"^could not load model\.onnx with onnxruntime: \w+: "):
        load_flavor(tmp_path, None, {})
