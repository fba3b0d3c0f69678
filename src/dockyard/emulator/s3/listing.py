"""ListObjectsV2 and ListObjects: prefix, delimiter (CommonPrefixes), max-keys, markers and tokens.

Keys are read from the store in key order, a page at a time; once a common prefix is found the next
read starts past every key that shares it, so a bucket of many "folders" lists in one query per folder.
A continuation token is the (base64) position the next page starts after.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from dockyard.emulator.context import Caller
from dockyard.emulator.s3.buckets import BucketOperations
from dockyard.emulator.s3.domain import StoredObject
from dockyard.emulator.s3.errors import InvalidArgument
from dockyard.emulator.s3.store import S3Store

MAX_KEYS = 1000
_PAST = "\U0010ffff"  # sorts after any character a key can continue with


@dataclass
class Page:
    contents: list[StoredObject] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str = ""  # the last key or common prefix on the page
    resume_after: str = ""  # where the next page starts (past ``last``)


def list_page(
    store: S3Store, account: str, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int
) -> Page:
    page = Page()
    position = after
    count = 0
    while count <= max_keys:
        rows = store.keys(account, bucket, prefix, position, min(MAX_KEYS, max_keys - count) + 1)
        if not rows:
            return page
        for item in rows:
            common = _common_prefix(item.key, prefix, delimiter)
            if count == max_keys:
                page.truncated = True
                return page
            count += 1
            if common is not None:
                page.prefixes.append(common)
                page.last, page.resume_after = common, common + _PAST
                position = page.resume_after
                break  # read again from past this prefix
            page.contents.append(item)
            page.last = page.resume_after = position = item.key
    return page


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    found = key.find(delimiter, len(prefix))
    return key[: found + len(delimiter)] if found >= 0 else None


def _max_keys(params: dict[str, Any]) -> int:
    value = params.get("MaxKeys", MAX_KEYS)
    if not isinstance(value, int) or value < 0:
        raise InvalidArgument("Provided max-keys not an integer or within integer range")
    return min(value, MAX_KEYS)


def _utc(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


def _encoder(params: dict[str, Any]) -> Any:
    if params.get("EncodingType") == "url":
        return lambda text: None if text is None else quote(text, safe="/")
    return lambda text: text


def _entry(item: StoredObject, encode: Any) -> dict[str, Any]:
    return {
        "Key": encode(item.key),
        "LastModified": _utc(item.modified),
        "ETag": item.etag,
        "Size": item.size,
        "StorageClass": "STANDARD",
    }


class Listing:
    def __init__(self, store: S3Store, buckets: BucketOperations) -> None:
        self.store = store
        self.buckets = buckets

    def list_objects_v2(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        self.buckets.existing(ctx, params["Bucket"])
        token = params.get("ContinuationToken")
        start_after = params.get("StartAfter") or ""
        after = start_after
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
            except (binascii.Error, UnicodeError, ValueError):
                raise InvalidArgument("The continuation token provided is incorrect") from None
        max_keys = _max_keys(params)
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
        page = list_page(self.store, ctx.account, params["Bucket"], prefix, delimiter, after, max_keys)
        encode = _encoder(params)
        return {
            "Name": params["Bucket"],
            "Prefix": encode(prefix),
            "Delimiter": encode(delimiter) if delimiter else None,
            "MaxKeys": max_keys,
            "EncodingType": params.get("EncodingType"),
            "KeyCount": len(page.contents) + len(page.prefixes),
            "IsTruncated": page.truncated,
            "Contents": [_entry(item, encode) for item in page.contents] or None,
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes] or None,
            "ContinuationToken": token,
            "NextContinuationToken": (
                base64.urlsafe_b64encode(page.resume_after.encode()).decode("ascii")
                if page.truncated
                else None
            ),
            "StartAfter": encode(start_after) if start_after else None,
        }

    def list_objects(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        self.buckets.existing(ctx, params["Bucket"])
        marker = params.get("Marker") or ""
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
        # A marker that is a common prefix (what NextMarker gives with a delimiter) resumes past it.
        after = marker + _PAST if delimiter and marker.endswith(delimiter) else marker
        max_keys = _max_keys(params)
        page = list_page(self.store, ctx.account, params["Bucket"], prefix, delimiter, after, max_keys)
        encode = _encoder(params)
        return {
            "Name": params["Bucket"],
            "Prefix": encode(prefix),
            "Marker": encode(marker),
            "Delimiter": encode(delimiter) if delimiter else None,
            "MaxKeys": max_keys,
            "EncodingType": params.get("EncodingType"),
            "IsTruncated": page.truncated,
            "NextMarker": encode(page.last) if page.truncated and delimiter else None,
            "Contents": [_entry(item, encode) for item in page.contents] or None,
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes] or None,
        }
