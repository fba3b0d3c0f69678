"""What S3 keeps: buckets, objects, multipart uploads and their parts (plain records)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bucket:
    account: str
    name: str
    region: str
    created: float
    tags: list[tuple[str, str]] | None = None
    public_access_block: dict[str, bool] | None = None


@dataclass(frozen=True)
class Segment:
    """One file of an object's bytes, in order (one for a PutObject, one per part of a multipart)."""

    blob: str
    size: int


@dataclass(frozen=True)
class StoredObject:
    account: str
    bucket: str
    key: str
    size: int
    etag: str  # quoted, as S3 sends it
    modified: float
    segments: tuple[Segment, ...]
    # Headers stored with the object and returned as they were sent: Content-Type, Cache-Control, ...,
    # keyed by the output shape's member names; user metadata (x-amz-meta-*) apart.
    attributes: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    checksum: tuple[str, str] | None = None  # (algorithm, base64 value)
    parts_count: int | None = None

    @property
    def blobs(self) -> list[str]:
        return [segment.blob for segment in self.segments]


@dataclass(frozen=True)
class Upload:
    upload_id: str
    account: str
    bucket: str
    key: str
    initiated: float
    attributes: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str
    modified: float
    blob: str
    checksum: tuple[str, str] | None = None
