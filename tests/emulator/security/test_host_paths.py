"""file:// model data comes only from allowed roots (the state directory, the project, --allow-path),
with symbolic links resolved first; anything else fails the download with the setting named."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.emulator.sagemaker.deployment import ContainerSpec
from dockyard.emulator.sagemaker.model_data import ModelDataCache, ModelDataError
from dockyard.emulator.security.paths import PathNotAllowed, checked_host_path
from tests.emulator.runtime.fleet_kit import model_archive

IMAGE = "dy-unused:latest"


def _reason(store: ModelDataCache, container: ContainerSpec) -> str:
    with pytest.raises(ModelDataError) as caught:
        store.prepare(container, "us-east-1")
    return caught.value.reason


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    """Stands for ~/.ssh: a directory of the user's that no request may copy into a container."""
    home = tmp_path / "home" / ".ssh"
    home.mkdir(parents=True)
    (home / "id_ed25519").write_text("PRIVATE KEY")
    return home


def test_a_prefix_outside_the_roots_is_refused_naming_the_setting(tmp_path: Path, secrets_dir: Path) -> None:
    state = tmp_path / "state"
    store = ModelDataCache(state)
    url = secrets_dir.as_uri() + "/"
    reason = _reason(store, ContainerSpec(IMAGE, model_data_prefix=url, model_data_compressed=False))
    assert reason == (
        f'Failed to download model data for container "container_1" from URL: "{url}". Please ensure that '
        "there is an object located at the URL and that the role passed to CreateModel has permissions to "
        f"download the object. ({secrets_dir} is outside the directories the local target may read model "
        f"data from ({state.resolve()}); start the emulator with --allow-path DIR (or "
        "DOCKYARD_EMULATOR_ALLOW_PATHS) to allow another directory)"
    )
    assert not (state / "models").exists()


def test_an_archive_outside_the_roots_is_refused(tmp_path: Path) -> None:
    archive = model_archive(tmp_path / "elsewhere")
    store = ModelDataCache(tmp_path / "state")
    reason = _reason(store, ContainerSpec(IMAGE, model_data_url=archive.as_uri()))
    assert f"({archive} is outside the directories the local target may read model data from" in reason
    gzip_prefix = ContainerSpec(IMAGE, model_data_prefix=archive.as_uri(), model_data_compressed=True)
    assert "--allow-path DIR" in _reason(store, gzip_prefix)


def test_a_symlink_inside_a_root_cannot_point_out_of_it(tmp_path: Path, secrets_dir: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "innocent").symlink_to(secrets_dir)
    store = ModelDataCache(state)
    url = (state / "innocent").as_uri()
    reason = _reason(store, ContainerSpec(IMAGE, model_data_prefix=url, model_data_compressed=False))
    assert f"({state / 'innocent'} (which resolves to {secrets_dir}) is outside the directories" in reason
    dotdot = f"file://{state}/../home/.ssh"
    assert "is outside the directories" in _reason(
        store, ContainerSpec(IMAGE, model_data_prefix=dotdot, model_data_compressed=False)
    )


def test_a_link_inside_an_allowed_tree_cannot_bring_in_an_outside_file(
    tmp_path: Path, secrets_dir: Path
) -> None:
    tree = tmp_path / "project" / "model"
    tree.mkdir(parents=True)
    (tree / "weights.bin").write_bytes(b"w")
    (tree / "key").symlink_to(secrets_dir / "id_ed25519")
    (tree / "dir").symlink_to(secrets_dir)
    store = ModelDataCache(tmp_path / "state", roots=(tmp_path / "project",))
    reason = _reason(
        store, ContainerSpec(IMAGE, model_data_prefix=tree.as_uri(), model_data_compressed=False)
    )
    assert "(which resolves to" in reason
    assert str(secrets_dir) in reason
    assert "is outside the directories the local target may read model data from" in reason
    assert not (tmp_path / "state" / "models").exists()


def test_allowed_roots_are_read(tmp_path: Path) -> None:
    project = tmp_path / "project"
    archive = model_archive(project)
    tree = project / "tree"
    tree.mkdir()
    (tree / "weights.bin").write_bytes(b"w")
    store = ModelDataCache(tmp_path / "state", roots=(project,))
    assert store.prepare(ContainerSpec(IMAGE, model_data_url=archive.as_uri()), "us-east-1") is not None
    unpacked = store.prepare(
        ContainerSpec(IMAGE, model_data_prefix=tree.as_uri(), model_data_compressed=False), "us-east-1"
    )
    assert unpacked is not None
    assert (unpacked / "weights.bin").read_bytes() == b"w"
    inside_state = tmp_path / "state" / "model-data" / "m.tar.gz"
    inside_state.parent.mkdir(parents=True)
    inside_state.write_bytes(archive.read_bytes())
    assert ModelDataCache(tmp_path / "state").prepare(
        ContainerSpec(IMAGE, model_data_url=inside_state.as_uri()), "x"
    )


def test_missing_paths_and_missing_roots(tmp_path: Path) -> None:
    # A missing path inside a root is left to the caller to report; outside one it is refused.
    assert checked_host_path(tmp_path / "absent", [tmp_path]) == tmp_path.resolve() / "absent"
    with pytest.raises(PathNotAllowed, match=r"is outside the directories"):
        checked_host_path(tmp_path / "absent", [tmp_path / "root"])
    (tmp_path / "f").write_text("x")
    with pytest.raises(PathNotAllowed, match=r"from \(\(none\)\); start the emulator with --allow-path DIR"):
        checked_host_path(tmp_path / "f", [tmp_path / "no-such-root"])
    assert checked_host_path(tmp_path / "f", [tmp_path]) == (tmp_path / "f").resolve()
