"""``dockyard init``: the files of a new project, rendered as text and then written.

Rendering and writing are apart: :func:`plan` decides every file's content (pure, testable);
:func:`write` puts them on disk, refusing to overwrite anything unless forced, and writing nothing
when it refuses. The project file is rendered from the same values the tests compare it with, so
what ``init`` writes is what ``load_config`` reads back.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.config import CONFIG_FILE, FLAVORS, NAME_PATTERN
from dockyard.errors import DockyardError, UsageError

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


@dataclass(frozen=True)
class Scaffold:
    """A planned project: its name, its flavor (None for a handler project) and its files' contents."""

    name: str
    flavor: str | None
    handler_file: str  # inference.py, or inference.py.example (inactive) in a flavor project
    files: dict[str, str]  # relative path -> text, in the order they are written
    values: dict[str, Any]  # the [project] values dockyard.toml holds


def project_name(directory: Path) -> str:
    """The directory's name made to fit SageMaker's pattern (lower-case too, as Docker repositories are)."""
    text = unicodedata.normalize("NFKD", directory.resolve().name).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].rstrip("-")
    return name or "model"


def resolve_flavor(flavor: str | None, handler: bool) -> str | None:
    """The flavor's canonical name, or None for a handler project; UsageError for a bad choice."""
    if flavor is None:
        return None
    if handler:
        raise UsageError("choose --flavor (a built-in loader) or --handler (your own inference.py), not both")
    canonical = FLAVOR_ALIASES.get(flavor.strip().lower(), flavor.strip().lower())
    if canonical not in FLAVORS:
        raise UsageError(f"unknown flavor {flavor!r}; choose one of {', '.join(FLAVORS)}")
    return canonical


def plan(
    directory: Path, *, name: str | None = None, flavor: str | None = None, handler: bool = False
) -> Scaffold:
    """Every file of a new project in ``directory``, rendered; nothing is written."""
    flavor = resolve_flavor(flavor, handler)
    if name is None:
        name = project_name(directory)
    elif not re.fullmatch(NAME_PATTERN, name):
        raise UsageError(
            f"--name {name!r} does not fit SageMaker's names: letters, digits and single or repeated "
            "hyphens, starting and ending with a letter or digit, at most 63 characters"
        )
    kit = KITS[flavor]
    values: dict[str, Any] = {
        "name": name,
        "model": MODEL_DIR,
        "flavor": flavor,
        "handler": None if flavor else HANDLER_FILE,
        "python": "3.11",
        "requirements": [],
        "requirements_file": REQUIREMENTS_FILE,
        "system_packages": list(kit.system_packages),
        "base_image": "python:3.11-slim",
        "instance_type": "ml.m5.large",
        "sample_request": SAMPLE_FILE,
        "sample_content_type": None,
        "environment": {},
        "dockerfile": None,
    }
    handler_file = f"{HANDLER_FILE}.example" if flavor else HANDLER_FILE
    files = {
        CONFIG_FILE: render_config(values),
        handler_file: render_handler(name, flavor),
        SAMPLE_FILE: json.dumps(SAMPLE_REQUEST) + "\n",
        REQUIREMENTS_FILE: render_requirements(flavor),
        f"{MODEL_DIR}/README.md": render_model_readme(flavor),
    }
    return Scaffold(name=name, flavor=flavor, handler_file=handler_file, files=files, values=values)


def write(directory: Path, scaffold: Scaffold, *, force: bool = False) -> list[Path]:
    """Write the planned files under ``directory`` (created if missing); the paths written, in order.

    Every check runs before the first byte is written: a file where a directory must go, a directory
    where a file must go, and (without ``force``) any planned file that already exists.
    """
    try:
        return _write(directory, scaffold, force)
    except OSError as exc:
        raise DockyardError(f"cannot write {exc.filename or directory}: {exc.strerror}") from None


def _write(directory: Path, scaffold: Scaffold, force: bool) -> list[Path]:
    if directory.is_file():
        raise UsageError(f"{directory} is a file; give dockyard init a directory")
    targets = [directory / relative for relative in scaffold.files]
    for path in targets:
        if path.parent.is_file():
            raise UsageError(f"{path.parent} is a file; dockyard init needs a directory there")
        if path.is_dir():
            raise UsageError(f"{path} is a directory; dockyard init needs to write a file there")
    existing = [path for path in targets if path.exists() or path.is_symlink()]
    if existing and not force:
        names = ", ".join(str(path) for path in existing)
        raise UsageError(
            f"dockyard init would overwrite {names}; move them away or pass --force to replace them"
        )
    for path, text in zip(targets, scaffold.files.values(), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():  # replace the link itself, never the file it points to
            path.unlink()
        path.write_text(text, encoding="utf-8", newline="\n")
    return targets


def init_project(
    directory: Path,
    *,
    name: str | None = None,
    flavor: str | None = None,
    handler: bool = False,
    force: bool = False,
) -> tuple[Scaffold, list[Path]]:
    """Plan and write a new project: what ``dockyard init`` does."""
    scaffold = plan(directory, name=name, flavor=flavor, handler=handler)
    return scaffold, write(directory, scaffold, force=force)


# --- rendering -----------------------------------------------------------------------------------


def _toml(value: Any) -> str:
    """A TOML value for the few shapes dockyard.toml holds: strings, lists of strings, string tables."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml(key)} = {_toml(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__} as TOML")


def _key(values: dict[str, Any], key: str, comment: str, example: str = "") -> str:
    """One documented key: its comment, then ``key = value``, or a commented-out example when unset."""
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    value = values[key]
    lines.append(f"# {key} = {example}" if value is None else f"{key} = {_toml(value)}")
    return "\n".join(lines)


def render_config(values: dict[str, Any]) -> str:
    flavor = values["flavor"]
    if flavor:
        flavor_comment = (
            f"The built-in loader of the model file in `model`: {', '.join(FLAVORS)}.\n"
            "It decodes JSON, CSV, NPY and NPZ requests and calls the model's predict."
        )
        handler_comment = (
            "Your own request handling instead of the flavor: remove `flavor`, rename\n"
            f"{HANDLER_FILE}.example to {HANDLER_FILE}, and set this."
        )
    else:
        flavor_comment = (
            f"A built-in loader instead of {HANDLER_FILE} ({', '.join(FLAVORS)}):\n"
            "set this and remove `handler`."
        )
        handler_comment = (
            "Your request handling: model_fn/input_fn/predict_fn/output_fn as in SageMaker's inference\n"
            "toolkit (dockyard puts it in the image as code/inference.py)."
        )
    keys = [
        _key(
            values,
            "name",
            "The project's name: the image and SageMaker's model and endpoint names derive from it.\n"
            "Letters, digits and hyphens, at most 63 characters.",
        ),
        _key(
            values,
            "model",
            "The model directory: packed into model.tar.gz and unpacked, read-only, at /opt/ml/model.",
        ),
        _key(values, "flavor", flavor_comment, '"sklearn"'),
        _key(values, "handler", handler_comment, f'"{HANDLER_FILE}"'),
        _key(values, "python", "The Python version in the image (3.x)."),
        _key(
            values,
            "requirements",
            'pip requirements of the model, e.g. ["scikit-learn==1.5.2"], besides requirements_file.',
        ),
        _key(
            values,
            "requirements_file",
            "A pip requirements file for the image (pin the versions the model was trained with).",
            f'"{REQUIREMENTS_FILE}"',
        ),
        _key(values, "system_packages", 'Debian packages installed with apt, e.g. ["libgomp1"].'),
        _key(
            values,
            "base_image",
            "The image dockyard builds on; it must have the Python version above.",
        ),
        _key(
            values,
            "instance_type",
            "The SageMaker instance type to deploy to; `dockyard run` gives the container its vCPUs\n"
            "and memory.",
        ),
        _key(
            values,
            "sample_request",
            "A request `dockyard run` and `dockyard check` send to /invocations; its extension gives the\n"
            f"content type. {SAMPLE_FILE} holds one made-up row of four numbers: replace it with a\n"
            "request your model accepts.",
            f'"{SAMPLE_FILE}"',
        ),
        _key(
            values,
            "sample_content_type",
            "The sample's content type, when its extension (.json .jsonl .csv .npy .npz) does not tell it.",
            '"application/json"',
        ),
        _key(
            values,
            "environment",
            'Environment variables of the container, e.g. { SAGEMAKER_MODEL_SERVER_WORKERS = "2" }.',
        ),
        _key(
            values,
            "dockerfile",
            "Your own Dockerfile, built instead of the one dockyard renders (it must run `serve` on 8080).",
            '"Dockerfile"',
        ),
    ]
    return (
        "# dockyard project file: `dockyard build` reads it to make the image, `dockyard run` and\n"
        "# `dockyard check` to test it. Paths are relative to this file.\n"
        "\n[project]\n" + "\n\n".join(keys) + "\n\n" + _BUILD_SECTION
    )


_BUILD_SECTION = """\
# Build options, all optional:
# [build]
# platform = "linux/amd64"        # SageMaker runs amd64 images (arm64 on Graviton instances)
# pip_index_url = "https://pypi.example.com/simple"   # a mirror; never left in an image layer
# extra_ca_certs = ["corporate-ca.pem"]               # PEM files trusted during the build only
# network_mode = "host"           # when the build needs the host's network
# include_model = false           # true puts the model in the image too
"""


def render_requirements(flavor: str | None) -> str:
    kit = KITS[flavor]
    lines = [
        "# Python packages the model needs in the image (one pip requirement a line).",
        "# Pin each to the version the model was trained with (e.g. `pip freeze | grep -i NAME`):",
        "# a model saved by one version may not load, or may predict differently, in another.",
    ]
    if flavor == "torchscript":
        lines.append(
            "# CPU-only wheels are far smaller: --extra-index-url https://download.pytorch.org/whl/cpu"
        )
    return "\n".join([*lines, *kit.requirements]) + "\n"


def render_model_readme(flavor: str | None) -> str:
    kit = KITS[flavor]
    if flavor:
        from dockyard.serving.flavors import get_flavor

        what = (
            f"Put the model file here: the {flavor} flavor loads {get_flavor(flavor).accepts}\n"
            f"({HANDLER_FILE}.example's model_fn expects {kit.model_file})."
        )
    else:
        what = (
            f"Put the model files here: {HANDLER_FILE}'s model_fn loads {kit.model_file} from this directory."
        )
    return (
        f"{what}\n\n"
        "dockyard packs this directory into model.tar.gz; the container sees it, read-only, at\n"
        "/opt/ml/model.\n"
    )


def render_handler(name: str, flavor: str | None) -> str:
    kit = KITS[flavor]
    if flavor:
        status = (
            f'Not used while dockyard.toml sets `flavor = "{flavor}"`: to take over, rename this file to\n'
            f'{HANDLER_FILE}, set `handler = "{HANDLER_FILE}"` and remove `flavor`.'
        )
    else:
        status = f'dockyard.toml points at it with `handler = "{HANDLER_FILE}"`.'
    return _HANDLER_TEMPLATE.format(
        name=name,
        status=status,
        imports="\n".join(sorted(["import numpy as np", kit.imports])),
        model_file=kit.model_file,
        load=kit.load,
        predict=kit.predict,
    )


_HANDLER_TEMPLATE = '''\
"""How {name} answers requests: SageMaker inference-toolkit functions, served by dockyard.

{status}

The server calls these functions (SageMaker's own inference toolkit calls them the same way):

    model_fn(model_dir)                   once per worker: load the model
    input_fn(request_body, content_type)  per request: the body -> the model's input
    predict_fn(data, model)               per request: the input -> the prediction
    output_fn(prediction, accept)         per request: the prediction -> the response body

Delete those you do not need: dockyard's defaults then decode JSON, CSV, NPY and NPZ bodies, call
model.predict, and encode the answer as the Accept header asks. Each function may take one more
argument, `context`, the request's context: `context.headers` (lower-case names),
`context.custom_attributes`, and `context.response_custom_attributes` to send
X-Amzn-SageMaker-Custom-Attributes back to the caller.
"""

import io
import json
import os

{imports}

MODEL_FILE = "{model_file}"  # in the model directory (`model` in dockyard.toml)


def model_fn(model_dir, context=None):
    """Load the model; model_dir is the unpacked model.tar.gz (/opt/ml/model in the container)."""
    {load}


def input_fn(request_body, content_type, context=None):
    """Decode one request: JSON and CSV bodies arrive as str, any other content type as bytes."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json":
        payload = json.loads(request_body)
        if isinstance(payload, dict):  # {{"instances": rows}} or {{"inputs": rows}}
            payload = payload.get("instances", payload.get("inputs"))
        return np.array(payload, dtype=np.float32, ndmin=2)
    if media_type == "text/csv":
        return np.loadtxt(io.StringIO(request_body), delimiter=",", dtype=np.float32, ndmin=2)
    raise ValueError(f"unsupported content type {{content_type!r}}; send application/json or text/csv")


def predict_fn(data, model, context=None):
    """Run the model on the decoded input (a 2-D float32 array, one row per instance)."""
    {predict}


def output_fn(prediction, accept, context=None):
    """Encode the prediction; return the body, or (body, content_type)."""
    rows = np.asarray(prediction).tolist()
    if accept.split(";")[0].strip().lower() == "text/csv":
        lines = [",".join(map(str, row)) if isinstance(row, list) else str(row) for row in rows]
        return "\\n".join(lines) + "\\n", "text/csv"
    return json.dumps({{"predictions": rows}}), "application/json"
'''
