"""Object operations: put, get (with Range and conditions), head, delete, delete many, copy."""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from dockyard.emulator.context import Caller
from dockyard.emulator.s3.blobs import Blobs, disk_full
from dockyard.emulator.s3.buckets import BucketOperations
from dockyard.emulator.s3.domain import Segment, StoredObject
from dockyard.emulator.s3.errors import (
    InvalidArgument,
    InvalidRange,
    InvalidRequest,
    KeyTooLongError,
    MalformedXML,
    MetadataTooLarge,
    NoSuchKey,
    S3Error,
)
from dockyard.emulator.s3.ingest import Received
from dockyard.emulator.s3.store import S3Store

# Headers stored with an object and returned as sent (input and output members of the same name).
STORED_ATTRIBUTES = (
    "ContentType",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "WebsiteRedirectLocation",
)
DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what S3 stores when no Content-Type is sent
CHECKSUM_MEMBERS = {
    "crc32": "ChecksumCRC32",
    "crc32c": "ChecksumCRC32C",
    "crc64nvme": "ChecksumCRC64NVME",
    "sha1": "ChecksumSHA1",
    "sha256": "ChecksumSHA256",
}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048  # user metadata, names and values together


def check_new_object(params: dict[str, Any]) -> None:
    """S3's limits on a key and its user metadata, checked before any byte of a body is stored."""
    key_size = len(params["Key"].encode("utf-8"))
    if key_size > MAX_KEY_BYTES:
        raise KeyTooLongError("Your key is too long", Size=key_size, MaxSizeAllowed=MAX_KEY_BYTES)
    metadata = params.get("Metadata") or {}
    size = sum(len(k.encode("utf-8")) + len(str(v).encode("utf-8")) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise MetadataTooLarge(
            "Your metadata headers exceed the maximum allowed metadata size",
            Size=size,
            MaxSizeAllowed=MAX_METADATA_BYTES,
        )


class PreconditionFailed(S3Error):
    code = "PreconditionFailed"
    status = 412


class NotModified(S3Error):
    code = "NotModified"
    status = 304


@dataclass(frozen=True)
class Content:
    """The bytes a GetObject sends: ``length`` bytes from ``start`` across the object's segments."""

    segments: tuple[Segment, ...]
    start: int
    length: int


def attributes(params: dict[str, Any]) -> dict[str, str]:
    found = {name: str(params[name]) for name in STORED_ATTRIBUTES if params.get(name)}
    found.setdefault("ContentType", DEFAULT_CONTENT_TYPE)
    # aws-chunked is how the body travelled, not how the object is encoded.
    encodings = [e.strip() for e in found.get("ContentEncoding", "").split(",") if e.strip()]
    encodings = [e for e in encodings if e != "aws-chunked"]
    if encodings:
        found["ContentEncoding"] = ",".join(encodings)
    else:
        found.pop("ContentEncoding", None)
    return found


def checksum_result(checksum: tuple[str, str] | None) -> dict[str, Any]:
    return {CHECKSUM_MEMBERS[checksum[0]]: checksum[1]} if checksum else {}


def _utc(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


class ObjectOperations:
    def __init__(self, store: S3Store, blobs: Blobs, buckets: BucketOperations) -> None:
        self.store = store
        self.blobs = blobs
        self.buckets = buckets

    def existing(self, ctx: Caller, bucket: str, key: str) -> StoredObject:
        self.buckets.existing(ctx, bucket)
        found = self.store.object(ctx.account, bucket, key)
        if found is None:
            raise NoSuchKey(key)
        return found

    def put_object(self, ctx: Caller, params: dict[str, Any], body: Received) -> dict[str, Any]:
        try:
            self.buckets.existing(ctx, params["Bucket"])
        except S3Error:
            self.blobs.discard(body.temporary)
            raise
        blob = self.blobs.commit(body.temporary)
        item = StoredObject(
            account=ctx.account,
            bucket=params["Bucket"],
            key=params["Key"],
            size=body.size,
            etag=f'"{body.md5}"',
            modified=time.time(),
            segments=(Segment(blob, body.size),),
            attributes=attributes(params),
            metadata=dict(params.get("Metadata") or {}),
            checksum=body.checksum,
        )
        self._save(item)
        return {"ETag": item.etag, **checksum_result(body.checksum)}

    def _save(self, item: StoredObject) -> None:
        try:
            replaced = self.store.put_object(item)
        except BaseException:
            self.blobs.remove(item.blobs)
            raise
        self.blobs.remove(replaced)

    def head_object(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        result, _ = self.get_object(ctx, params)
        return result

    def get_object(self, ctx: Caller, params: dict[str, Any]) -> tuple[dict[str, Any], Content]:
        item = self.existing(ctx, params["Bucket"], params["Key"])
        _check_conditions(item, params)
        result: dict[str, Any] = {
            "AcceptRanges": "bytes",
            "ETag": item.etag,
            "LastModified": _utc(item.modified),
            "Metadata": item.metadata,
            **item.attributes,
        }
        if item.parts_count and params.get("PartNumber"):
            result["PartsCount"] = item.parts_count
        start, length = 0, item.size
        wanted = _range(params.get("Range"), item.size)
        if wanted is not None:
            start, length = wanted
            result["ContentRange"] = f"bytes {start}-{start + length - 1}/{item.size}"
        elif params.get("ChecksumMode") == "ENABLED":
            result.update(checksum_result(item.checksum))
        result["ContentLength"] = length
        for member, override in (
            ("ContentType", "ResponseContentType"),
            ("CacheControl", "ResponseCacheControl"),
            ("ContentDisposition", "ResponseContentDisposition"),
            ("ContentEncoding", "ResponseContentEncoding"),
            ("ContentLanguage", "ResponseContentLanguage"),
        ):
            if params.get(override):
                result[member] = params[override]
        return result, Content(item.segments, start, length)

    def delete_object(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        self.buckets.existing(ctx, params["Bucket"])
        self.blobs.remove(self.store.delete_object(ctx.account, params["Bucket"], params["Key"]))
        return {}

    def delete_objects(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        self.buckets.existing(ctx, params["Bucket"])
        request = params.get("Delete") or {}
        entries = request.get("Objects") or []
        if not entries or len(entries) > 1000:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published "
                "schema (a Delete request names 1 to 1000 objects)"
            )
        deleted = []
        for entry in entries:
            key = entry.get("Key")
            if not key:
                raise MalformedXML("Each Object of a Delete request needs a Key")
            self.blobs.remove(self.store.delete_object(ctx.account, params["Bucket"], key))
            deleted.append({"Key": key})
        return {"Deleted": [] if request.get("Quiet") else deleted}

    def copy_object(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        source_bucket, source_key = _copy_source(params["CopySource"])
        check_new_object(params)
        self.buckets.existing(ctx, params["Bucket"])
        source = self.existing(ctx, source_bucket, source_key)
        _check_conditions(
            source,
            {
                "IfMatch": params.get("CopySourceIfMatch"),
                "IfNoneMatch": params.get("CopySourceIfNoneMatch"),
                "IfModifiedSince": params.get("CopySourceIfModifiedSince"),
                "IfUnmodifiedSince": params.get("CopySourceIfUnmodifiedSince"),
            },
            copy=True,
        )
        replace = params.get("MetadataDirective") == "REPLACE"
        if (source_bucket, source_key) == (params["Bucket"], params["Key"]) and not replace:
            raise InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without "
                "changing the object's metadata, storage class, website redirect location or encryption "
                "attributes."
            )
        segments = []
        try:
            for segment in source.segments:
                segments.append(Segment(self.blobs.link(segment.blob), segment.size))
        except OSError as exc:
            self.blobs.remove([s.blob for s in segments])
            full = disk_full(exc, self.blobs.root)
            if full is not None:
                raise full from None
            raise
        item = StoredObject(
            account=ctx.account,
            bucket=params["Bucket"],
            key=params["Key"],
            size=source.size,
            etag=source.etag,
            modified=time.time(),
            segments=tuple(segments),
            attributes=attributes(params) if replace else source.attributes,
            metadata=dict(params.get("Metadata") or {}) if replace else source.metadata,
            checksum=source.checksum,
            parts_count=source.parts_count,
        )
        self._save(item)
        return {"CopyObjectResult": {"ETag": item.etag, "LastModified": _utc(item.modified)}}


def _copy_source(value: str) -> tuple[str, str]:
    path = unquote(value.split("?versionId=", 1)[0]).lstrip("/")
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise InvalidArgument(f"Invalid copy source object key: {value!r} is not BUCKET/KEY")
    return bucket, key


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, length) of a ``Range: bytes=`` header; None for none (or one S3 ignores: malformed, or
    several ranges); InvalidRange when it starts past the end."""
    if not header:
        return None
    found = _RANGE.fullmatch(header.strip())
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.group(1), found.group(2)
    if first == "":  # the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise _unsatisfiable(header, size)
        start = max(0, size - suffix)
        return start, size - start
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable(header, size)
    return start, end - start + 1


def _unsatisfiable(header: str, size: int) -> InvalidRange:
    return InvalidRange(
        "The requested range is not satisfiable", RangeRequested=header, ActualObjectSize=size
    )


def _check_conditions(item: StoredObject, params: dict[str, Any], copy: bool = False) -> None:
    """If-Match / If-None-Match / If-(Un)Modified-Since, with S3's precedence between them."""
    etag = item.etag.strip('"')
    modified = _utc(int(item.modified))
    if_match, if_none_match = params.get("IfMatch"), params.get("IfNoneMatch")
    since, unmodified = params.get("IfModifiedSince"), params.get("IfUnmodifiedSince")
    failed = "At least one of the pre-conditions you specified did not hold"
    if if_match is not None and not _etag_matches(if_match, etag):
        raise PreconditionFailed(failed, Condition="If-Match")
    if if_match is None and isinstance(unmodified, dt.datetime) and modified > unmodified:
        raise PreconditionFailed(failed, Condition="If-Unmodified-Since")
    if if_none_match is not None and _etag_matches(if_none_match, etag):
        if copy:
            raise PreconditionFailed(failed, Condition="If-None-Match")
        raise NotModified("Not Modified")
    if if_none_match is None and isinstance(since, dt.datetime) and modified <= since:
        if copy:
            raise PreconditionFailed(failed, Condition="If-Modified-Since")
        raise NotModified("Not Modified")


def _etag_matches(condition: str, etag: str) -> bool:
    return any(tag.strip().strip('"') in ("*", etag) for tag in condition.split(","))
