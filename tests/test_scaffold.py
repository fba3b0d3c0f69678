"""``dockyard init``'s files: they load as written, and the templates serve a real model of each flavor."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dockyard.config import CONFIG_FILE, FLAVORS, ProjectSection, load_config
from dockyard.errors import DockyardError, UsageError
from dockyard.scaffold import KITS, init_project, plan, project_name
from dockyard.serving.context import RequestContext
from dockyard.serving.handler import FlavorPipeline, Pipeline, ToolkitPipeline, build_pipeline
from dockyard.serving.settings import ServerSettings

KINDS: list[str | None] = [None, *FLAVORS]
FILES = ["dockyard.toml", "sample.json", "requirements.txt", "model/README.md"]


@pytest.mark.parametrize(
    ("directory", "name"),
    [
        ("iris", "iris"),
        ("My_Project.v2", "my-project-v2"),
        ("--edge--", "edge"),
        ("modèle", "modele"),
        ("___", "model"),
        ("a" * 62 + "_b" + "c" * 10, "a" * 62),  # cut at 63, and no trailing hyphen
    ],
)
def test_the_default_name_fits_sagemaker(tmp_path: Path, directory: str, name: str) -> None:
    assert project_name(tmp_path / directory) == name
    assert re.fullmatch(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", name)


@pytest.mark.parametrize("flavor", KINDS, ids=lambda flavor: flavor or "handler")
def test_the_project_file_loads_back_to_what_init_meant(tmp_path: Path, flavor: str | None) -> None:
    scaffold, written = init_project(tmp_path / "proj", flavor=flavor)
    handler_file = "inference.py.example" if flavor else "inference.py"
    assert [path.relative_to(tmp_path / "proj").as_posix() for path in written] == [
        "dockyard.toml",
        handler_file,
        *FILES[1:],
    ]
    project = load_config(tmp_path / "proj").project
    assert project.model_dump() == scaffold.values
    assert (project.name, project.flavor) == ("proj", flavor)
    assert project.handler == (None if flavor else "inference.py")
    assert project.sample_type == "application/json"
    assert project.system_packages == (["libgomp1"] if flavor == "lightgbm" else [])
    requirements = (tmp_path / "proj" / "requirements.txt").read_text().splitlines()
    assert [line for line in requirements if not line.startswith("#")] == list(KITS[flavor].requirements)
    assert any("Pin each" in line for line in requirements)
    assert json.loads((tmp_path / "proj" / "sample.json").read_text()) == {
        "instances": [[5.1, 3.5, 1.4, 0.2]]
    }
    assert KITS[flavor].model_file in (tmp_path / "proj" / "model" / "README.md").read_text()


def test_every_project_key_is_written_with_a_comment_above_it(tmp_path: Path) -> None:
    text = plan(tmp_path / "iris", flavor="sklearn").files[CONFIG_FILE]
    lines = text.splitlines()
    for key in ProjectSection.model_fields:
        index = next(i for i, line in enumerate(lines) if re.match(rf"(# )?{key} = ", line))
        assert lines[index - 1].startswith("# "), key
    assert "replace it with a\n# request your model accepts" in text


def test_torch_is_the_torchscript_flavor_and_a_given_name_is_kept(tmp_path: Path) -> None:
    scaffold = plan(tmp_path / "x", name="Iris-Classifier", flavor="Torch")
    assert (scaffold.name, scaffold.flavor) == ("Iris-Classifier", "torchscript")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"flavor": "sklearn", "handler": True},
            "choose --flavor (a built-in loader) or --handler (your own inference.py), not both",
        ),
        (
            {"flavor": "tensorflow"},
            "unknown flavor 'tensorflow'; choose one of sklearn, xgboost, lightgbm, onnx, torchscript",
        ),
        (
            {"name": "my_model"},
            "--name 'my_model' does not fit SageMaker's names: letters, digits and single or repeated "
            "hyphens, starting and ending with a letter or digit, at most 63 characters",
        ),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        init_project(tmp_path / "proj", **options)
    assert caught.value.message == message
    assert not (tmp_path / "proj").exists()


def test_existing_files_are_never_overwritten_without_force(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "dockyard.toml").write_text("mine\n")
    (project / "inference.py").write_text("mine too\n")
    with pytest.raises(UsageError) as caught:
        init_project(project)
    assert caught.value.message == (
        f"dockyard init would overwrite {project / 'dockyard.toml'}, {project / 'inference.py'}; "
        "move them away or pass --force to replace them"
    )
    assert sorted(path.name for path in project.iterdir()) == ["dockyard.toml", "inference.py"]  # nothing new
    assert (project / "dockyard.toml").read_text() == "mine\n"

    init_project(project, force=True)
    assert load_config(project).project.handler == "inference.py"
    assert (project / "inference.py").read_text().startswith('"""How proj answers requests')


def test_a_file_in_the_way_of_the_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "proj").write_text("")
    with pytest.raises(UsageError) as caught:
        init_project(tmp_path / "proj")
    assert caught.value.message == f"{tmp_path / 'proj'} is a file; give dockyard init a directory"


def test_a_file_where_the_model_directory_goes_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "model").write_text("weights")
    with pytest.raises(UsageError) as caught:
        init_project(tmp_path, force=True)
    assert caught.value.message == f"{tmp_path / 'model'} is a file; dockyard init needs a directory there"
    assert [path.name for path in tmp_path.iterdir()] == ["model"]


def test_a_directory_where_a_file_goes_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "sample.json").mkdir()
    with pytest.raises(UsageError) as caught:
        init_project(tmp_path, force=True)
    assert caught.value.message == (
        f"{tmp_path / 'sample.json'} is a directory; dockyard init needs to write a file there"
    )
    assert [path.name for path in tmp_path.iterdir()] == ["sample.json"]


def test_force_replaces_a_link_and_leaves_what_it_pointed_to(tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text("not yours\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "dockyard.toml").symlink_to(outside)
    init_project(project, force=True)
    assert not (project / "dockyard.toml").is_symlink()
    assert load_config(project).project.name == "proj"
    assert outside.read_text() == "not yours\n"


def test_a_directory_that_cannot_be_created_is_one_error_line(tmp_path: Path) -> None:
    directory = tmp_path / ("x" * 300)  # longer than any file system allows a name to be
    with pytest.raises(DockyardError) as caught:
        init_project(directory, name="x")
    assert caught.value.message == f"cannot write {directory}: File name too long"
    assert caught.value.exit_code == 1


# --- the templates against real models -------------------------------------------------------------


def _iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    return features.astype(np.float32), labels


def _save_model(flavor: str | None, path: Path) -> None:
    """Train a small iris model of ``flavor`` and save it where the scaffold says it goes."""
    features, labels = _iris()
    if flavor in (None, "sklearn"):
        import joblib
        from sklearn.linear_model import LogisticRegression

        joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), path)
    elif flavor == "onnx":
        from skl2onnx import to_onnx
        from sklearn.linear_model import LinearRegression

        # A regressor: one output, as the template's predict_fn takes the first.
        regressor = LinearRegression().fit(features, labels)
        path.write_bytes(to_onnx(regressor, features[:1]).SerializeToString())
    elif flavor == "xgboost":
        import xgboost

        booster = xgboost.train(
            {"objective": "multi:softprob", "num_class": 3, "nthread": 1},
            xgboost.DMatrix(features, label=labels),
            num_boost_round=3,
        )
        booster.save_model(path)
    elif flavor == "lightgbm":
        import lightgbm

        data = lightgbm.Dataset(features, label=labels)
        params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1}
        lightgbm.train(params, data, num_boost_round=3).save_model(path)
    else:
        import torch

        torch.jit.save(torch.jit.script(torch.nn.Linear(4, 3)), str(path))


def _invoke(pipeline: Pipeline, body: bytes) -> Any:
    context = RequestContext.from_headers("r-1", {}, "application/json", "application/json")
    answer, content_type = pipeline.encode(pipeline.predict(pipeline.decode(body, context), context), context)
    assert content_type == "application/json"
    return json.loads(answer)


@pytest.mark.slow
# torch 2.13 deprecates TorchScript (the flavor's format): jit.script and jit.load warn on every call.
@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("flavor", KINDS, ids=lambda flavor: flavor or "handler")
def test_the_handler_template_and_the_flavor_serve_the_sample(tmp_path: Path, flavor: str | None) -> None:
    init_project(tmp_path / "proj", flavor=flavor)
    project = tmp_path / "proj"
    model_dir = project / "model"
    _save_model(flavor, model_dir / KITS[flavor].model_file)
    sample = (project / "sample.json").read_bytes()

    # The template, activated as the toml's comment says (a flavor project: rename it).
    handler = project / "inference.py"
    if flavor:
        (project / "inference.py.example").rename(handler)
    pipeline = build_pipeline(ServerSettings(model_dir=model_dir, handler=str(handler)))
    assert isinstance(pipeline, ToolkitPipeline)
    pipeline.load()
    predictions = _invoke(pipeline, sample)["predictions"]
    assert len(predictions) == 1

    if flavor:  # the flavor itself finds the model file the README names, and answers the sample
        flavored = build_pipeline(ServerSettings(model_dir=model_dir, flavor=flavor))
        assert isinstance(flavored, FlavorPipeline)
        flavored.load()
        assert len(_invoke(flavored, sample)["predictions"]) == 1
