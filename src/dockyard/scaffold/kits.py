"""What each kind of new project needs: its files' names, its libraries, and how its handler loads and
predicts."""

from __future__ import annotations

from dataclasses import dataclass

HANDLER_FILE = "inference.py"
SAMPLE_FILE = "sample.json"
REQUIREMENTS_FILE = "requirements.txt"
MODEL_DIR = "model"
FLAVOR_ALIASES = {"torch": "torchscript"}  # the spelling; the flavor loads TorchScript only
# One row of four numbers (an iris flower): plausible for a tabular model, to be replaced by the user's own.
SAMPLE_REQUEST = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


@dataclass(frozen=True)
class Kit:
    """What one kind of project needs: its libraries, and how the handler template loads and predicts."""

    requirements: tuple[str, ...]
    model_file: str  # the file the handler template loads
    imports: str
    load: str  # model_fn's body
    predict: str  # predict_fn's body
    system_packages: tuple[str, ...] = ()


_JOBLIB = Kit(
    requirements=("scikit-learn", "joblib"),
    model_file="model.joblib",
    imports="import joblib",
    load="return joblib.load(os.path.join(model_dir, MODEL_FILE))",
    predict="return model.predict(data)",
)

KITS: dict[str | None, Kit] = {
    None: _JOBLIB,  # a handler project: the template starts from a joblib-saved scikit-learn model
    "sklearn": _JOBLIB,
    "xgboost": Kit(
        requirements=("xgboost",),
        model_file="model.ubj",
        imports="import xgboost",
        load=(
            "booster = xgboost.Booster()\n"
            "    booster.load_model(os.path.join(model_dir, MODEL_FILE))\n"
            "    return booster"
        ),
        predict="return model.predict(xgboost.DMatrix(data))",
    ),
    "lightgbm": Kit(
        requirements=("lightgbm",),
        model_file="model.txt",
        imports="import lightgbm",
        load="return lightgbm.Booster(model_file=os.path.join(model_dir, MODEL_FILE))",
        predict="return model.predict(data)",
        system_packages=("libgomp1",),  # LightGBM's wheel links against OpenMP, absent from slim images
    ),
    "onnx": Kit(
        requirements=("onnxruntime",),
        model_file="model.onnx",
        imports="import onnxruntime",
        load=(
            "return onnxruntime.InferenceSession(\n"
            '        os.path.join(model_dir, MODEL_FILE), providers=["CPUExecutionProvider"]\n'
            "    )"
        ),
        predict=(
            "# The first output of a model with one input; name others in the dict and the list.\n"
            "    input_name = model.get_inputs()[0].name\n"
            "    return model.run(None, {input_name: data})[0]"
        ),
    ),
    "torchscript": Kit(
        requirements=("torch",),
        model_file="model.pt",
        imports="import torch",
        load=(
            'model = torch.jit.load(os.path.join(model_dir, MODEL_FILE), map_location="cpu")\n'
            "    model.eval()\n"
            "    return model"
        ),
        predict="with torch.no_grad():\n        return model(torch.from_numpy(data)).numpy()",
    ),
}
