"""The text of a new project's files: dockyard.toml, requirements, the model folder's README, the handler."""

from __future__ import annotations

import json
from typing import Any

from dockyard.config import FLAVORS
from dockyard.scaffold.kits import HANDLER_FILE, KITS, REQUIREMENTS_FILE, SAMPLE_FILE


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
