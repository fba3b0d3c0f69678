"""A wheel of dockyard's serving runtime, made from the running installation, for the image.

The wheel holds ``dockyard/__init__.py`` and ``dockyard/serving/`` only, with the ``serve`` console
script, and requires only the project's base dependencies (the serving ones; the CLI, build and AWS
libraries are extras). It is written with the standard library rather than a build backend: that
works the same from a git checkout, an editable install or an installed wheel, needs no network and
no hatchling, and gives the same bytes for the same sources, so Docker's layer cache keeps hitting.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

import dockyard
from dockyard.errors import DockyardError

DISTRIBUTION = "dockyard"
ENTRY_POINTS = "[console_scripts]\nserve = dockyard.serving.cli:main\n"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no build time in the bytes


def serving_requirements() -> list[str]:
    """The installed dockyard's requirements outside any extra: what the inference server needs."""
    try:
        requires = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        raise DockyardError(
            "dockyard's package metadata is missing, so its serving dependencies are unknown; "
            "install dockyard (`pip install -e .` in a checkout) rather than running it from a path"
        ) from None
    return sorted(req for req in requires if "extra ==" not in req.partition(";")[2])


def _sources() -> list[tuple[str, bytes]]:
    package = Path(dockyard.__file__).parent
    files = [package / "__init__.py", package / "py.typed"]
    files += [
        path
        for path in (package / "serving").rglob("*")
        if "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}
    ]
    return sorted(
        (f"dockyard/{path.relative_to(package).as_posix()}", path.read_bytes())
        for path in files
        if path.is_file()
    )


def _metadata(version: str, requirements: list[str]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {DISTRIBUTION}",
        f"Version: {version}",
        "Summary: dockyard's inference server (the serving runtime of a dockyard image)",
    ]
    for requires_python in importlib.metadata.metadata(DISTRIBUTION).get_all("Requires-Python") or []:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requirements]
    return "\n".join(lines) + "\n"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_runtime_wheel(directory: Path) -> Path:
    """Write the runtime wheel into ``directory`` and return its path."""
    requirements = serving_requirements()
    version = importlib.metadata.version(DISTRIBUTION)
    dist_info = f"{DISTRIBUTION}-{version}.dist-info"
    wheel_text = "Wheel-Version: 1.0\nGenerator: dockyard\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries = [
        *_sources(),
        (f"{dist_info}/METADATA", _metadata(version, requirements).encode()),
        (f"{dist_info}/WHEEL", wheel_text.encode()),
        (f"{dist_info}/entry_points.txt", ENTRY_POINTS.encode()),
    ]
    record = "".join(f"{_record_line(name, data)}\n" for name, data in entries) + f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode()))

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{DISTRIBUTION}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    return path
