from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.serving.settings import (
    MAX_BODY_BYTES,
    ServerSettings,
    SettingsError,
    from_json,
    resolve,
    to_json,
)


def test_defaults_follow_sagemaker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = resolve([], environ={})
    assert settings.model_dir == Path("/opt/ml/model")
    assert settings.port == 8080
    assert settings.host == "0.0.0.0"
    assert settings.timeout == 60
    assert settings.max_body_bytes == MAX_BODY_BYTES == 6_291_456
    assert settings.max_batch_size == 1
    assert not settings.batching
    assert settings.workers >= 1


def test_cli_beats_environment_beats_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dockyard.toml").write_text(
        "[serve]\nport = 7000\nworkers = 3\ntimeout = 5\n"
        'flavor_options = {predict_method = "predict_proba"}\n'
    )
    environ = {"SAGEMAKER_BIND_TO_PORT": "7001", "SAGEMAKER_MODEL_SERVER_WORKERS": "4"}
    settings = resolve(["--workers", "5"], environ=environ)
    assert (settings.port, settings.workers, settings.timeout) == (7001, 5, 5.0)
    assert settings.flavor_options == {"predict_method": "predict_proba"}


def test_first_listed_environment_variable_wins_and_blank_ones_are_ignored(tmp_path: Path) -> None:
    settings = resolve(
        ["--config", str(_empty_toml(tmp_path))],
        environ={
            "DOCKYARD_TIMEOUT": " ",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "9",
            "DOCKYARD_FLAVOR_OPTIONS": "a=1, b=2",
        },
    )
    assert settings.timeout == 9
    assert settings.flavor_options == {"a": "1", "b": "2"}


def test_sagemaker_log_level_numbers_and_booleans(tmp_path: Path) -> None:
    settings = resolve(
        ["--config", str(_empty_toml(tmp_path)), "--access-log", "off"],
        environ={"SAGEMAKER_CONTAINER_LOG_LEVEL": "30"},
    )
    assert settings.log_level == "warning"
    assert settings.access_log is False


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (
            ["--workers", "0"],
            {},
            "option --workers: expected a positive integer, got '0' (must be at least 1)",
        ),
        (
            [],
            {"SAGEMAKER_BIND_TO_PORT": "http"},
            "environment variable SAGEMAKER_BIND_TO_PORT: expected a port number",
        ),
        (["--port", "70000"], {}, "must be between 0 and 65535"),
        (["--timeout", "-1"], {}, "option --timeout: expected a number of seconds > 0"),
        (["--flavor-options", "novalue"], {}, "expected KEY=VALUE pairs separated by commas, got 'novalue'"),
        ([], {"SAGEMAKER_BATCH_STRATEGY": "ALL"}, "must be MULTI_RECORD or SINGLE_RECORD"),
    ],
)
def test_bad_values_name_their_source(
    tmp_path: Path, argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as error:
        resolve(["--config", str(_empty_toml(tmp_path)), *argv], environ=environ)
    assert message in str(error.value)


def test_bad_toml_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "dockyard.toml"
    config.write_text("[serve]\nworkers = 'many'\n")
    with pytest.raises(
        SettingsError, match=r"dockyard.toml: \[serve\] workers: expected a positive integer, got 'many'"
    ):
        resolve(["--config", str(config)], environ={})
    config.write_text("[serve]\nwrokers = 2\n")
    with pytest.raises(SettingsError, match=r"unknown key\(s\) in \[serve\]: wrokers; known: .*workers"):
        resolve(["--config", str(config)], environ={})
    config.write_text("[serve\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        resolve(["--config", str(config)], environ={})
    with pytest.raises(SettingsError, match="cannot be read"):
        resolve(["--config", str(tmp_path / "missing.toml")], environ={})


def test_json_round_trip_for_workers() -> None:
    settings = ServerSettings(model_dir=Path("/m"), flavor_options={"k": "v"}, workers=3)
    assert from_json(to_json(settings)) == settings


def _empty_toml(tmp_path: Path) -> Path:
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path
