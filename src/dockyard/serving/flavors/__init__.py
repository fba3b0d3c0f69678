"""Built-in model flavors: how the server loads a model when the user gives no handler.

A flavor is chosen by name (the ``flavor`` setting) or detected from the files at the top of the model
directory (``code/`` and hidden files are ignored): exactly one file of one flavor must be there, unless
the ``model_file`` option names it. Importing this package imports no ML library.

=============  ======================================================  ===============================
flavor         files                                                   options (besides model_file)
=============  ======================================================  ===============================
sklearn        *.joblib, *.pkl, *.pickle, *.skops                      predict_method, trusted_types
xgboost        *.ubj, *.xgb, *.bst, *.json holding an XGBoost model    output, threads
lightgbm       *.lgb, *.txt holding a LightGBM text model              output, threads
onnx           *.onnx                                                  output_names, threads
torchscript    *.pt, *.pth, *.torchscript that are TorchScript zips    threads
=============  ======================================================  ===============================
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dockyard.serving.errors import ModelLoadError
from dockyard.serving.flavors.base import MODEL_FILE, Flavor, LoadedModel, describe_dir, require_dir
from dockyard.serving.flavors.lightgbm import LightGBMFlavor
from dockyard.serving.flavors.onnx import OnnxFlavor
from dockyard.serving.flavors.sklearn import SklearnFlavor
from dockyard.serving.flavors.torchscript import TorchScriptFlavor
from dockyard.serving.flavors.xgboost import XGBoostFlavor

__all__ = ["Flavor", "LoadedModel", "detect_flavor", "flavor_names", "get_flavor", "load_flavor"]

_FLAVORS: dict[str, Flavor] = {
    flavor.name: flavor
    for flavor in (SklearnFlavor(), XGBoostFlavor(), LightGBMFlavor(), OnnxFlavor(), TorchScriptFlavor())
}


def flavor_names() -> tuple[str, ...]:
    return tuple(_FLAVORS)


def get_flavor(name: str) -> Flavor:
    flavor = _FLAVORS.get(name.strip().lower())
    if flavor is None:
        raise ModelLoadError(f"unknown flavor {name!r}; the built-in flavors are {', '.join(_FLAVORS)}")
    return flavor


def detect_flavor(model_dir: Path) -> Flavor:
    """The flavor of the one model file at the top of ``model_dir``."""
    model_dir = Path(model_dir)
    require_dir(model_dir)
    found = [(flavor, path) for flavor in _FLAVORS.values() for path in flavor.matches(model_dir)]
    if len(found) == 1:
        return found[0][0]
    if not found:
        accepted = "; ".join(f"{flavor.name}: {flavor.accepts}" for flavor in _FLAVORS.values())
        raise ModelLoadError(
            f"no model file in {model_dir} ({describe_dir(model_dir)}); the built-in flavors load "
            f"{accepted} — anything else needs a handler"
        )
    names = ", ".join(f"{path.name} ({flavor.name})" for flavor, path in found)
    if len({flavor.name for flavor, _ in found}) == 1:
        how = f"the {MODEL_FILE} option"
    else:
        how = f"the flavor setting and the {MODEL_FILE} option"
    raise ModelLoadError(
        f"several model files in {model_dir} could be loaded ({names}); choose one with {how}"
    )


def _flavor_of_file(model_dir: Path, model_file: str) -> Flavor:
    require_dir(model_dir)
    path = model_dir / model_file
    if not path.is_file():
        raise ModelLoadError(
            f"option {MODEL_FILE}={model_file} names no file in {model_dir} ({describe_dir(model_dir)})"
        )
    for flavor in _FLAVORS.values():
        if path in flavor.matches(path.parent):
            return flavor
    raise ModelLoadError(
        f"no built-in flavor recognizes {model_file} (option {MODEL_FILE}); "
        f"name its flavor with the flavor setting ({', '.join(_FLAVORS)})"
    )


def load_flavor(model_dir: Path, name: str | None, options: Mapping[str, str]) -> LoadedModel:
    """Load the model in ``model_dir`` with flavor ``name``, or the flavor its files show."""
    model_dir = Path(model_dir)
    if name:
        flavor = get_flavor(name)
    elif options.get(MODEL_FILE, "").strip():
        flavor = _flavor_of_file(model_dir, options[MODEL_FILE].strip())
    else:
        flavor = detect_flavor(model_dir)
    return flavor.load(model_dir, options)
