"""The torchscript flavor against the same modules run by torch in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from dockyard.serving.errors import BadRequest, ModelLoadError
from dockyard.serving.flavors import load_flavor

Array = npt.NDArray[Any]

# torch 2.13 deprecates TorchScript: jit.script/trace/load warn on every call. Serving existing
# TorchScript files is the point of this flavor, so these (and only these) warnings are expected.
pytestmark = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")


class Classifier(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.linear(x), dim=-1)


class TwoHeads(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.linear(x) + offset, x.sum(dim=1)


class Named(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"double": x * 2, "count": torch.tensor(x.shape[0])}


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    torch.manual_seed(0)
    return Classifier().eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, classifier: Classifier) -> Path:
    root = tmp_path_factory.mktemp("torchscript")
    torch.jit.script(classifier).save(str(root / "scripted.pt"))
    torch.jit.trace(classifier, torch.zeros(1, 4)).save(str(root / "traced.pth"))
    torch.jit.script(classifier).save(str(root / "model.torchscript"))
    return root


@pytest.fixture(autouse=True)
def _keep_torch_threads() -> Any:
    """Loading sets torch's process-wide thread count; give other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def expected(module: torch.nn.Module, features: Array) -> Array:
    with torch.no_grad():
        result: Array = module(torch.tensor(np.ascontiguousarray(features), dtype=torch.float32)).numpy()
        return result


@pytest.mark.parametrize("file_name", ["scripted.pt", "traced.pth", "model.torchscript"])
def test_each_file_kind_predicts_like_torch(
    saved: Path, tabular: tuple[Array, Array], classifier: Classifier, file_name: str
) -> None:
    features, _ = tabular
    model = load_flavor(saved, None, {"model_file": file_name})
    assert (model.flavor, model.model_file) == ("torchscript", saved / file_name)
    result = model.predict(features)  # float64 rows: cast to float32
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected(classifier, features), rtol=1e-6)
    assert repr(model) == f"<torchscript model {file_name}: float32 inputs>"


def test_awkward_arrays_are_accepted(
    saved: Path, tabular: tuple[Array, Array], classifier: Classifier
) -> None:
    features, _ = tabular
    model = load_flavor(saved, "torchscript", {"model_file": "scripted.pt", "threads": "2"})
    assert torch.get_num_threads() == 2
    rows = features.astype(np.float32)
    read_only = np.frombuffer(rows.tobytes(), dtype=np.float32).reshape(rows.shape)  # as a request body gives
    np.testing.assert_allclose(model.predict(read_only), expected(classifier, rows), rtol=1e-6)
    reversed_rows = rows[::-1]  # negative strides
    np.testing.assert_allclose(
        model.predict(reversed_rows, None), expected(classifier, reversed_rows), rtol=1e-6
    )


def test_the_default_is_one_thread(saved: Path) -> None:
    torch.set_num_threads(2)
    load_flavor(saved, None, {"model_file": "scripted.pt"})
    assert torch.get_num_threads() == 1


def test_a_double_module_gets_float64(
    tmp_path: Path, tabular: tuple[Array, Array], classifier: Classifier
) -> None:
    features, _ = tabular
    double = torch.jit.script(Classifier().double().eval())
    double.save(str(tmp_path / "model.pt"))
    result = load_flavor(tmp_path, None, {}).predict(features.astype(np.float32))
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float64
    with torch.no_grad():
        np.testing.assert_allclose(result, double(torch.from_numpy(features)).numpy())


def test_named_inputs_and_tuple_outputs(tmp_path: Path, tabular: tuple[Array, Array]) -> None:
    features, _ = tabular
    module = TwoHeads().eval()
    torch.jit.script(module).save(str(tmp_path / "model.pt"))
    result = load_flavor(tmp_path, None, {}).predict({"offset": np.array([1.0, -1.0]), "x": features})
    assert isinstance(result, dict)
    with torch.no_grad():
        heads, sums = module(torch.tensor(features, dtype=torch.float32), torch.tensor([1.0, -1.0]))
    assert list(result) == ["output_0", "output_1"]
    np.testing.assert_allclose(result["output_0"], heads.numpy(), rtol=1e-6)
    np.testing.assert_allclose(result["output_1"], sums.numpy(), rtol=1e-6)


def test_dict_outputs_keep_their_keys(tmp_path: Path) -> None:
    torch.jit.script(Named()).save(str(tmp_path / "model.pt"))
    result = load_flavor(tmp_path, None, {}).predict(np.ones((3, 2), dtype=np.float32))
    assert isinstance(result, dict)
    np.testing.assert_array_equal(result["double"], np.full((3, 2), 2.0))
    np.testing.assert_array_equal(result["count"], 3)


def test_bad_requests_raise_informative_errors(saved: Path, tabular: tuple[Array, Array]) -> None:
    features, _ = tabular
    model = load_flavor(saved, None, {"model_file": "scripted.pt"})
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(60x3 and 4x3\)"):
        model.predict(features[:, :3])
    with pytest.raises(
        BadRequest, match=r"^the torchscript model takes numbers; the request has strings \(<U1\)$"
    ):
        model.predict(np.array([["a", "b", "c", "d"]]))


def test_torch_save_files_are_not_torchscript(tmp_path: Path, classifier: Classifier) -> None:
    torch.save(classifier.state_dict(), tmp_path / "model.pt")
    with pytest.raises(ModelLoadError, match=r"^no model file in .* \(it holds model\.pt\); "):
        load_flavor(tmp_path, None, {})
    with pytest.raises(
        ModelLoadError, match=r"^could not load model\.pt with torch\.jit\.load: RuntimeError: "
    ):
        load_flavor(tmp_path, "torchscript", {"model_file": "model.pt"})


def test_calls_outside_inference_mode_do_not_break_predict(saved: Path, tabular: tuple[Array, Array]) -> None:
    # TorchScript specializes its graph on the first calls; with grad-requiring parameters a graph
    # profiled outside inference_mode fails inside it ("Inference tensors cannot be saved for backward").
    features, _ = tabular
    model = load_flavor(saved, None, {"model_file": "scripted.pt"})
    module: Any = model.module  # type: ignore[attr-defined]
    rows = torch.tensor(features[:2], dtype=torch.float32)
    for _ in range(3):
        module(rows)
    assert isinstance(model.predict(features[:2]), np.ndarray)
