"""How settings become the middleware's policy, and the settings' flags and environment variables."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dockyard.emulator.security import secure
from dockyard.emulator.security.credentials import SECRET_ENV, local_credentials
from dockyard.emulator.settings import EmulatorSettings
from dockyard.errors import DockyardError
from tests.emulator.security.echo_server import StandIn


@pytest.fixture(autouse=True)
def _no_explicit_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)


def test_the_policy_comes_from_the_settings(tmp_path: Path) -> None:
    settings = EmulatorSettings(host="127.0.0.2", state_dir=tmp_path, allow_hosts=("MyBox.lan",))
    policy = secure(StandIn(), settings).policy
    assert policy.hosts.allowed == {"127.0.0.1", "localhost", "::1", "mybox.lan", "127.0.0.2"}
    assert policy.check_signatures
    assert policy.secret == local_credentials(tmp_path).secret_access_key
    assert stat.S_IMODE((tmp_path / "credentials").stat().st_mode) == 0o600
    everywhere = secure(StandIn(), EmulatorSettings(host="0.0.0.0", state_dir=tmp_path)).policy
    assert everywhere.hosts.allowed == {"127.0.0.1", "localhost", "::1"}
    insecure = EmulatorSettings(state_dir=tmp_path, insecure_any_credentials=True)
    assert not secure(StandIn(), insecure).policy.check_signatures


def test_the_secret_is_made_once_per_state_directory(tmp_path: Path) -> None:
    first = local_credentials(tmp_path / "a", create=True)
    assert local_credentials(tmp_path / "a") == first
    assert local_credentials(tmp_path / "b", create=True) != first
    assert first.secret_access_key not in repr(first)
    with pytest.raises(
        DockyardError, match=r"cannot read the emulator's credentials from .*/c/credentials; run"
    ):
        local_credentials(tmp_path / "c")


def test_environment_variables_give_the_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKYARD_EMULATOR_ALLOW_HOSTS", "a.lan, b.lan")
    monkeypatch.setenv("DOCKYARD_EMULATOR_ALLOW_PATHS", f"{tmp_path}/x:{tmp_path}/y")
    monkeypatch.setenv("DOCKYARD_EMULATOR_INSECURE_ANY_CREDENTIALS", "1")
    settings = EmulatorSettings(state_dir=tmp_path / "state")
    assert settings.allow_hosts == ("a.lan", "b.lan")
    assert settings.model_data_roots == (tmp_path / "state", tmp_path / "x", tmp_path / "y")
    assert settings.insecure_any_credentials
    assert settings.arguments()[6:] == [
        "--allow-host",
        "a.lan",
        "--allow-host",
        "b.lan",
        "--allow-path",
        f"{tmp_path}/x",
        "--allow-path",
        f"{tmp_path}/y",
        "--insecure-any-credentials",
    ]
