"""The build context: exactly the files the Dockerfile copies, the runtime wheel, and the errors."""

from __future__ import annotations

import email
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from dockyard.config import ProjectConfig, load_config
from dockyard.errors import ConfigError
from dockyard.image.context import assemble, user_dockerfile
from dockyard.image.dockerfile import render
from dockyard.image.runtime_wheel import serving_requirements, write_runtime_wheel

PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
NOT_IN_IMAGES = {"boto3", "botocore", "docker", "typer", "rich", "pydantic", "httpx", "click", "moto"}


def _project(root: Path, toml: str, files: dict[str, str] | None = None) -> ProjectConfig:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dockyard.toml").write_text(toml)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return load_config(root)


def _tree(directory: Path) -> list[str]:
    return sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file())


def _names(requirements: list[str]) -> set[str]:
    return {
        req.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for req in requirements
    }


def test_context_holds_exactly_what_the_dockerfile_copies(tmp_path: Path) -> None:
    config = _project(
        tmp_path / "iris",
        """
[project]
name = "iris"
handler = "inference.py"
requirements = ["scikit-learn==1.5.2"]
requirements_file = "requirements.txt"
system_packages = ["libgomp1"]
environment = { LOG_LEVEL = "info", A_FIRST = "1" }

[build]
pip_index_url = "https://mirror.example/simple"
extra_ca_certs = ["corp-ca.pem"]
include_model = true
""",
        {
            "inference.py": "def predict_fn(data, model):\n    return data\n",
            "requirements.txt": "joblib\n",
            "corp-ca.pem": PEM,
            "model/model.joblib": "weights",
            "notes/big-data.csv": "not for the image",
        },
    )
    context = assemble(config, tmp_path / "context")
    version = write_runtime_wheel(tmp_path / "wheel").name
    assert _tree(context.directory) == [
        "Dockerfile",
        "build-secrets/ca/00.pem",
        "build-secrets/pip.conf",
        "dockyard.toml",
        "model/model.joblib",
        "program/inference.py",
        "requirements/dockyard-serving.txt",
        "requirements/file.txt",
        "requirements/project.txt",
        f"runtime/{version}",
    ]
    spec = context.spec
    assert (context.directory / "Dockerfile").read_text() == render(spec)
    assert spec.requirement_files == ("project.txt", "file.txt", "dockyard-serving.txt")
    assert spec.system_packages == ("libgomp1",)
    assert spec.environment == (("A_FIRST", "1"), ("LOG_LEVEL", "info"))
    assert (spec.pip_config, spec.extra_ca_certs, spec.program, spec.include_model) == (
        True,
        True,
        True,
        True,
    )
    assert (context.directory / "build-secrets/pip.conf").read_text() == (
        "[global]\nindex-url = https://mirror.example/simple\ncert = /tmp/dockyard-build/ca-bundle.pem\n"
    )
    assert (context.directory / "requirements/project.txt").read_text() == "scikit-learn==1.5.2\n"
    assert (context.directory / "requirements/file.txt").read_text() == "joblib\n"


def test_minimal_project_has_no_secrets_code_or_model(tmp_path: Path) -> None:
    config = _project(tmp_path / "p", '[project]\nname = "p"\nflavor = "sklearn"\n')
    context = assemble(config, tmp_path / "context")
    tree = _tree(context.directory)
    assert not [name for name in tree if name.startswith(("build-secrets", "program", "model"))]
    assert context.spec.requirement_files == ("dockyard-serving.txt",)
    assert tomllib.loads((context.directory / "dockyard.toml").read_text()) == {
        "serve": {"flavor": "sklearn"}
    }
    assert context.notes == (
        "flavor sklearn loads models with scikit-learn, which is not in [project] requirements or "
        "requirements_file: the image will fail to load the model",
    )


@pytest.mark.parametrize(
    ("requirements", "file"),
    [('["Scikit_Learn>=1.4"]', None), ("[]", "--index-url https://x.example/simple\nscikit-learn==1.5.2\n")],
)
def test_flavor_library_in_the_requirements_needs_no_note(
    tmp_path: Path, requirements: str, file: str | None
) -> None:
    toml = f'[project]\nname = "p"\nflavor = "sklearn"\nrequirements = {requirements}\n'
    files = {}
    if file is not None:
        toml += 'requirements_file = "requirements.txt"\n'
        files["requirements.txt"] = file
    context = assemble(_project(tmp_path / "p", toml, files), tmp_path / "context")
    assert context.notes == ()


def test_image_settings_point_at_the_image_and_drop_local_ones(tmp_path: Path) -> None:
    config = _project(
        tmp_path / "p",
        """
[project]
name = "p"
handler = "inference.py:Predictor"

[serve]
workers = 2
timeout = 30.5
access_log = false
flavor_options = { predict_method = "predict_proba" }
host = "127.0.0.1"
port = 9000
model_dir = "model"
""",
        {"inference.py": "class Predictor: ...\n"},
    )
    context = assemble(config, tmp_path / "context")
    settings = tomllib.loads((context.directory / "dockyard.toml").read_text())
    assert settings == {
        "serve": {
            "access_log": False,
            "flavor_options": {"predict_method": "predict_proba"},
            "handler": "/opt/program/inference.py:Predictor",
            "timeout": 30.5,
            "workers": 2,
        }
    }
    assert context.notes == (
        "[serve] host is not used in the image: the image listens on all interfaces",
        "[serve] port is not used in the image: the image listens on 8080, or SAGEMAKER_BIND_TO_PORT",
        "[serve] model_dir is not used in the image: the image reads its model from /opt/ml/model",
    )


def test_handler_in_a_folder_takes_its_sibling_modules(tmp_path: Path) -> None:
    config = _project(
        tmp_path / "p",
        '[project]\nname = "p"\nhandler = "code/inference.py"\n',
        {
            "code/inference.py": "import helpers\n",
            "code/helpers.py": "X = 1\n",
            "code/__pycache__/helpers.cpython-311.pyc": "cache",
        },
    )
    context = assemble(config, tmp_path / "context")
    assert _tree(context.directory / "program") == ["helpers.py", "inference.py"]
    assert 'handler = "/opt/program/inference.py"' in (context.directory / "dockyard.toml").read_text()


def test_module_handler_is_passed_through_without_code(tmp_path: Path) -> None:
    config = _project(tmp_path / "p", '[project]\nname = "p"\nhandler = "my_pkg.serving:Predictor"\n')
    context = assemble(config, tmp_path / "context")
    assert not context.spec.program
    assert 'handler = "my_pkg.serving:Predictor"' in (context.directory / "dockyard.toml").read_text()


@pytest.mark.parametrize(
    ("toml", "files", "message"),
    [
        (
            '[project]\nname = "p"\nhandler = "missing.py"\n',
            {},
            r"dockyard\.toml: \[project\] handler: missing\.py does not exist in .*/p$",
        ),
        (
            '[project]\nname = "p"\n[build]\ninclude_model = true\n',
            {},
            r"dockyard\.toml: \[project\] model: .*/p/model does not exist, "
            r"and \[build\] include_model = true copies it into the image$",
        ),
        (
            '[project]\nname = "p"\nrequirements_file = "reqs.txt"\n',
            {},
            r"dockyard\.toml: \[project\] requirements_file: .*/p/reqs\.txt does not exist$",
        ),
        (
            '[project]\nname = "p"\n[build]\nextra_ca_certs = ["ca.pem"]\n',
            {"ca.pem": "not a certificate"},
            r"dockyard\.toml: \[build\] extra_ca_certs: .*/p/ca\.pem is not a readable PEM certificate file$",
        ),
        (
            '[project]\nname = "p"\n[build]\nextra_ca_certs = ["absent.pem"]\n',
            {},
            r"\[build\] extra_ca_certs: .*/p/absent\.pem is not a readable PEM certificate file$",
        ),
        (
            '[project]\nname = "p"\nenvironment = { "BAD-NAME" = "x" }\n',
            {},
            r"dockyard\.toml: \[project\] environment\.BAD-NAME: "
            r"'BAD-NAME' is not an environment variable name",
        ),
        (
            '[project]\nname = "p"\nenvironment = { NOTE = "two\\nlines" }\n',
            {},
            r"dockyard\.toml: \[project\] environment\.NOTE: must not contain a line break$",
        ),
        (
            '[project]\nname = "p"\nbase_image = "python:3.11 slim"\n',
            {},
            r"dockyard\.toml: \[project\] base_image: expected an image name, got 'python:3\.11 slim'$",
        ),
        (
            '[project]\nname = "p"\n[serve]\nworkers = 0\n',
            {},
            r"/p/dockyard\.toml: \[serve\] workers: "
            r"expected a positive integer, got 0 \(must be at least 1\)$",
        ),
        (
            '[project]\nname = "p"\n[serve]\nwokers = 2\n',
            {},
            r"/p/dockyard\.toml: unknown key\(s\) in \[serve\]: wokers; known: ",
        ),
        (
            '[project]\nname = "p"\n[serve]\nworkers = 2024-01-01\n',
            {},
            r"dockyard\.toml: \[serve\] workers: expected a string, number, boolean or table, got ",
        ),
    ],
)
def test_project_problems_name_the_file_and_key(
    tmp_path: Path, toml: str, files: dict[str, str], message: str
) -> None:
    config = _project(tmp_path / "p", toml, files)
    with pytest.raises(ConfigError, match=message):
        assemble(config, tmp_path / "context")


def test_user_dockerfile_is_relative_to_the_project(tmp_path: Path) -> None:
    config = _project(
        tmp_path / "p",
        '[project]\nname = "p"\ndockerfile = "docker/Dockerfile"\n',
        {"docker/Dockerfile": "FROM x\n"},
    )
    assert user_dockerfile(config) == "docker/Dockerfile"
    missing = _project(tmp_path / "q", '[project]\nname = "q"\ndockerfile = "Dockerfile.serve"\n')
    with pytest.raises(
        ConfigError, match=r"q/dockyard\.toml: \[project\] dockerfile: .*/q/Dockerfile\.serve does not"
    ):
        user_dockerfile(missing)


def test_serving_requirements_are_the_servers_only() -> None:
    requirements = serving_requirements()
    names = _names(requirements)
    assert {"uvicorn", "orjson", "numpy", "httptools", "uvloop", "prometheus-client"} <= names
    assert not names & NOT_IN_IMAGES
    assert not any("extra ==" in req for req in requirements)


def test_runtime_wheel_holds_only_the_server(tmp_path: Path) -> None:
    path = write_runtime_wheel(tmp_path / "a")
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        dist_info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(wheel.read(f"{dist_info}/METADATA"))
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
        record = wheel.read(f"{dist_info}/RECORD").decode()
    packages = {name.split("/")[1] for name in names if name.startswith("dockyard/") and name.count("/") > 1}
    assert packages == {"serving"}
    assert "dockyard/__init__.py" in names
    assert "dockyard/serving/flavors/sklearn.py" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert entry_points == "[console_scripts]\nserve = dockyard.serving.cli:main\n"
    assert metadata["Name"] == "dockyard"
    assert sorted(metadata.get_all("Requires-Dist") or []) == serving_requirements()
    assert len(record.splitlines()) == len(names)
    # Same sources, same bytes: the image's runtime layer stays cached.
    assert write_runtime_wheel(tmp_path / "b").read_bytes() == path.read_bytes()


def test_runtime_wheel_installs_with_pip_and_gives_serve(tmp_path: Path) -> None:
    path = write_runtime_wheel(tmp_path / "wheel")
    target = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (target / "bin" / "serve").is_file()
    assert (target / "dockyard" / "serving" / "cli.py").is_file()
    assert not (target / "dockyard" / "cli").exists()
    assert not (target / "dockyard" / "build").exists()


def test_multi_model_setting_labels_the_image(tmp_path: Path) -> None:
    label = 'LABEL com.amazonaws.sagemaker.capabilities.multi-models="true"'
    single = assemble(_project(tmp_path / "s", '[project]\nname = "s"\n'), tmp_path / "c1")
    assert label not in (single.directory / "Dockerfile").read_text()
    config = _project(tmp_path / "m", '[project]\nname = "m"\n[serve]\nmulti_model = true\n')
    context = assemble(config, tmp_path / "c2")
    assert context.spec.multi_model
    assert label in (context.directory / "Dockerfile").read_text()
    assert tomllib.loads((context.directory / "dockyard.toml").read_text())["serve"]["multi_model"] is True
