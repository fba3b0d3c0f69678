"""model.tar.gz: deterministic packing, safe unpacking, and `dockyard package`."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockyard import archive
from dockyard.archive import IGNORED_NAMES, UnpackLimits, human_size, pack, unpack
from dockyard.errors import ArchiveError, UsageError

MiB = 1 << 20


# --- Helpers --------------------------------------------------------------------------------------


def _model_tree(root: Path, *, reverse: bool = False) -> Path:
    """A model directory with nested, empty, executable, linked, unicode and long-named entries."""
    files = {
        "model.joblib": b"\x00\x01binary" * 1000,
        "code/inference.py": b"def model_fn(model_dir):\n    return None\n",
        "code/requirements.txt": b"scikit-learn\n",
        "nested/deeper/weights.bin": os.urandom(0) + bytes(range(256)) * 64,
        "données/é.txt": "unicode ✓\n".encode(),
        "x" * 120 + "/" + "y" * 120: b"long name\n",
    }
    for name in sorted(files, reverse=reverse):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
    (root / "empty").mkdir()
    (root / "code" / "run.sh").write_text("#!/bin/sh\n")
    (root / "code" / "run.sh").chmod(0o755)
    (root / "latest").symlink_to("nested/deeper/weights.bin")
    (root / "code" / "model").symlink_to("../model.joblib")
    return root


def _ignored_entries(root: Path) -> None:
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (root / ".DS_Store").write_bytes(b"junk")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, without holding them in memory."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


Member = tuple[tarfile.TarInfo, bytes | io.RawIOBase | None]


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "") -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    if kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
        return info, data
    return info, None


def _zeros(name: str, size: int) -> tuple[tarfile.TarInfo, _Zeros]:
    info = tarfile.TarInfo(name)
    info.size = size
    return info, _Zeros(size)


def _craft(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            stream = io.BytesIO(data) if isinstance(data, bytes) else data
            tar.addfile(info, stream)
    return path


def _listing(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.fixture
def assert_rejected(tmp_path: Path) -> Callable[..., None]:
    """Unpack must raise exactly ``message`` and leave the filesystem as it was."""

    def check(members: list[Member], message: str, limits: UnpackLimits | None = None) -> None:
        work = tmp_path / "work"
        work.mkdir()
        crafted = _craft(work / "evil.tar.gz", members)
        destination = work / "dest"
        destination.mkdir()
        before = _listing(tmp_path)
        with pytest.raises(ArchiveError) as caught:
            unpack(crafted, destination, limits or UnpackLimits())
        assert caught.value.message == f"refusing to unpack {crafted}: {message}; nothing was written"
        assert _listing(tmp_path) == before
        assert not list(destination.iterdir())

    return check


# --- pack: determinism ----------------------------------------------------------------------------


def test_pack_is_deterministic_across_runs_mtimes_umask_order_and_hardlinks(tmp_path: Path) -> None:
    first = pack(_model_tree(tmp_path / "a" / "model"), tmp_path / "a.tar.gz")
    again = pack(tmp_path / "a" / "model", tmp_path / "again.tar.gz")
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "again.tar.gz").read_bytes()
    assert again.sha256 == first.sha256

    # The same content made differently: other umask, creation order, times and a hard link.
    old_umask = os.umask(0o077)
    try:
        other = _model_tree(tmp_path / "b" / "model", reverse=True)
    finally:
        os.umask(old_umask)
    (other / "model.joblib").unlink()
    os.link(other / "nested" / "deeper" / "weights.bin", tmp_path / "b" / "elsewhere")
    (other / "model.joblib").write_bytes(b"\x00\x01binary" * 1000)
    for path in [other, *other.rglob("*")]:
        os.utime(path, (1_700_000_000, 1_234_567_890), follow_symlinks=False)
    _ignored_entries(other)
    second = pack(other, tmp_path / "b.tar.gz")
    assert (tmp_path / "b.tar.gz").read_bytes() == (tmp_path / "a.tar.gz").read_bytes()
    assert second.sha256 == first.sha256


def test_pack_result_and_archive_layout(tmp_path: Path) -> None:
    model = _model_tree(tmp_path / "model")
    _ignored_entries(model)
    result = pack(model, tmp_path / "out" / "model.tar.gz")

    data = result.path.read_bytes()
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.files == 7
    assert data[3] == 0  # gzip flags: no file name
    assert data[4:8] == b"\x00\x00\x00\x00"  # gzip mtime: none
    assert oct(result.path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in result.path.parent.iterdir()] == ["model.tar.gz"]  # no temporary left

    with tarfile.open(result.path) as tar:
        members = tar.getmembers()
    names = [member.name for member in members]
    assert names[:6] == [
        "code",
        "code/inference.py",
        "code/model",
        "code/requirements.txt",
        "code/run.sh",
        "données",
    ]
    assert not any(part in IGNORED_NAMES for name in names for part in name.split("/"))
    assert all(not name.startswith(("./", "/")) for name in names)
    for member in members:
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
    modes = {member.name: member.mode for member in members}
    assert modes["code"] == modes["code/run.sh"] == 0o755
    assert modes["model.joblib"] == 0o644
    links = {member.name: member.linkname for member in members if member.issym()}
    assert links == {"code/model": "../model.joblib", "latest": "nested/deeper/weights.bin"}


def test_round_trip_restores_every_file_link_and_directory(tmp_path: Path) -> None:
    model = _model_tree(tmp_path / "model")
    packed = pack(model, tmp_path / "model.tar.gz")
    result = unpack(packed.path, tmp_path / "restored")

    restored = tmp_path / "restored"
    assert result == archive.UnpackResult(restored, 7, sum(p.stat().st_size for p in _files(model)))
    assert _listing(restored) == _listing(model)
    for path in _files(model):
        assert (restored / path.relative_to(model)).read_bytes() == path.read_bytes()
    assert os.readlink(restored / "latest") == "nested/deeper/weights.bin"
    assert (restored / "code" / "model").read_bytes() == (model / "model.joblib").read_bytes()
    assert os.access(restored / "code" / "run.sh", os.X_OK)
    assert (restored / "empty").is_dir()
    assert oct(restored.stat().st_mode & 0o777) == "0o755"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _files(root: Path) -> Iterator[Path]:
    return (path for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def test_unpack_into_an_existing_empty_directory_and_dot_slash_archives(tmp_path: Path) -> None:
    # `tar -C model -czf model.tar.gz .` (how SageMaker's examples make them) names members "./x".
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "sub" / "w.bin").write_bytes(b"w")
    (model / "hard").write_bytes(b"h")
    os.link(model / "hard", model / "hard2")
    subprocess.run(["tar", "-C", str(model), "-czf", str(tmp_path / "m.tar.gz"), "."], check=True)
    destination = tmp_path / "dest"
    destination.mkdir()

    result = unpack(tmp_path / "m.tar.gz", destination)

    assert (result.files, result.size) == (3, 2)  # hard2: a hard link, a file without data
    assert (destination / "sub" / "w.bin").read_bytes() == b"w"
    assert (destination / "hard2").read_bytes() == b"h"


# --- pack: errors ---------------------------------------------------------------------------------


def test_pack_rejects_a_missing_model_directory_and_an_archive_inside_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        pack(tmp_path / "absent", tmp_path / "m.tar.gz")
    assert caught.value.message == (
        f"the model directory {tmp_path / 'absent'} does not exist; pass the directory holding the model"
    )
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError) as caught:
        pack(tmp_path / "file", tmp_path / "m.tar.gz")
    assert caught.value.message == (
        f"the model directory {tmp_path / 'file'} is not a directory; pass the directory holding the model"
    )
    model = _model_tree(tmp_path / "model")
    with pytest.raises(UsageError) as caught:
        pack(model, model / "code" / "model.tar.gz")
    assert caught.value.message == (
        f"cannot write {model / 'code' / 'model.tar.gz'} inside the model directory {model}: "
        "the archive would contain itself; write it outside the model directory"
    )


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (
            lambda m: (m / "passwd").symlink_to("/etc/passwd"),
            "the symlink passwd -> /etc/passwd is absolute; make it relative to a file in the model "
            "directory or replace it with a copy",
        ),
        (
            lambda m: (m / "up").symlink_to("../outside.txt"),
            "the symlink up -> ../outside.txt points outside the model directory; "
            "replace it with a copy of what it points to",
        ),
        (
            lambda m: (m / "a").symlink_to("b") or (m / "b").symlink_to("a"),
            "the symlink a -> b is a loop; remove it",
        ),
        (
            lambda m: os.mkfifo(m / "pipe"),
            "pipe is not a regular file, directory or symlink (a socket, FIFO or device); "
            "remove it from the model directory",
        ),
    ],
    ids=["absolute-symlink", "symlink-outside", "symlink-loop", "fifo"],
)
def test_pack_rejects_what_cannot_be_unpacked_safely(
    tmp_path: Path, make: Callable[[Path], object], problem: str
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"w")
    make(model)
    with pytest.raises(ArchiveError) as caught:
        pack(model, tmp_path / "model.tar.gz")
    assert caught.value.message == f"cannot pack {model}: {problem}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_pack_reports_a_destination_it_cannot_write(tmp_path: Path) -> None:
    model = _model_tree(tmp_path / "model")
    (tmp_path / "blocker").write_text("a file, not a directory")
    destination = tmp_path / "blocker" / "model.tar.gz"
    with pytest.raises(ArchiveError) as caught:
        pack(model, destination)
    assert caught.value.message == (
        f"cannot pack {model} into {destination}: [Errno 17] File exists: '{tmp_path / 'blocker'}'"
    )


# --- unpack: malicious archives -------------------------------------------------------------------

MALICIOUS: dict[str, tuple[list[Member], str]] = {
    "absolute-path": (
        [_member("/tmp/dy-env-evil.txt", data=b"x")],
        "member '/tmp/dy-env-evil.txt' has an absolute path",
    ),
    "dot-dot": ([_member("../escape.txt", data=b"x")], "member '../escape.txt' has a '..' component"),
    "nested-dot-dot": (
        [_member("a/b/../../../escape.txt", data=b"x")],
        "member 'a/b/../../../escape.txt' has a '..' component",
    ),
    "symlink-to-etc-passwd": (
        [_member("passwd", tarfile.SYMTYPE, link="/etc/passwd")],
        "member 'passwd' is a symlink pointing outside the destination (/etc/passwd)",
    ),
    "relative-symlink-outside": (
        [_member("sub/up", tarfile.SYMTYPE, link="../../etc")],
        "member 'sub/up' is a symlink pointing outside the destination (../../etc)",
    ),
    "symlink-then-file-through-it": (
        [_member("sub", tarfile.SYMTYPE, link="."), _member("sub/evil.txt", data=b"x")],
        "member 'sub/evil.txt' is inside the symlink 'sub'",
    ),
    "file-then-symlink-over-its-directory": (
        [_member("d/evil.txt", data=b"x"), _member("d", tarfile.SYMTYPE, link=".")],
        "member 'd/evil.txt' is inside the symlink 'd'",
    ),
    "symlink-chain-outside": (
        # Lexically "sub/l1/../.." is ".", but sub/l1 is ".." itself: the chain leaves the destination.
        [_member("sub/l1", tarfile.SYMTYPE, link=".."), _member("l2", tarfile.SYMTYPE, link="sub/l1/../..")],
        "member 'l2' is a symlink pointing outside the destination (sub/l1/../..)",
    ),
    "symlink-loop": (
        [_member("a", tarfile.SYMTYPE, link="b"), _member("b", tarfile.SYMTYPE, link="a")],
        "member 'a' is a symlink loop (b)",
    ),
    "hardlink-outside": (
        [_member("h", tarfile.LNKTYPE, link="../../etc/passwd")],
        "member 'h' is a hard link pointing outside the destination (../../etc/passwd)",
    ),
    "hardlink-absolute": (
        [_member("h", tarfile.LNKTYPE, link="/etc/passwd")],
        "member 'h' is a hard link pointing outside the destination (/etc/passwd)",
    ),
    "hardlink-to-no-earlier-file": (
        [_member("h", tarfile.LNKTYPE, link="later.txt"), _member("later.txt", data=b"x")],
        "member 'h' is a hard link to 'later.txt', not to a file earlier in the archive",
    ),
    "character-device": (
        [_member("null", tarfile.CHRTYPE)],
        "member 'null' is a character device",
    ),
    "block-device": ([_member("sda", tarfile.BLKTYPE)], "member 'sda' is a block device"),
    "fifo": ([_member("pipe", tarfile.FIFOTYPE)], "member 'pipe' is a FIFO"),
    "unknown-type": ([_member("odd", b"Z")], "member 'odd' has the unsupported type b'Z'"),
    "duplicate": (
        [_member("w.bin", data=b"1"), _member("w.bin", data=b"2")],
        "member 'w.bin' appears twice",
    ),
    "dot-as-a-file": ([_member(".", data=b"x")], "member '.' would replace the destination directory itself"),
    "file-inside-a-file": (
        [_member("a", data=b"x"), _member("a/b", data=b"y")],
        "member 'a/b' is inside 'a', which is not a directory",
    ),
}


@pytest.mark.parametrize("case", list(MALICIOUS))
def test_unpack_rejects_malicious_archives(case: str, assert_rejected: Callable[..., None]) -> None:
    members, message = MALICIOUS[case]
    assert_rejected(members, message)
    assert not Path("/tmp/dy-env-evil.txt").exists()


def test_unpack_rejects_a_bomb_by_declared_size(assert_rejected: Callable[..., None]) -> None:
    assert_rejected(
        [_member("small.bin", data=b"x" * 1000), _zeros("big.bin", 2 * MiB)],
        "it unpacks to more than 2 MiB (member 'big.bin' goes over the limit)",
        UnpackLimits(max_total_size=2 * MiB),
    )


def test_unpack_rejects_a_bomb_by_ratio(assert_rejected: Callable[..., None]) -> None:
    assert_rejected(
        [_member("a.txt", data=b"x"), _zeros("zeros.bin", 16 * MiB)],
        "it expands more than 100 times its compressed size (at member 'zeros.bin'): a decompression bomb",
        UnpackLimits(max_ratio=100, ratio_after=MiB),
    )


def test_the_default_limits_stop_a_zero_bomb_early(tmp_path: Path) -> None:
    # Zeros at gzip level 1 (about 230:1, deflate's fastest level): rejected once the
    # first 64 MiB have been decompressed (UnpackLimits.ratio_after), and nothing is written.
    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz", compresslevel=1) as tar:
        for number in range(2):
            info, data = _zeros(f"zeros{number}.bin", 64 * MiB)
            tar.addfile(info, data)
    with pytest.raises(ArchiveError) as caught:
        unpack(bomb, tmp_path / "dest")
    assert caught.value.message == (
        f"refusing to unpack {bomb}: it expands more than 200 times its compressed size "
        "(at member 'zeros0.bin'): a decompression bomb; nothing was written"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.tar.gz"]


def test_unpack_reads_concatenated_gzip_members_and_rejects_trailing_garbage(tmp_path: Path) -> None:
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        info, _ = _member("a.txt", data=b"a" * 5000)
        tar.addfile(info, io.BytesIO(b"a" * 5000))
    half = len(plain.getvalue()) // 2
    two = tmp_path / "two.tar.gz"
    two.write_bytes(gzip.compress(plain.getvalue()[:half]) + gzip.compress(plain.getvalue()[half:]))
    assert unpack(two, tmp_path / "dest").files == 1
    assert (tmp_path / "dest" / "a.txt").read_bytes() == b"a" * 5000

    trailing = tmp_path / "trailing.tar.gz"
    trailing.write_bytes(gzip.compress(plain.getvalue()) + b"garbage")
    with pytest.raises(ArchiveError) as caught:
        unpack(trailing, tmp_path / "dest2")
    assert caught.value.message == (
        f"cannot unpack {trailing}: it is not a readable .tar.gz "
        "(Error -3 while decompressing data: incorrect header check); nothing was written"
    )
    assert not (tmp_path / "dest2").exists()


def test_unpack_rejects_too_many_members(assert_rejected: Callable[..., None]) -> None:
    assert_rejected(
        [_member(f"f{number}", data=b"") for number in range(4)],
        "it has more than 3 members",
        UnpackLimits(max_members=3),
    )


def test_unpack_accepts_what_is_within_the_limits(tmp_path: Path) -> None:
    crafted = _craft(tmp_path / "ok.tar.gz", [_zeros("zeros.bin", 2 * MiB), _member("a", data=b"a")])
    result = unpack(crafted, tmp_path / "dest", UnpackLimits(max_total_size=2 * MiB + 1, max_members=2))
    assert (result.files, result.size) == (2, 2 * MiB + 1)
    assert UnpackLimits() == UnpackLimits(50 * (1 << 30), 1_000_000, 200, 64 * MiB)


def test_unpack_rejects_unreadable_archives(tmp_path: Path) -> None:
    good = pack(_model_tree(tmp_path / "model"), tmp_path / "good.tar.gz").path
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[:200])
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not gzip at all")
    expected = {
        truncated: "the compressed data ends before the end of the gzip stream",
        garbage: "zlib error: Error -3 while decompressing data: incorrect header check",
    }
    for path, reason in expected.items():
        with pytest.raises(ArchiveError) as caught:
            unpack(path, tmp_path / "dest")
        assert caught.value.message == (
            f"cannot unpack {path}: it is not a readable .tar.gz ({reason}); nothing was written"
        )
        assert not (tmp_path / "dest").exists()
    with pytest.raises(ArchiveError) as caught:
        unpack(tmp_path / "absent.tar.gz", tmp_path / "dest")
    assert caught.value.message == f"cannot unpack {tmp_path / 'absent.tar.gz'}: No such file or directory"


def test_unpack_refuses_a_destination_in_use(tmp_path: Path) -> None:
    good = pack(_model_tree(tmp_path / "model"), tmp_path / "good.tar.gz").path
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError) as caught:
        unpack(good, tmp_path / "full")
    assert caught.value.message == (
        f"cannot unpack into {tmp_path / 'full'}: it exists and is not an empty directory; "
        "choose a new or empty directory"
    )
    assert _listing(tmp_path / "full") == ["keep.txt"]
    (tmp_path / "blocker").write_text("a file")
    with pytest.raises(UsageError) as caught:
        unpack(good, tmp_path / "blocker" / "dest")
    destination = tmp_path / "blocker" / "dest"
    assert caught.value.message == (
        f"cannot unpack into {destination}: [Errno 17] File exists: '{tmp_path / 'blocker'}'"
    )


def test_unpack_leaves_nothing_when_the_destination_fills_up_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = pack(_model_tree(tmp_path / "model"), tmp_path / "good.tar.gz").path
    destination = tmp_path / "dest"
    real_replace = Path.replace

    def someone_else_writes_first(self: Path, target: Path) -> Path:
        destination.mkdir()
        (destination / "theirs.txt").write_text("x")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", someone_else_writes_first)
    with pytest.raises(ArchiveError) as caught:
        unpack(good, destination)
    assert caught.value.message.startswith(
        f"cannot unpack {good} into {destination}: [Errno 39] Directory not empty"
    )
    assert caught.value.message.endswith("; nothing was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "good.tar.gz", "model"]


# --- unpack: the second layer ---------------------------------------------------------------------


def _unvalidated(path: Path) -> list[tuple[str, bytes, int, str]]:
    with tarfile.open(path) as tar:
        return [(m.name, m.type, m.size, m.linkname) for m in tar.getmembers()]


def test_tarfiles_data_filter_stops_what_the_validation_would_have(tmp_path: Path) -> None:
    crafted = _craft(tmp_path / "evil.tar.gz", [_member("../escape.txt", data=b"x")])
    into = tmp_path / "into"
    into.mkdir()
    with crafted.open("rb") as raw, pytest.raises(ArchiveError) as caught:
        archive._extract(crafted, raw, _unvalidated(crafted), into)
    assert caught.value.message == (
        f"cannot unpack {crafted}: '../escape.txt' would be extracted to '{tmp_path / 'escape.txt'}', "
        "which is outside the destination; nothing was written"
    )
    assert not (tmp_path / "escape.txt").exists()


def test_extraction_stops_when_the_archive_differs_from_what_was_validated(tmp_path: Path) -> None:
    validated = _craft(tmp_path / "a.tar.gz", [_member("a.txt", data=b"a")])
    swapped = _craft(tmp_path / "b.tar.gz", [_member("b.txt", data=b"b")])
    into = tmp_path / "into"
    into.mkdir()
    with swapped.open("rb") as raw, pytest.raises(ArchiveError) as caught:
        archive._extract(swapped, raw, _unvalidated(validated), into)
    assert caught.value.message == (
        f"cannot unpack {swapped}: it changed while it was being unpacked; nothing was written"
    )
    assert not list(into.iterdir())


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 50 * (1 << 30), 3 << 40)] == [
        "0 B",
        "1023 B",
        "1 KiB",
        "1.5 KiB",
        "50 GiB",
        "3 TiB",
    ]


# --- dockyard package -----------------------------------------------------------------------------


def _dockyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_cli_package_prints_path_size_sha256_and_file_count(tmp_path: Path) -> None:
    _model_tree(tmp_path / "model")
    result = _dockyard("package", "model", "-o", "dist/model.tar.gz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    archive_path = tmp_path / "dist" / "model.tar.gz"
    data = archive_path.read_bytes()
    assert result.stdout.splitlines() == [
        "Wrote dist/model.tar.gz",
        f"  size    {human_size(len(data))} ({len(data)} bytes)",
        f"  sha256  {hashlib.sha256(data).hexdigest()}",
        "  files   7",
    ]
    # Same tree → same bytes, through the CLI too.
    shutil.copytree(tmp_path / "model", tmp_path / "copy", symlinks=True)
    again = _dockyard("package", "copy", "-o", "again.tar.gz", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.tar.gz").read_bytes() == data


def test_cli_package_defaults_to_the_projects_model_directory(tmp_path: Path) -> None:
    (tmp_path / "dockyard.toml").write_text('[project]\nname = "iris"\nmodel = "weights"\n')
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.joblib").write_bytes(b"model")
    result = _dockyard("package", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with tarfile.open(tmp_path / "model.tar.gz") as tar:
        assert tar.getnames() == ["model.joblib"]


def test_cli_package_errors_are_one_line_with_the_right_exit_code(tmp_path: Path) -> None:
    result = _dockyard("package", cwd=tmp_path)
    assert (result.returncode, result.stderr.strip()) == (
        2,
        f"error: no MODEL_DIR given and no dockyard.toml in {tmp_path}; "
        "pass the model directory (dockyard package MODEL_DIR)",
    )
    result = _dockyard("package", "absent", cwd=tmp_path)
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "error: the model directory absent does not exist; pass the directory holding the model",
    )
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "passwd").symlink_to("/etc/passwd")
    result = _dockyard("package", "model", cwd=tmp_path)
    assert (result.returncode, result.stderr.strip()) == (
        1,
        "error: cannot pack model: the symlink passwd -> /etc/passwd is absolute; make it relative to a "
        "file in the model directory or replace it with a copy",
    )
    assert not (tmp_path / "model.tar.gz").exists()
