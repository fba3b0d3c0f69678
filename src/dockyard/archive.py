"""``model.tar.gz``: deterministic packing of SageMaker's model archive (unpacking: ``archive_unpack``).

``pack`` gives the same bytes for the same tree: entries in sorted order with the files at the archive
root (SageMaker extracts into ``/opt/ml/model``), mtime 0, owner 0:0 without names, modes normalised to
0o644/0o755, no gzip timestamp or file name. Hard-linked files are stored as plain files. Skipped, by
design: ``__pycache__``, ``.DS_Store`` and ``.git`` entries (see ``IGNORED_NAMES``).

``unpack`` and its ``UnpackLimits`` live in :mod:`dockyard.archive_unpack` and are importable from here.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from dockyard.archive_links import human_size, link_problem
from dockyard.archive_unpack import GiB, UnpackLimits, UnpackResult, unpack
from dockyard.errors import ArchiveError, UsageError

__all__ = [
    "IGNORED_NAMES",
    "GiB",
    "PackResult",
    "UnpackLimits",
    "UnpackResult",
    "human_size",
    "pack",
    "unpack",
]

IGNORED_NAMES = frozenset({"__pycache__", ".DS_Store", ".git"})


@dataclass(frozen=True)
class PackResult:
    path: Path
    sha256: str
    size: int
    files: int


# --- Packing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str
    path: Path
    kind: Literal["file", "dir", "link"]
    mode: int = 0o644
    size: int = 0
    target: str = ""


def _scan(root: Path) -> list[_Entry]:
    entries: list[_Entry] = []

    def walk(directory: Path, prefix: str) -> None:
        for child in sorted(os.listdir(directory)):
            if child in IGNORED_NAMES:
                continue
            path = directory / child
            name = f"{prefix}{child}"
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                entries.append(_Entry(name, path, "link", 0o777, target=os.readlink(path)))
            elif stat.S_ISDIR(info.st_mode):
                entries.append(_Entry(name, path, "dir", 0o755))
                walk(path, f"{name}/")
            elif stat.S_ISREG(info.st_mode):
                mode = 0o755 if info.st_mode & 0o111 else 0o644
                entries.append(_Entry(name, path, "file", mode, info.st_size))
            else:
                raise ArchiveError(
                    f"cannot pack {root}: {name} is not a regular file, directory or symlink "
                    "(a socket, FIFO or device); remove it from the model directory"
                )

    walk(root, "")
    return entries


def _check_links(root: Path, entries: list[_Entry]) -> None:
    links = {entry.name: entry.target for entry in entries if entry.kind == "link"}
    for name, target in links.items():
        if target.startswith("/"):
            raise ArchiveError(
                f"cannot pack {root}: the symlink {name} -> {target} is absolute; "
                "make it relative to a file in the model directory or replace it with a copy"
            )
        problem = link_problem(name, links)
        if problem == "outside":
            raise ArchiveError(
                f"cannot pack {root}: the symlink {name} -> {target} points outside the model "
                "directory; replace it with a copy of what it points to"
            )
        if problem == "loop":
            raise ArchiveError(f"cannot pack {root}: the symlink {name} -> {target} is a loop; remove it")


class _HashingWriter:
    """Counts and hashes the bytes on their way to the file, so the archive is not read back."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def _tarinfo(entry: _Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = entry.mode
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif entry.kind == "link":
        info.type = tarfile.SYMTYPE
        info.linkname = entry.target
    else:
        info.size = entry.size
    return info


def pack(model_dir: Path, destination: Path) -> PackResult:
    """Write ``model_dir``'s tree to ``destination`` as a deterministic ``model.tar.gz``."""
    if not model_dir.is_dir():
        what = "is not a directory" if model_dir.exists() else "does not exist"
        raise UsageError(f"the model directory {model_dir} {what}; pass the directory holding the model")
    root = model_dir.resolve()
    if destination.resolve().is_relative_to(root):
        raise UsageError(
            f"cannot write {destination} inside the model directory {model_dir}: the archive would "
            "contain itself; write it outside the model directory"
        )
    temporary: Path | None = None
    try:
        entries = _scan(model_dir)
        _check_links(model_dir, entries)
        destination.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=destination.parent, prefix=f".{destination.name}.", delete=False
        ) as raw:
            temporary = Path(raw.name)
            writer = _HashingWriter(raw)
            # filename="" and mtime=0 keep the gzip header free of the name and the time.
            with (
                gzip.GzipFile(filename="", mode="wb", fileobj=writer, mtime=0, compresslevel=6) as compressed,
                tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
            ):
                for entry in entries:
                    if entry.kind == "file":
                        with entry.path.open("rb") as data:
                            tar.addfile(_tarinfo(entry), data)
                    else:
                        tar.addfile(_tarinfo(entry))
        temporary.chmod(0o644)
        temporary.replace(destination)
    except BaseException as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ArchiveError(f"cannot pack {model_dir} into {destination}: {exc}") from None
        raise
    files = sum(entry.kind == "file" for entry in entries)
    return PackResult(destination, writer.digest.hexdigest(), writer.size, files)
