"""Safe unpacking of ``model.tar.gz``: all of it, within limits that fit the disk, or nothing at all.

``unpack`` trusts nothing: it reads the whole archive once without writing anything (names, types,
links, sizes and the expansion ratio, as it decompresses), checks that what the headers declare fits in
the destination's free space, then extracts into a temporary directory beside the destination
(tarfile's ``data`` filter as a second layer) and renames it into place.

The limits have safe defaults and can be set per machine through the environment (see ``UnpackLimits``).
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from dockyard.archive_links import human_size, kind_of, link_problem
from dockyard.errors import ArchiveError, UsageError

GiB = 1 << 30
_MiB = 1 << 20
_CHUNK = _MiB

_FORBIDDEN_TYPES = {
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
}

MAX_SIZE_ENV = "DOCKYARD_UNPACK_MAX_SIZE"
MAX_RATIO_ENV = "DOCKYARD_UNPACK_MAX_RATIO"
MIN_FREE_ENV = "DOCKYARD_UNPACK_MIN_FREE"


def _env_size(name: str, default: int) -> int:
    """A size from the environment: bytes, or a number with K, M, G or T (binary units, "iB" optional)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    found = _SIZE.fullmatch(text)
    if found is None:
        raise UsageError(
            f"{name}={text!r} is not a size; give bytes or a number with a unit, such as 20G or 512MiB"
        )
    number, unit = found.groups()
    return int(float(number) * _UNITS[(unit or "").upper()[:1]])


def _env_ratio(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        ratio = float(text)
    except ValueError:
        ratio = 0.0
    if not ratio >= 1:  # also refuses nan
        raise UsageError(f"{name}={text!r} is not a ratio; give a number of at least 1, such as 200")
    return ratio


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmMgGtT](?:i?[bB])?|[bB])?")
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class UnpackLimits:
    """Bounds on what an archive may expand to; an archive over any of them is a decompression bomb.

    The total and the ratio come from ``DOCKYARD_UNPACK_MAX_SIZE`` and ``DOCKYARD_UNPACK_MAX_RATIO`` when
    set, and ``DOCKYARD_UNPACK_MIN_FREE`` is what an unpack must leave free on the destination's disk:
    whatever the total allows, an archive whose declared contents do not fit is refused before a byte is
    written.
    """

    max_total_size: int = field(default_factory=lambda: _env_size(MAX_SIZE_ENV, 50 * GiB))
    max_members: int = 1_000_000
    # Deflate tops out near 1030:1 (zeros at level 6-9) and zeros at level 1 give about 230:1, so a
    # limit of 1000 would stop almost nothing; model files compress far less (a 99%-zero float32
    # array: about 65:1).
    max_ratio: float = field(default_factory=lambda: _env_ratio(MAX_RATIO_ENV, 200))
    # The ratio is judged only past this many bytes: a small archive cannot hurt, and small highly
    # compressible files (zero-filled arrays) are ordinary.
    ratio_after: int = 64 * _MiB
    # Room left for everything else on that disk (the emulator's database, its logs, the engine).
    min_free: int = field(default_factory=lambda: _env_size(MIN_FREE_ENV, 256 * _MiB))


@dataclass(frozen=True)
class UnpackResult:
    path: Path
    files: int
    size: int


# What the validating read saw of each member; the extracting read must see exactly the same.
_Seen = tuple[str, bytes, int, str]


class _Bomb(Exception):
    """The stream expands more than the limits allow."""


class _Inflater:
    """A gzip stream's decompressed bytes, read-only and forward-only, for ``tarfile``'s "r|" mode.

    Unlike ``gzip.GzipFile`` it knows exactly how much compressed input it has used (to judge the
    expansion ratio as it goes) and it fails on a stream cut short instead of ending quietly.
    """

    _READ = 16 * 1024

    def __init__(self, raw: BinaryIO, limits: UnpackLimits | None) -> None:
        self.raw = raw
        self.limits = limits
        self.taken = 0
        self.produced = 0
        self.pending = b""
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing, CRC checked

    def take(self) -> bytes:
        data = self.raw.read(self._READ)
        self.taken += len(data)
        return data

    def read(self, size: int = -1) -> bytes:
        size = size if size > 0 else _CHUNK
        while True:
            if self.inflater.eof:  # a gzip member ended: another may follow (concatenated gzip)
                self.pending = self.inflater.unused_data or self.take()
                if not self.pending:
                    return b""
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            if not self.pending:
                self.pending = self.take()
                if not self.pending:
                    raise EOFError("the compressed data ends before the end of the gzip stream")
            data = self.inflater.decompress(self.pending, size)
            self.pending = self.inflater.unconsumed_tail
            if data:
                self.produced += len(data)
                self.judge()
                return data

    def judge(self) -> None:
        limits = self.limits
        if limits is None or self.produced <= limits.ratio_after:
            return
        consumed = self.taken - len(self.pending) - len(self.inflater.unused_data)
        if self.produced > limits.max_ratio * max(consumed, 1):
            raise _Bomb


class _Validator:
    def __init__(self, archive: Path, limits: UnpackLimits) -> None:
        self.archive = archive
        self.limits = limits
        self.seen: list[_Seen] = []
        self.kinds: dict[str, str] = {}  # name → "dir", "file", "link" or "hardlink"
        self.links: dict[str, str] = {}
        self.order: list[str] = []
        self.size = 0
        self.files = 0

    def reject(self, problem: str) -> ArchiveError:
        return ArchiveError(f"refusing to unpack {self.archive}: {problem}; nothing was written")

    def run(self, raw: BinaryIO) -> None:
        stream = _Inflater(raw, self.limits)
        try:
            # In "r|" mode tarfile decompresses (through the inflater) every member's data to skip it.
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    self.member(member)
            while stream.read(_CHUNK):  # the rest, so that a corrupt or truncated end is caught too
                pass
        except _Bomb:
            where = f" (at member '{self.seen[-1][0]}')" if self.seen else ""
            raise self.reject(
                f"it expands more than {self.limits.max_ratio:g} times its compressed size{where}: "
                f"a decompression bomb (the limit is {MAX_RATIO_ENV})"
            ) from None
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise ArchiveError(
                f"cannot unpack {self.archive}: it is not a readable .tar.gz ({exc}); nothing was written"
            ) from None
        self.check_tree()

    def member(self, member: tarfile.TarInfo) -> None:
        if len(self.seen) >= self.limits.max_members:
            raise self.reject(f"it has more than {self.limits.max_members} members")
        self.seen.append((member.name, member.type, member.size, member.linkname))
        path = PurePosixPath(member.name)
        quoted = f"member '{member.name}'"
        if path.is_absolute():
            raise self.reject(f"{quoted} has an absolute path")
        if ".." in path.parts:
            raise self.reject(f"{quoted} has a '..' component")
        name = path.as_posix()  # without "./" prefixes and trailing "/"
        if member.type in _FORBIDDEN_TYPES:
            raise self.reject(f"{quoted} is {_FORBIDDEN_TYPES[member.type]}")
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise self.reject(f"{quoted} has the unsupported type {member.type!r}")
        if name == "." and not member.isdir():
            raise self.reject(f"{quoted} would replace the destination directory itself")
        kind = kind_of(member)
        if name in self.kinds and not (kind == "dir" and self.kinds[name] == "dir"):
            raise self.reject(f"{quoted} appears twice")
        target = member.linkname
        if member.issym():
            if target.startswith("/"):
                raise self.reject(f"{quoted} is a symlink pointing outside the destination ({target})")
            self.links[name] = target
        if member.islnk():
            linked = PurePosixPath(target)
            if linked.is_absolute() or ".." in linked.parts:
                raise self.reject(f"{quoted} is a hard link pointing outside the destination ({target})")
            if self.kinds.get(linked.as_posix()) != "file":
                raise self.reject(
                    f"{quoted} is a hard link to '{target}', not to a file earlier in the archive"
                )
        self.kinds.setdefault(name, kind)
        self.order.append(name)
        if member.isreg() or member.islnk():
            self.files += 1
        if member.isreg():
            self.add_size(member)

    def add_size(self, member: tarfile.TarInfo) -> None:
        # The sizes in the headers, before any data is decompressed.
        self.size += member.size
        if self.size > self.limits.max_total_size:
            raise self.reject(
                f"it unpacks to more than {human_size(self.limits.max_total_size)} "
                f"(member '{member.name}' goes over the limit, {MAX_SIZE_ENV})"
            )

    def check_tree(self) -> None:
        """What needs the whole list: paths through symlinks or files, and where the symlinks lead."""
        for name in self.order:
            for parent in PurePosixPath(name).parents:
                kind = self.kinds.get(parent.as_posix(), "dir")
                if kind == "link":
                    raise self.reject(f"member '{name}' is inside the symlink '{parent}'")
                if kind != "dir":
                    raise self.reject(f"member '{name}' is inside '{parent}', which is not a directory")
        for name, target in self.links.items():
            problem = link_problem(name, self.links)
            if problem == "outside":
                raise self.reject(f"member '{name}' is a symlink pointing outside the destination ({target})")
            if problem == "loop":
                raise self.reject(f"member '{name}' is a symlink loop ({target})")


def _extract(archive: Path, raw: BinaryIO, seen: list[_Seen], into: Path) -> None:
    """Extract the members validated as ``seen`` into the empty directory ``into``."""
    expected = iter(seen)
    problem = f"cannot unpack {archive}"

    def same_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
        for member in tar:
            if next(expected, None) != (member.name, member.type, member.size, member.linkname):
                raise ArchiveError(f"{problem}: it changed while it was being unpacked; nothing was written")
            yield member

    try:
        with tarfile.open(fileobj=_Inflater(raw, None), mode="r|") as tar:  # type: ignore[call-overload]
            # The "data" filter (Python 3.11.4+) re-checks every path against the real filesystem.
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, members=same_members(tar), filter="data")
            else:  # older 3.11 releases: the validation above still holds
                tar.extractall(into, members=same_members(tar))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveError(f"{problem}: {exc}; nothing was written") from None


def unpack(archive: Path, destination: Path, limits: UnpackLimits | None = None) -> UnpackResult:
    """Unpack ``archive`` into ``destination`` (missing or an empty directory), or nothing at all."""
    limits = limits or UnpackLimits()
    if destination.exists() and not (destination.is_dir() and not any(destination.iterdir())):
        raise UsageError(
            f"cannot unpack into {destination}: it exists and is not an empty directory; "
            "choose a new or empty directory"
        )
    validator = _Validator(archive, limits)
    try:
        raw = archive.open("rb")
    except OSError as exc:
        raise ArchiveError(f"cannot unpack {archive}: {exc.strerror}") from None
    with raw:
        validator.run(raw)
        raw.seek(0)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
        except OSError as exc:
            raise UsageError(f"cannot unpack into {destination}: {exc}") from None
        try:
            _check_room(archive, staging, validator.size, limits)
            _extract(archive, raw, validator.seen, staging)
            staging.chmod(0o755)
            staging.replace(destination)  # rename(2) onto a missing or empty directory
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise ArchiveError(
                f"cannot unpack {archive} into {destination}: {exc}; nothing was written"
            ) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return UnpackResult(destination, validator.files, validator.size)


def _check_room(archive: Path, staging: Path, size: int, limits: UnpackLimits) -> None:
    """Refuse, before writing, an archive whose declared contents would not leave ``min_free`` free."""
    free = shutil.disk_usage(staging).free
    if size + limits.min_free <= free:
        return
    raise ArchiveError(
        f"cannot unpack {archive}: it unpacks to {human_size(size)} and {staging.parent} has "
        f"{human_size(free)} free, of which {human_size(limits.min_free)} must stay free "
        f"({MIN_FREE_ENV}); free some space or unpack elsewhere; nothing was written"
    )
