"""``model.tar.gz``: deterministic packing and safe unpacking of SageMaker's model archive.

``pack`` gives the same bytes for the same tree: entries in sorted order with the files at the archive
root (SageMaker extracts into ``/opt/ml/model``), mtime 0, owner 0:0 without names, modes normalised to
0o644/0o755, no gzip timestamp or file name. Hard-linked files are stored as plain files. Skipped, by
design: ``__pycache__``, ``.DS_Store`` and ``.git`` entries (see ``IGNORED_NAMES``).

``unpack`` trusts nothing: it reads the whole archive once without writing anything (names, types,
links, sizes and the expansion ratio, as it decompresses), then extracts into a temporary directory
beside the destination (tarfile's ``data`` filter as a second layer) and renames it into place.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, Literal

from dockyard.errors import ArchiveError, UsageError

IGNORED_NAMES = frozenset({"__pycache__", ".DS_Store", ".git"})
GiB = 1 << 30
_MiB = 1 << 20
_CHUNK = _MiB
_MAX_LINK_HOPS = 40  # as the Linux kernel's limit on symlinks followed in one lookup

_FORBIDDEN_TYPES = {
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
}


@dataclass(frozen=True)
class PackResult:
    path: Path
    sha256: str
    size: int
    files: int


@dataclass(frozen=True)
class UnpackLimits:
    """Bounds on what an archive may expand to; an archive over any of them is a decompression bomb."""

    max_total_size: int = 50 * GiB
    max_members: int = 1_000_000
    # Deflate tops out near 1030:1 (zeros at level 6-9) and zeros at level 1 give about 230:1, so a
    # limit of 1000 would stop almost nothing; model files compress far less (a 99%-zero float32
    # array: about 65:1).
    max_ratio: float = 200
    # The ratio is judged only past this many bytes: a small archive cannot hurt, and small highly
    # compressible files (zero-filled arrays) are ordinary.
    ratio_after: int = 64 * _MiB


@dataclass(frozen=True)
class UnpackResult:
    path: Path
    files: int
    size: int


def human_size(size: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    index = 0
    while size >= 1024 and index < len(units) - 1:
        size /= 1024
        index += 1
    exact = index == 0 or size == int(size)
    return f"{size:.0f} {units[index]}" if exact else f"{size:.1f} {units[index]}"


# --- Symlinks, judged the same way when packing and unpacking -------------------------------------


def _follow(path: str, links: Mapping[str, str]) -> str | Literal["loop"] | None:
    """Where the relative ``path`` leads inside a tree whose symlinks are ``links`` (relative name →
    target); None when it leaves the tree, "loop" when the links never settle."""
    pending = list(PurePosixPath(path).parts)
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if not done:
                return None
            done.pop()
            continue
        done.append(part)
        target = links.get("/".join(done))
        if target is None:
            continue
        hops += 1
        if hops > _MAX_LINK_HOPS:
            return "loop"
        if target.startswith("/"):
            return None
        done.pop()
        pending[:0] = PurePosixPath(target).parts
    return "/".join(done)


def _link_problem(name: str, links: Mapping[str, str]) -> Literal["outside", "loop"] | None:
    parent = PurePosixPath(name).parent
    where = _follow(str(parent / links[name]), links)
    if where is None:
        return "outside"
    return "loop" if where == "loop" else None


def _kind(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.issym():
        return "link"
    return "hardlink" if member.islnk() else "file"


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
        problem = _link_problem(name, links)
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


# --- Unpacking ------------------------------------------------------------------------------------

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
                "a decompression bomb"
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
        kind = _kind(member)
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
                f"(member '{member.name}' goes over the limit)"
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
            problem = _link_problem(name, self.links)
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


def unpack(archive: Path, destination: Path, limits: UnpackLimits = UnpackLimits()) -> UnpackResult:
    """Unpack ``archive`` into ``destination`` (missing or an empty directory), or nothing at all."""
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
