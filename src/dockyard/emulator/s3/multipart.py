"""Multipart uploads: create, upload part, complete (ETag ``md5-of-md5s-N``), abort, list parts/uploads.

Parts stay separate blobs; completing an upload makes an object whose segments are the chosen parts, so
no byte is copied. Every part but the last must be at least 5 MiB, as S3 requires.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any

from dockyard.emulator.context import Caller
from dockyard.emulator.s3.blobs import Blobs
from dockyard.emulator.s3.buckets import BucketOperations
from dockyard.emulator.s3.domain import Part, Segment, StoredObject, Upload
from dockyard.emulator.s3.errors import (
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    MalformedXML,
    NoSuchUpload,
)
from dockyard.emulator.s3.ingest import Received
from dockyard.emulator.s3.objects import attributes, check_new_object, checksum_result
from dockyard.emulator.s3.store import S3Store

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10000


def _utc(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


class MultipartOperations:
    def __init__(self, store: S3Store, blobs: Blobs, buckets: BucketOperations) -> None:
        self.store = store
        self.blobs = blobs
        self.buckets = buckets

    def existing_upload(self, ctx: Caller, params: dict[str, Any]) -> Upload:
        self.buckets.existing(ctx, params["Bucket"])
        upload = self.store.upload(params["UploadId"])
        if (
            upload is None
            or upload.account != ctx.account
            or (upload.bucket, upload.key) != (params["Bucket"], params["Key"])
        ):
            raise NoSuchUpload(params["UploadId"])
        return upload

    def create_multipart_upload(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        self.buckets.existing(ctx, params["Bucket"])
        check_new_object(params)
        algorithm = params.get("ChecksumAlgorithm")
        upload = Upload(
            upload_id=uuid.uuid4().hex,
            account=ctx.account,
            bucket=params["Bucket"],
            key=params["Key"],
            initiated=time.time(),
            attributes=attributes(params),
            metadata=dict(params.get("Metadata") or {}),
            checksum_algorithm=algorithm.lower() if isinstance(algorithm, str) else None,
        )
        self.store.create_upload(upload)
        return {
            "Bucket": upload.bucket,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "ChecksumAlgorithm": algorithm,
        }

    def upload_part(self, ctx: Caller, params: dict[str, Any], body: Received) -> dict[str, Any]:
        try:
            number = params["PartNumber"]
            if not 1 <= number <= MAX_PART_NUMBER:
                raise InvalidArgument(
                    f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
                    ArgumentName="partNumber",
                    ArgumentValue=number,
                )
            self.existing_upload(ctx, params)
        except BaseException:
            self.blobs.discard(body.temporary)
            raise
        blob = self.blobs.commit(body.temporary)
        part = Part(number, body.size, f'"{body.md5}"', time.time(), blob, body.checksum)
        replaced = self.store.put_part(params["UploadId"], part)
        if replaced is None:  # aborted while its part was arriving
            self.blobs.remove([blob])
            raise NoSuchUpload(params["UploadId"])
        self.blobs.remove(replaced)
        return {"ETag": part.etag, **checksum_result(body.checksum)}

    def complete_multipart_upload(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        upload = self.existing_upload(ctx, params)
        chosen = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not chosen:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published "
                "schema (CompleteMultipartUpload names no parts)"
            )
        stored = {part.number: part for part in self.store.parts(upload.upload_id)}
        parts: list[Part] = []
        for index, entry in enumerate(chosen):
            number, etag = entry.get("PartNumber"), str(entry.get("ETag", "")).strip('"')
            if index and isinstance(number, int) and number <= parts[-1].number:
                raise InvalidPartOrder(
                    "The list of parts was not in ascending order. Parts must be ordered by part number.",
                    UploadId=upload.upload_id,
                )
            part = stored.get(number) if isinstance(number, int) else None
            if part is None or part.etag.strip('"') != etag:
                raise InvalidPart(
                    "One or more of the specified parts could not be found.  The part may not have been "
                    "uploaded, or the specified entity tag may not match the part's entity tag.",
                    UploadId=upload.upload_id,
                    PartNumber=number,
                    ETag=entry.get("ETag"),
                )
            parts.append(part)
        for part in parts[:-1]:
            if part.size < MIN_PART_SIZE:
                raise EntityTooSmall(
                    "Your proposed upload is smaller than the minimum allowed size",
                    ProposedSize=part.size,
                    MinSizeAllowed=MIN_PART_SIZE,
                    PartNumber=part.number,
                    ETag=part.etag.strip('"'),
                )
        digests = b"".join(bytes.fromhex(part.etag.strip('"')) for part in parts)
        etag = f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(parts)}"'
        item = StoredObject(
            account=ctx.account,
            bucket=upload.bucket,
            key=upload.key,
            size=sum(part.size for part in parts),
            etag=etag,
            modified=time.time(),
            segments=tuple(Segment(part.blob, part.size) for part in parts),
            attributes=upload.attributes,
            metadata=upload.metadata,
            parts_count=len(parts),
        )
        unreachable = self.store.complete_upload(upload.upload_id, item)
        if unreachable is None:
            raise NoSuchUpload(upload.upload_id)
        self.blobs.remove(unreachable)
        return {
            "Location": f"/{upload.bucket}/{upload.key}",
            "Bucket": upload.bucket,
            "Key": upload.key,
            "ETag": etag,
        }

    def abort_multipart_upload(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        self.existing_upload(ctx, params)
        blobs = self.store.abort_upload(params["UploadId"])
        if blobs is None:
            raise NoSuchUpload(params["UploadId"])
        self.blobs.remove(blobs)
        return {}

    def list_parts(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        upload = self.existing_upload(ctx, params)
        marker = params.get("PartNumberMarker") or 0
        limit = min(params.get("MaxParts") or 1000, 1000)
        after = [part for part in self.store.parts(upload.upload_id) if part.number > marker]
        page = after[:limit]
        truncated = len(after) > limit
        return {
            "Bucket": upload.bucket,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "PartNumberMarker": marker,
            "NextPartNumberMarker": page[-1].number if truncated else None,
            "MaxParts": limit,
            "IsTruncated": truncated,
            "StorageClass": "STANDARD",
            "Parts": [
                {
                    "PartNumber": part.number,
                    "LastModified": _utc(part.modified),
                    "ETag": part.etag,
                    "Size": part.size,
                    **checksum_result(part.checksum),
                }
                for part in page
            ],
        }

    def list_multipart_uploads(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        self.buckets.existing(ctx, params["Bucket"])
        limit = min(params.get("MaxUploads") or 1000, 1000)
        uploads = self.store.uploads(ctx.account, params["Bucket"], params.get("Prefix") or "")
        key_marker = params.get("KeyMarker") or ""
        uploads = [u for u in uploads if u.key > key_marker]
        page = uploads[:limit]
        return {
            "Bucket": params["Bucket"],
            "KeyMarker": key_marker,
            "Prefix": params.get("Prefix"),
            "MaxUploads": limit,
            "IsTruncated": len(uploads) > limit,
            "NextKeyMarker": page[-1].key if len(uploads) > limit else None,
            "Uploads": [
                {
                    "UploadId": u.upload_id,
                    "Key": u.key,
                    "Initiated": _utc(u.initiated),
                    "StorageClass": "STANDARD",
                }
                for u in page
            ],
        }
