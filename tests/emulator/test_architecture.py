"""The emulator's structure, checked from its source: the fleet (``sagemaker/``) and the runtime
(``runtime/``) meet only in the neutral modules the emulator assembles them with, and no module grows
past what one reads in a sitting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dockyard.emulator

EMULATOR = Path(dockyard.emulator.__file__).parent
MAX_LINES = 400


def imports_of(package: str) -> dict[str, set[str]]:
    """Module file (relative to the emulator) -> every module it imports, TYPE_CHECKING blocks included."""
    found: dict[str, set[str]] = {}
    for path in sorted((EMULATOR / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: a relative import; the emulator imports absolutely"
                assert node.module is not None
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(EMULATOR))] = names
    return found


@pytest.mark.parametrize(("package", "forbidden"), [("runtime", "sagemaker"), ("sagemaker", "runtime")])
def test_the_fleet_and_the_runtime_do_not_import_each_other(package: str, forbidden: str) -> None:
    modules = imports_of(package)
    assert modules, f"no modules found under {EMULATOR / package}"
    crossing = {
        module: sorted(name for name in names if name.startswith(f"dockyard.emulator.{forbidden}"))
        for module, names in modules.items()
    }
    assert {module: names for module, names in crossing.items() if names} == {}


def test_emulator_modules_stay_small() -> None:
    sizes = {
        str(path.relative_to(EMULATOR)): len(path.read_text().splitlines()) for path in EMULATOR.rglob("*.py")
    }
    assert {module: lines for module, lines in sizes.items() if lines > MAX_LINES} == {}
