"""S3's operations behind one object: what the HTTP layer calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dockyard.emulator.context import Caller
from dockyard.emulator.s3.blobs import Blobs
from dockyard.emulator.s3.buckets import BucketOperations
from dockyard.emulator.s3.errors import NotImplementedOperation
from dockyard.emulator.s3.ingest import Received
from dockyard.emulator.s3.listing import Listing
from dockyard.emulator.s3.multipart import MultipartOperations
from dockyard.emulator.s3.objects import Content, ObjectOperations, check_new_object
from dockyard.emulator.s3.store import S3Store

Operation = Callable[[Caller, dict[str, Any]], dict[str, Any]]
READ_CHUNK = 1 << 20
# Operations whose request body is object data, streamed to disk before the operation runs.
UPLOADS = frozenset({"PutObject", "UploadPart"})


def s3_root(state_dir: Path) -> Path:
    return state_dir / "s3"


class S3Service:
    def __init__(self, state_dir: Path) -> None:
        root = s3_root(state_dir)
        self.blobs = Blobs(root)
        self.blobs.clear_incoming()
        self.store = S3Store(root / "s3.db")
        # A crash between a blob's rename and its record's commit (or between a delete's commit and the
        # file's removal) leaves a file nothing refers to: nothing has started writing yet, sweep them.
        self.blobs.remove(sorted(self.blobs.stored() - self.store.all_blobs()))
        self.buckets = BucketOperations(self.store)
        self.objects = ObjectOperations(self.store, self.blobs, self.buckets)
        self.multipart = MultipartOperations(self.store, self.blobs, self.buckets)
        self.listing = Listing(self.store, self.buckets)
        b, o, m, ls = self.buckets, self.objects, self.multipart, self.listing
        self._operations: dict[str, Operation] = {
            "CreateBucket": b.create_bucket,
            "HeadBucket": b.head_bucket,
            "ListBuckets": b.list_buckets,
            "DeleteBucket": b.delete_bucket,
            "GetBucketLocation": b.get_bucket_location,
            "PutBucketTagging": b.put_bucket_tagging,
            "GetBucketTagging": b.get_bucket_tagging,
            "DeleteBucketTagging": b.delete_bucket_tagging,
            "PutPublicAccessBlock": b.put_public_access_block,
            "GetPublicAccessBlock": b.get_public_access_block,
            "HeadObject": o.head_object,
            "DeleteObject": o.delete_object,
            "DeleteObjects": o.delete_objects,
            "CopyObject": o.copy_object,
            "ListObjectsV2": ls.list_objects_v2,
            "ListObjects": ls.list_objects,
            "CreateMultipartUpload": m.create_multipart_upload,
            "CompleteMultipartUpload": m.complete_multipart_upload,
            "AbortMultipartUpload": m.abort_multipart_upload,
            "ListParts": m.list_parts,
            "ListMultipartUploads": m.list_multipart_uploads,
        }

    @property
    def served(self) -> frozenset[str]:
        return frozenset(self._operations) | UPLOADS | {"GetObject"}

    def close(self) -> None:
        self.store.close()

    def handle(self, ctx: Caller, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._operations.get(operation)
        if handler is None:
            raise NotImplementedOperation(
                f"The local target's S3 does not serve {operation}; it serves: "
                + ", ".join(sorted(self.served))
            )
        return handler(ctx, params)

    def precheck(self, ctx: Caller, operation: str, params: dict[str, Any]) -> None:
        """Refuse an upload to a bucket (or multipart upload) that does not exist before its body is
        read: a failing request then costs no disk."""
        if operation == "PutObject":
            self.buckets.existing(ctx, params["Bucket"])
            check_new_object(params)
        else:
            self.multipart.existing_upload(ctx, params)

    def upload(self, ctx: Caller, operation: str, params: dict[str, Any], body: Received) -> dict[str, Any]:
        if operation == "PutObject":
            return self.objects.put_object(ctx, params, body)
        return self.multipart.upload_part(ctx, params, body)

    def get_object(self, ctx: Caller, params: dict[str, Any]) -> tuple[dict[str, Any], Content]:
        return self.objects.get_object(ctx, params)

    def read(self, content: Content) -> Iterator[bytes]:
        """The bytes of ``content`` in pieces of at most :data:`READ_CHUNK` bytes."""
        return read_content(self.blobs, content)


def read_content(blobs: Blobs, content: Content) -> Iterator[bytes]:
    offset, remaining = content.start, content.length
    for segment in content.segments:
        if remaining <= 0:
            return
        if offset >= segment.size:
            offset -= segment.size
            continue
        with blobs.path(segment.blob).open("rb") as handle:
            handle.seek(offset)
            left = min(segment.size - offset, remaining)
            while left > 0:
                chunk = handle.read(min(READ_CHUNK, left))
                if not chunk:
                    raise OSError(f"blob {segment.blob} is shorter than its record")
                left -= len(chunk)
                remaining -= len(chunk)
                yield chunk
        offset = 0
