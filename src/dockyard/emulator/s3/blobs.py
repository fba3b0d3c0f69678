"""Object bytes on disk: ``<state>/s3/blobs/<xx>/<id>``, written through ``<state>/s3/incoming/``.

A body is written to a temporary file in ``incoming/`` and renamed into ``blobs/`` only once it is whole
and verified, so an interrupted or rejected upload leaves nothing but a temporary file, and ``incoming/``
is emptied when the emulator's S3 starts. Blobs are immutable: an object is a list of them (a multipart
upload's parts stay separate files), and a copy hard-links them instead of copying bytes.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import BinaryIO

from dockyard.emulator.s3.errors import InternalError

_ID = re.compile(r"[0-9a-f]{32}")
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def disk_full(exc: OSError, where: Path) -> InternalError | None:
    """S3's InternalError, with a sentence that says why, for an OSError that means no space."""
    if exc.errno not in _FULL:
        return None
    return InternalError(
        f"The emulator's state directory ({where}) has no space left: the data could not be stored and "
        "nothing of it was kept. Free some space and retry."
    )


class Blobs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "blobs"
        self.incoming = root / "incoming"
        self.data.mkdir(parents=True, exist_ok=True)
        self.incoming.mkdir(parents=True, exist_ok=True)

    def clear_incoming(self) -> None:
        """Delete what interrupted uploads left (only while no upload runs: when S3 starts)."""
        shutil.rmtree(self.incoming, ignore_errors=True)
        self.incoming.mkdir(parents=True, exist_ok=True)

    def temporary(self) -> tuple[Path, BinaryIO]:
        """A new temporary file, open for writing."""
        fd, name = tempfile.mkstemp(dir=self.incoming, prefix="upload-")
        return Path(name), os.fdopen(fd, "wb", buffering=0)

    def commit(self, temporary: Path) -> str:
        """Move a finished temporary file into the store; its blob id."""
        blob = uuid.uuid4().hex
        target = self.path(blob)
        target.parent.mkdir(exist_ok=True)
        os.replace(temporary, target)
        return blob

    def link(self, blob: str) -> str:
        """A new id for the same bytes (a hard link; blobs never change once written)."""
        copy = uuid.uuid4().hex
        target = self.path(copy)
        target.parent.mkdir(exist_ok=True)
        try:
            os.link(self.path(blob), target)
        except OSError as exc:
            full = disk_full(exc, self.root)
            if full is not None:
                raise full from None
            shutil.copyfile(self.path(blob), target)  # a file system without hard links
        return copy

    def path(self, blob: str) -> Path:
        if not _ID.fullmatch(blob):  # ids come from the database, but never trust a path part
            raise ValueError(f"not a blob id: {blob!r}")
        return self.data / blob[:2] / blob

    def remove(self, blobs: list[str]) -> None:
        for blob in blobs:
            self.path(blob).unlink(missing_ok=True)

    def stored(self) -> set[str]:
        """The id of every blob file on disk."""
        return {path.name for path in self.data.glob("??/*") if _ID.fullmatch(path.name)}

    def discard(self, temporary: Path) -> None:
        temporary.unlink(missing_ok=True)
