"""The emulator's S3 read straight from its state directory, for the emulator's own model-data path.

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

    def content_type(self, bucket: str, key: str) -> str | None:
        """The Content-Type the object was stored with (None when none, or no such object)."""
        found = self.store.bucket_anywhere(bucket)
        item = self.store.object(found.account, bucket, key) if found is not None else None
        return item.attributes.get("ContentType") if item is not None else None

    def write(self, bucket: str, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` as the object ``key`` (replacing one of that key); NoSuchBucket when there is no
        such bucket. For results the emulator itself produces (asynchronous inference, batch transform)."""
        found = self.store.bucket_anywhere(bucket)
        if found is None:
            raise NoSuchBucket(bucket)
        temporary, handle = self.blobs.temporary()
        try:
            with handle:
                handle.write(data)
            blob = self.blobs.commit(temporary)
        except BaseException:
            self.blobs.discard(temporary)
            raise
        item = StoredObject(
            account=found.account,
            bucket=bucket,
            key=key,
            size=len(data),
            etag=f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"',
            modified=time.time(),
            segments=(Segment(blob, len(data)),),
            attributes={"ContentType": content_type} if content_type else {},
        )
        try:
            replaced = self.store.put_object(item)
        except BaseException:
            self.blobs.remove([blob])
            raise
        self.blobs.remove(replaced)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); ValueError for anything else."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket")
    return bucket, key
