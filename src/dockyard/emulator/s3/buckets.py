"""Bucket operations: create, head, list, delete, location, tagging, public access block."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

from dockyard.emulator.context import Caller
from dockyard.emulator.s3.domain import Bucket
from dockyard.emulator.s3.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidBucketName,
    InvalidTag,
    NoSuchBucket,
    NoSuchPublicAccessBlockConfiguration,
    NoSuchTagSet,
    S3Error,
)
from dockyard.emulator.s3.store import S3Store

_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")
_PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
US_EAST_1 = "us-east-1"


class IllegalLocationConstraint(S3Error):
    code = "IllegalLocationConstraintException"
    status = 400


def check_bucket_name(name: str) -> None:
    """S3's naming rules for new buckets; InvalidBucketName says which one is broken."""
    if not 3 <= len(name) <= 63:
        raise InvalidBucketName(name, "bucket names must be between 3 and 63 characters long")
    if not _NAME.fullmatch(name):
        raise InvalidBucketName(
            name,
            "bucket names may contain only lower-case letters, digits, dots and hyphens, "
            "and must begin and end with a letter or digit",
        )
    if ".." in name or _IP.fullmatch(name):
        raise InvalidBucketName(
            name, "bucket names must not contain two adjacent dots or look like an IP address"
        )


class BucketOperations:
    def __init__(self, store: S3Store) -> None:
        self.store = store

    def existing(self, ctx: Caller, name: str) -> Bucket:
        bucket = self.store.bucket(ctx.account, name)
        if bucket is None:
            raise NoSuchBucket(name)
        return bucket

    def create_bucket(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        check_bucket_name(name)
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        # As AWS: the region is the one signed for; a constraint must name that region, and outside
        # us-east-1 it must be given.
        if constraint is None and ctx.region != US_EAST_1:
            raise IllegalLocationConstraint(
                "The unspecified location constraint is incompatible for the region specific endpoint "
                "this request was sent to."
            )
        if constraint is not None and constraint != ctx.region:
            raise IllegalLocationConstraint(
                f"The {constraint} location constraint is incompatible for the region specific endpoint "
                "this request was sent to."
            )
        if not self.store.create_bucket(Bucket(ctx.account, name, ctx.region, time.time())):
            raise BucketAlreadyOwnedByYou(name)
        return {"Location": f"/{name}"}

    def head_bucket(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.existing(ctx, params["Bucket"])
        return {"BucketRegion": bucket.region}

    def list_buckets(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("Prefix") or ""
        region = params.get("BucketRegion")
        after = params.get("ContinuationToken") or ""
        limit = params.get("MaxBuckets") or 10000
        found = [
            b
            for b in self.store.buckets(ctx.account)
            if b.name.startswith(prefix) and (region is None or b.region == region) and b.name > after
        ]
        page = found[:limit]
        return {
            "Buckets": [
                {"Name": b.name, "CreationDate": _utc(b.created), "BucketRegion": b.region} for b in page
            ],
            "Owner": {"DisplayName": "dockyard", "ID": ctx.account},
            "Prefix": params.get("Prefix"),
            "ContinuationToken": page[-1].name if len(found) > limit else None,
        }

    def delete_bucket(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        self.existing(ctx, name)
        if not self.store.delete_bucket(ctx.account, name):
            raise BucketNotEmpty(name)
        return {}

    def get_bucket_location(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.existing(ctx, params["Bucket"])
        # S3 answers an empty constraint for us-east-1.
        return {"LocationConstraint": None if bucket.region == US_EAST_1 else bucket.region}

    def put_bucket_tagging(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        self.existing(ctx, name)
        tag_set = (params.get("Tagging") or {}).get("TagSet") or []
        tags: list[tuple[str, str]] = []
        for tag in tag_set:
            key, value = str(tag.get("Key", "")), str(tag.get("Value", ""))
            if not 1 <= len(key) <= 128 or len(value) > 256:
                raise InvalidTag(
                    "The TagKey you have provided is invalid (1 to 128 characters; values up to 256)"
                )
            if any(key == existing for existing, _ in tags):
                raise InvalidTag("Cannot provide multiple Tags with the same key")
            tags.append((key, value))
        if len(tags) > 50:
            raise InvalidTag("Bucket tag count cannot be greater than 50")
        self.store.set_bucket_tags(ctx.account, name, tags)
        return {}

    def get_bucket_tagging(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.existing(ctx, params["Bucket"])
        if not bucket.tags:
            raise NoSuchTagSet(bucket.name)
        return {"TagSet": [{"Key": k, "Value": v} for k, v in bucket.tags]}

    def delete_bucket_tagging(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        self.existing(ctx, params["Bucket"])
        self.store.set_bucket_tags(ctx.account, params["Bucket"], None)
        return {}

    def put_public_access_block(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        self.existing(ctx, params["Bucket"])
        sent = params.get("PublicAccessBlockConfiguration") or {}
        config = {flag: bool(sent.get(flag, False)) for flag in _PUBLIC_ACCESS_FLAGS}
        self.store.set_public_access_block(ctx.account, params["Bucket"], config)
        return {}

    def get_public_access_block(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.existing(ctx, params["Bucket"])
        if bucket.public_access_block is None:
            raise NoSuchPublicAccessBlockConfiguration(bucket.name)
        return {"PublicAccessBlockConfiguration": bucket.public_access_block}


def _utc(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.UTC)
