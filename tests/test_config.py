"""dockyard.toml: what a bad or incomplete project file says (file, key, what is expected)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dockyard.config import load_config
from dockyard.errors import ConfigError


def _load(tmp_path: Path, text: str) -> str:
    """The one-line message load_config raises for a dockyard.toml holding ``text``."""
    (tmp_path / "dockyard.toml").write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.exit_code == 2
    return caught.value.message


def test_a_minimal_file_takes_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "dockyard.toml").write_text('[project]\nname = "iris"\n')
    config = load_config(tmp_path)
    assert config.project.name == "iris"
    assert config.project.instance_type == "ml.m5.large"
    assert config.root == tmp_path
    assert config.path("model") == (tmp_path / "model").resolve()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.message == (
        f"{tmp_path / 'dockyard.toml'} does not exist; run `dockyard init` to create a project"
    )


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "dockyard.toml").mkdir()
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.message == f"{tmp_path / 'dockyard.toml'} cannot be read: Is a directory"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '[project\nname = "a"\n',
            "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)",
            id="bad TOML",
        ),
        pytest.param("# empty\n", "[project]: is required", id="missing section"),
        pytest.param('[project]\nmodel = "m"\n', "[project] name: is required", id="missing name"),
        pytest.param(
            '[project]\nname = "my_model"\n',
            "[project] name: expected a value matching ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$, got 'my_model'",
            id="bad name",
        ),
        pytest.param(
            '[project]\nname = "a"\nmodle = "m"\n', "[project] modle: is not a known key", id="unknown key"
        ),
        pytest.param(
            '[project]\nname = "a"\n[build]\nplatfrom = "x"\n',
            "[build] platfrom: is not a known key",
            id="unknown build key",
        ),
        pytest.param(
            '[project]\nname = "a"\npython = 3.11\n',
            "[project] python: Input should be a valid string, got 3.11",
            id="wrong type",
        ),
        pytest.param(
            '[project]\nname = "a"\nenvironment = { WORKERS = 2 }\n',
            "[project] environment.WORKERS: Input should be a valid string, got 2",
            id="wrong type in a table",
        ),
        pytest.param(
            '[project]\nname = "a"\nflavor = "tensorflow"\n',
            "[project] flavor: expected one of 'sklearn', 'xgboost', 'lightgbm', 'onnx' or 'torchscript', "
            "got 'tensorflow'",
            id="unknown flavor",
        ),
        pytest.param(
            '[project]\nname = "a"\nflavor = "sklearn"\nhandler = "inference.py"\n',
            "[project]: set flavor or handler, not both",
            id="flavor and handler",
        ),
        pytest.param(
            '[project]\nname = "a"\ninstance_type = "ml.m5.larg"\n',
            "[project] instance_type: 'ml.m5.larg' is not a SageMaker hosting instance type; "
            "did you mean ml.m5.large, ml.m5d.large or ml.m5.xlarge?",
            id="unknown instance type",
        ),
        pytest.param(
            '[project]\nname = "a"\ninstance_type = "ml.t3.medium"\n',
            "[project] instance_type: 'ml.t3.medium' is not a SageMaker hosting instance type; ml.t3 serves "
            "notebooks and training, not endpoints (the smallest endpoint types are ml.t2.*)",
            id="not a hosting instance type",
        ),
        pytest.param(
            '[project]\nname = "a"\nsystem_packages = ["Lib Foo"]\n',
            "[project] system_packages: 'Lib Foo' is not a Debian package name",
            id="bad Debian package",
        ),
        pytest.param(
            '[project]\nname = "a"\nsample_request = "request.txt"\n',
            "[project]: cannot tell the content type of sample_request 'request.txt' from its extension; "
            "set sample_content_type (known extensions: .json, .jsonl, .csv, .npy, .npz)",
            id="sample without a content type",
        ),
        pytest.param(
            '[project]\nname = "a_b"\nflavor = "x"\n',
            "[project] name: expected a value matching ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$, got 'a_b' "
            "(and 1 more problem(s))",
            id="several problems",
        ),
    ],
)
def test_a_bad_file_names_the_file_the_key_and_what_is_expected(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert _load(tmp_path, text) == f"{tmp_path / 'dockyard.toml'}: {expected}"
