"""``dockyard init`` run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dockyard.config import load_config

DOCKYARD = [sys.executable, "-m", "dockyard.cli"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DOCKYARD, *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def test_init_creates_a_project_refuses_to_overwrite_it_and_replaces_it_when_forced(tmp_path: Path) -> None:
    created = _run("init", "iris_demo", "--flavor", "sklearn", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "iris_demo"
    assert created.stdout == (
        f"Created project iris-demo (the sklearn flavor) in {project}:\n"
        "  iris_demo/dockyard.toml\n"
        "  iris_demo/inference.py.example\n"
        "  iris_demo/sample.json\n"
        "  iris_demo/requirements.txt\n"
        "  iris_demo/model/README.md\n"
        "Next:\n"
        "  1. cd iris_demo\n"
        "  2. put the model in model/ (see model/README.md) and pin requirements.txt\n"
        "  3. dockyard build\n"
        "  4. dockyard run iris-demo:latest\n"
    )
    assert load_config(project).project.flavor == "sklearn"

    again = _run("init", "--handler", cwd=project)
    assert again.returncode == 2
    assert again.stdout == ""
    assert again.stderr == (
        "error: dockyard init would overwrite dockyard.toml, sample.json, requirements.txt, model/README.md; "
        "move them away or pass --force to replace them\n"
    )
    assert not (project / "inference.py").exists()

    forced = _run("init", "--handler", "--force", "--name", "Iris", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith(f"Created project Iris (the handler inference.py) in {project}:\n")
    assert "  1. put the model in model/" in forced.stdout  # already in the directory: no cd
    assert "  3. dockyard run iris:latest\n" in forced.stdout
    loaded = load_config(project).project
    assert (loaded.name, loaded.flavor, loaded.handler) == ("Iris", None, "inference.py")


def test_init_rejects_flavor_and_handler_together(tmp_path: Path) -> None:
    result = _run("init", "--flavor", "onnx", "--handler", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "error: choose --flavor (a built-in loader) or --handler (your own inference.py), not both\n"
    )
    assert list(tmp_path.iterdir()) == []
