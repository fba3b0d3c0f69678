"""The emulator's S3 read and written straight from its state directory, for the emulator's own use
(model data read by the fleet, data capture written by the runtime).

No HTTP round trip and no credentials: the reader opens the S3 database beside the running service (SQLite
in WAL mode lets both read) and streams the blob files. Buckets are looked up by name alone: a state
directory belongs to one emulator, whose account owns every bucket in it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

from dockyard.emulator.s3.blobs import Blobs
from dockyard.emulator.s3.domain import Segment, StoredObject
from dockyard.emulator.s3.errors import NoSuchBucket, NoSuchKey
from dockyard.emulator.s3.objects import Content
from dockyard.emulator.s3.service import read_content, s3_root
from dockyard.emulator.s3.store import S3Store


class LocalObjects:
    def __init__(self, state_dir: Path) -> None:
        root = s3_root(state_dir)
        self.blobs = Blobs(root)
        self.store = S3Store(root / "s3.db")

    def close(self) -> None:
        self.store.close()

    def keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key under ``prefix``, in order; NoSuchBucket when there is no such bucket."""
        found = self.store.bucket_anywhere(bucket)
        if found is None:
            raise NoSuchBucket(bucket)
        keys: list[str] = []
        after = ""
        while rows := self.store.keys(found.account, bucket, prefix, after, 1000):
            keys.extend(item.key for item in rows)
            after = rows[-1].key
        return keys

    def read(self, bucket: str, key: str) -> Iterator[bytes]:
        """The object's bytes in pieces; NoSuchBucket / NoSuchKey (raised at once, not on iteration)."""
        found = self.store.bucket_anywhere(bucket)
        if found is None:
            raise NoSuchBucket(bucket)
        item = self.store.object(found.account, bucket, key)
        if item is None:
            raise NoSuchKey(key)
        return read_content(self.blobs, Content(item.segments, 0, item.size))

    def write(self, bucket: str, key: str, data: bytes) -> None:
        """Store ``data`` as the object ``key`` (replacing one there); NoSuchBucket when there is no
        such bucket. The blob is written whole before the object points at it, as a PutObject's is."""
        found = self.store.bucket_anywhere(bucket)
        if found is None:
            raise NoSuchBucket(bucket)
        temporary, handle = self.blobs.temporary()
        try:
            with handle:
                handle.write(data)
        except BaseException:
            self.blobs.discard(temporary)
            raise
        blob = self.blobs.commit(temporary)
        item = StoredObject(
            account=found.account,
            bucket=bucket,
            key=key,
            size=len(data),
            etag=f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"',
            modified=time.time(),
            segments=(Segment(blob, len(data)),),
        )
        try:
            replaced = self.store.put_object(item)
        except BaseException:
            self.blobs.remove(item.blobs)
            raise
        self.blobs.remove(replaced)
