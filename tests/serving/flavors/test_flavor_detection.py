"""Choosing a flavor: by name, from the model directory's files, or from the model_file option.

Detection only looks at names and first bytes, so these tests use stand-in files, not real models.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dockyard.serving.errors import ModelLoadError
from dockyard.serving.flavors import detect_flavor, flavor_names, get_flavor, load_flavor
from dockyard.serving.flavors.base import describe_dir, require

XGBOOST_JSON = json.dumps({"learner": {"attributes": {}, "feature_names": []}, "version": [3, 2, 0]})
LIGHTGBM_TEXT = "tree\nversion=v4\nnum_class=1\n"


def torchscript_zip(path: Path, *, script: bool = True) -> None:
    """The layout torch.jit.save writes (script=True) or torch.save writes (script=False)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", b"")
        archive.writestr("model/version", b"3")
        if script:
            archive.writestr("model/constants.pkl", b"")
            archive.writestr("model/code/__torch__.py", b"")


def make_dir(root: Path, *names: str) -> Path:
    """A model directory holding stand-ins for ``names`` (contents chosen by suffix)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            path.write_text(XGBOOST_JSON)
        elif path.suffix == ".txt":
            path.write_text(LIGHTGBM_TEXT)
        elif path.suffix in (".pt", ".pth", ".torchscript"):
            torchscript_zip(path)
        else:
            path.write_bytes(b"not really a model")
    return root


def test_names_in_a_stable_order() -> None:
    assert flavor_names() == ("sklearn", "xgboost", "lightgbm", "onnx", "torchscript")
    assert [get_flavor(name).name for name in flavor_names()] == list(flavor_names())
    assert get_flavor(" SKLearn ").name == "sklearn"


def test_unknown_name_lists_the_flavors() -> None:
    with pytest.raises(
        ModelLoadError, match=r"unknown flavor 'pytorch'; the built-in flavors are sklearn, xgboost"
    ):
        get_flavor("pytorch")


@pytest.mark.parametrize(
    ("file_name", "flavor"),
    [
        ("model.joblib", "sklearn"),
        ("model.pkl", "sklearn"),
        ("model.pickle", "sklearn"),
        ("model.skops", "sklearn"),
        ("MODEL.PKL", "sklearn"),
        ("model.ubj", "xgboost"),
        ("model.xgb", "xgboost"),
        ("model.bst", "xgboost"),
        ("xgboost-model.json", "xgboost"),
        ("model.lgb", "lightgbm"),
        ("model.txt", "lightgbm"),
        ("model.onnx", "onnx"),
        ("model.pt", "torchscript"),
        ("model.pth", "torchscript"),
        ("model.torchscript", "torchscript"),
    ],
)
def test_detects_each_kind_of_file(tmp_path: Path, file_name: str, flavor: str) -> None:
    model_dir = make_dir(tmp_path, file_name)
    assert detect_flavor(model_dir).name == flavor
    assert get_flavor(flavor).matches(model_dir) == [model_dir / file_name]


def test_sniffs_json_and_text(tmp_path: Path) -> None:
    model_dir = make_dir(tmp_path, "model.onnx")
    (model_dir / "config.json").write_text('{"threshold": 0.5, "labels": ["no", "yes"]}')
    (model_dir / "notes.txt").write_text("trained on 2024-05-01\n")
    (model_dir / "empty.json").write_text("")
    (model_dir / "pretty.json").write_text(json.dumps(json.loads(XGBOOST_JSON), indent=2))
    assert get_flavor("xgboost").matches(model_dir) == [model_dir / "pretty.json"]
    assert get_flavor("lightgbm").matches(model_dir) == []
    (model_dir / "pretty.json").unlink()
    assert detect_flavor(model_dir).name == "onnx"


def test_sniffs_torchscript_archives(tmp_path: Path) -> None:
    model_dir = make_dir(tmp_path, "model.onnx")
    torchscript_zip(model_dir / "state_dict.pt", script=False)  # torch.save: not loadable without code
    (model_dir / "weights.pth").write_bytes(b"\x80\x02legacy pickle")
    assert get_flavor("torchscript").matches(model_dir) == []
    assert detect_flavor(model_dir).name == "onnx"


def test_ignores_code_subdirectories_and_hidden_files(tmp_path: Path) -> None:
    model_dir = make_dir(tmp_path, "model.onnx", "code/inference.py", "code/helper.joblib", ".cache.pkl")
    (model_dir / "data").mkdir()
    (model_dir / "data" / "model.joblib").write_bytes(b"")
    assert detect_flavor(model_dir).name == "onnx"


def test_no_model_file_says_what_was_found_and_what_loads(tmp_path: Path) -> None:
    model_dir = make_dir(tmp_path, "code/inference.py", "README.md", "state_dict.pt")
    torchscript_zip(model_dir / "state_dict.pt", script=False)
    with pytest.raises(ModelLoadError) as caught:
        detect_flavor(model_dir)
    message = str(caught.value)
    assert message.startswith(f"no model file in {model_dir} (it holds README.md, code/, state_dict.pt); ")
    assert "sklearn: *.joblib, *.pkl, *.pickle (joblib or pickle) and *.skops" in message
    assert "torchscript: *.pt, *.pth and *.torchscript saved by torch.jit.save (not torch.save)" in message
    assert message.endswith("anything else needs a handler")


def test_empty_and_missing_directories(tmp_path: Path) -> None:
    with pytest.raises(
        ModelLoadError, match=r"^no model file in .* \(it is empty\); the built-in flavors load"
    ):
        detect_flavor(tmp_path)
    with pytest.raises(ModelLoadError, match=r"^the model directory .*/missing does not exist$"):
        detect_flavor(tmp_path / "missing")
    (tmp_path / "file").write_text("")
    with pytest.raises(ModelLoadError, match=r"^the model directory .*/file is not a directory$"):
        load_flavor(tmp_path / "file", "sklearn", {})


def test_long_listings_are_cut(tmp_path: Path) -> None:
    make_dir(tmp_path, *(f"part-{index:02}.csv" for index in range(15)))
    assert (
        describe_dir(tmp_path)
        == "it holds " + ", ".join(f"part-{i:02}.csv" for i in range(12)) + " and 3 more"
    )


def test_several_flavors_say_how_to_choose(tmp_path: Path) -> None:
    model_dir = make_dir(tmp_path, "model.joblib", "model.onnx")
    with pytest.raises(ModelLoadError) as caught:
        detect_flavor(model_dir)
    assert str(caught.value) == (
        f"several model files in {model_dir} could be loaded (model.joblib (sklearn), model.onnx (onnx)); "
        "choose one with the flavor setting and the model_file option"
    )


def test_several_files_of_one_flavor_need_model_file(tmp_path: Path) -> None:
    model_dir = make_dir(tmp_path, "a.joblib", "b.skops")
    with pytest.raises(
        ModelLoadError, match=r"\(a\.joblib \(sklearn\), b\.skops \(sklearn\)\); choose one with the "
    ):
        detect_flavor(model_dir)
    with pytest.raises(ModelLoadError) as caught:
        load_flavor(model_dir, "sklearn", {})
    assert str(caught.value) == (
        f"several sklearn model files in {model_dir} (a.joblib, b.skops); "
        "choose one with the model_file option"
    )


def test_named_flavor_without_its_file(tmp_path: Path) -> None:
    model_dir = make_dir(tmp_path, "model.onnx")
    with pytest.raises(ModelLoadError) as caught:
        load_flavor(model_dir, "xgboost", {})
    assert str(caught.value) == (
        f"no xgboost model file in {model_dir} (it holds model.onnx); "
        "the xgboost flavor loads *.ubj, *.xgb, *.bst and *.json saved by XGBoost's save_model"
    )


def test_model_file_picks_the_flavor_and_the_file(tmp_path: Path) -> None:
    model_dir = make_dir(tmp_path, "model.joblib", "model.onnx", "extra/other.joblib")
    # The stand-ins are not models: the loader's error shows which flavor and file were chosen.
    with pytest.raises(ModelLoadError, match=r"^could not load model\.onnx with onnxruntime: "):
        load_flavor(model_dir, None, {"model_file": "model.onnx"})
    with pytest.raises(ModelLoadError, match=r"^could not load other\.joblib with joblib: "):
        load_flavor(model_dir, None, {"model_file": "extra/other.joblib"})


def test_model_file_errors(tmp_path: Path) -> None:
    model_dir = make_dir(tmp_path, "model.joblib", "weights.bin")
    with pytest.raises(ModelLoadError) as caught:
        load_flavor(model_dir, None, {"model_file": "model.onnx"})
    assert str(caught.value) == (
        f"option model_file=model.onnx names no file in {model_dir} (it holds model.joblib, weights.bin)"
    )
    with pytest.raises(ModelLoadError, match=r"^option model_file=model\.onnx names no file in "):
        load_flavor(model_dir, "onnx", {"model_file": "model.onnx"})
    with pytest.raises(ModelLoadError) as caught:
        load_flavor(model_dir, None, {"model_file": "weights.bin"})
    assert str(caught.value) == (
        "no built-in flavor recognizes weights.bin (option model_file); "
        "name its flavor with the flavor setting (sklearn, xgboost, lightgbm, onnx, torchscript)"
    )
    # With a named flavor any file goes to its loader.
    with pytest.raises(ModelLoadError, match=r"^could not load weights\.bin with joblib: "):
        load_flavor(model_dir, "sklearn", {"model_file": "weights.bin"})


@pytest.mark.parametrize(
    ("flavor", "options", "message"),
    [
        (
            "sklearn",
            {"predict_methd": "predict", "threads": "2"},
            "unknown options for the sklearn flavor: predict_methd, threads "
            "(it takes model_file, predict_method, trusted_types)",
        ),
        (
            "xgboost",
            {"outptu": "margin"},
            "unknown option for the xgboost flavor: outptu (it takes model_file, output, threads)",
        ),
        (
            "lightgbm",
            {"output": "probability"},
            "option output must be one of value, margin, got 'probability'",
        ),
        ("onnx", {"threads": "0"}, "option threads must be a positive integer, got '0'"),
        ("torchscript", {"threads": "two"}, "option threads must be a positive integer, got 'two'"),
        (
            "torchscript",
            {"output": "value"},
            "unknown option for the torchscript flavor: output (it takes model_file, threads)",
        ),
        (
            "sklearn",
            {"predict_method": "predict_probs"},
            "option predict_method must be one of predict, predict_proba, predict_log_proba, "
            "decision_function, transform, got 'predict_probs'",
        ),
    ],
)
def test_options_are_checked_before_loading(
    tmp_path: Path, flavor: str, options: dict[str, str], message: str
) -> None:
    # The directory holds nothing loadable: option errors must come first.
    with pytest.raises(ModelLoadError) as caught:
        load_flavor(tmp_path, flavor, options)
    assert str(caught.value) == message


def test_missing_library_is_named() -> None:
    with pytest.raises(
        ModelLoadError, match=r"^the onnx flavor needs the onnxruntime package, which cannot be"
    ):
        require("dockyard_no_such_module", "onnx", "onnxruntime")


def test_importing_the_package_imports_no_ml_library(tmp_path: Path) -> None:
    make_dir(tmp_path, "model.joblib")
    libraries = ("sklearn", "joblib", "skops", "xgboost", "lightgbm", "onnxruntime", "torch")
    code = (
        "import sys; from dockyard.serving.flavors import detect_flavor; "
        f"detect_flavor({str(tmp_path)!r}); print([name for name in {libraries!r} if name in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
