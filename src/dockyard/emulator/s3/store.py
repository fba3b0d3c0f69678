"""S3's metadata in SQLite (``<state>/s3/s3.db``): the only S3 module with SQL.

Buckets are keyed by (account, name): names are unique within an account, as in AWS. Objects are keyed by
(account, bucket, key) and point at their blobs (see ``blobs.py``); keys compare as UTF-8 bytes (SQLite's
BINARY collation), which is the order S3 lists them in. One connection behind a lock, WAL mode, each
call one short transaction; a write returns the blobs it made unreachable so the caller can delete them
after the commit (a crash in between leaves an unreferenced file, never a reference to a missing one).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dockyard.emulator.s3.domain import Bucket, Part, Segment, StoredObject, Upload

SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE buckets (
        account TEXT NOT NULL, name TEXT NOT NULL, region TEXT NOT NULL, created REAL NOT NULL,
        tags TEXT, public_access_block TEXT, PRIMARY KEY (account, name))""",
    """CREATE TABLE objects (
        account TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL,
        etag TEXT NOT NULL, modified REAL NOT NULL, segments TEXT NOT NULL, attributes TEXT NOT NULL,
        metadata TEXT NOT NULL, checksum TEXT, parts_count INTEGER, PRIMARY KEY (account, bucket, key))""",
    """CREATE TABLE uploads (
        upload_id TEXT PRIMARY KEY, account TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
        initiated REAL NOT NULL, attributes TEXT NOT NULL, metadata TEXT NOT NULL,
        checksum_algorithm TEXT)""",
    "CREATE INDEX uploads_bucket ON uploads (account, bucket, key)",
    """CREATE TABLE parts (
        upload_id TEXT NOT NULL, number INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
        modified REAL NOT NULL, blob TEXT NOT NULL, checksum TEXT, PRIMARY KEY (upload_id, number))""",
)
_OBJECT_COLUMNS = (
    "account, bucket, key, size, etag, modified, segments, attributes, metadata, checksum, parts_count"
)


class S3Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._transaction() as db:
            if int(db.execute("PRAGMA user_version").fetchone()[0]) == 0:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ---- buckets -------------------------------------------------------------------------------

    def bucket(self, account: str, name: str) -> Bucket | None:
        rows = self._rows("SELECT * FROM buckets WHERE account = ? AND name = ?", (account, name))
        return _bucket(rows[0]) if rows else None

    def bucket_anywhere(self, name: str) -> Bucket | None:
        """The bucket of that name in whichever account holds it (the emulator's own model-data path)."""
        rows = self._rows("SELECT * FROM buckets WHERE name = ? ORDER BY created LIMIT 1", (name,))
        return _bucket(rows[0]) if rows else None

    def buckets(self, account: str) -> list[Bucket]:
        rows = self._rows("SELECT * FROM buckets WHERE account = ? ORDER BY name", (account,))
        return [_bucket(row) for row in rows]

    def create_bucket(self, bucket: Bucket) -> bool:
        """False (and nothing written) when the account has a bucket of that name already."""
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO buckets (account, name, region, created) VALUES (?, ?, ?, ?)",
                    (bucket.account, bucket.name, bucket.region, bucket.created),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def delete_bucket(self, account: str, name: str) -> bool:
        """Delete an empty bucket (its unfinished uploads with it); False when it holds objects."""
        with self._transaction() as db:
            if db.execute(
                "SELECT 1 FROM objects WHERE account = ? AND bucket = ? LIMIT 1", (account, name)
            ).fetchone():
                return False
            db.execute(
                "DELETE FROM parts WHERE upload_id IN "
                "(SELECT upload_id FROM uploads WHERE account = ? AND bucket = ?)",
                (account, name),
            )
            db.execute("DELETE FROM uploads WHERE account = ? AND bucket = ?", (account, name))
            db.execute("DELETE FROM buckets WHERE account = ? AND name = ?", (account, name))
        return True

    def set_bucket_tags(self, account: str, name: str, tags: list[tuple[str, str]] | None) -> None:
        encoded = None if tags is None else json.dumps(tags)
        with self._transaction() as db:
            db.execute("UPDATE buckets SET tags = ? WHERE account = ? AND name = ?", (encoded, account, name))

    def set_public_access_block(self, account: str, name: str, config: dict[str, bool]) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE buckets SET public_access_block = ? WHERE account = ? AND name = ?",
                (json.dumps(config), account, name),
            )

    # ---- objects -------------------------------------------------------------------------------

    def object(self, account: str, bucket: str, key: str) -> StoredObject | None:
        rows = self._rows(
            f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE account = ? AND bucket = ? AND key = ?",
            (account, bucket, key),
        )
        return _object(rows[0]) if rows else None

    def put_object(self, item: StoredObject) -> list[str]:
        """Save an object, replacing one of that key; the replaced object's blobs."""
        with self._transaction() as db:
            return self._put(db, item)

    def delete_object(self, account: str, bucket: str, key: str) -> list[str]:
        """The deleted object's blobs (none when there was none)."""
        with self._transaction() as db:
            row = db.execute(
                "DELETE FROM objects WHERE account = ? AND bucket = ? AND key = ? RETURNING segments",
                (account, bucket, key),
            ).fetchone()
        return _blobs(row[0]) if row else []

    def keys(self, account: str, bucket: str, prefix: str, after: str, limit: int) -> list[StoredObject]:
        """Up to ``limit`` objects with ``prefix`` whose keys sort after ``after``, in key order."""
        rows = self._rows(
            f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE account = ? AND bucket = ? AND key > ? "
            "AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
            (account, bucket, after, len(prefix), prefix, limit),
        )
        return [_object(row) for row in rows]

    # ---- multipart uploads ---------------------------------------------------------------------

    def create_upload(self, upload: Upload) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.upload_id,
                    upload.account,
                    upload.bucket,
                    upload.key,
                    upload.initiated,
                    json.dumps(upload.attributes),
                    json.dumps(upload.metadata),
                    upload.checksum_algorithm,
                ),
            )

    def upload(self, upload_id: str) -> Upload | None:
        rows = self._rows("SELECT * FROM uploads WHERE upload_id = ?", (upload_id,))
        return _upload(rows[0]) if rows else None

    def uploads(self, account: str, bucket: str, prefix: str) -> list[Upload]:
        rows = self._rows(
            "SELECT * FROM uploads WHERE account = ? AND bucket = ? AND substr(key, 1, ?) = ? "
            "ORDER BY key, initiated",
            (account, bucket, len(prefix), prefix),
        )
        return [_upload(row) for row in rows]

    def put_part(self, upload_id: str, part: Part) -> list[str] | None:
        """Save a part (replacing one of that number): the replaced part's blob; None when the upload
        is gone (aborted or completed meanwhile), and nothing written."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                return None
            old = db.execute(
                "SELECT blob FROM parts WHERE upload_id = ? AND number = ?", (upload_id, part.number)
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    upload_id,
                    part.number,
                    part.size,
                    part.etag,
                    part.modified,
                    part.blob,
                    json.dumps(part.checksum) if part.checksum else None,
                ),
            )
        return [old[0]] if old else []

    def parts(self, upload_id: str) -> list[Part]:
        rows = self._rows(
            "SELECT number, size, etag, modified, blob, checksum FROM parts WHERE upload_id = ? "
            "ORDER BY number",
            (upload_id,),
        )
        return [_part(row) for row in rows]

    def complete_upload(self, upload_id: str, item: StoredObject) -> list[str] | None:
        """Turn an upload into its object: the blobs no longer referenced (replaced object, unused
        parts); None when the upload is gone, and nothing written."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                return None
            used = set(item.blobs)
            unused = [
                row[0]
                for row in db.execute("SELECT blob FROM parts WHERE upload_id = ?", (upload_id,))
                if row[0] not in used
            ]
            self._drop_upload(db, upload_id)
            return unused + self._put(db, item)

    def abort_upload(self, upload_id: str) -> list[str] | None:
        """The aborted upload's blobs; None when there was no such upload."""
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                return None
            blobs = [row[0] for row in db.execute("SELECT blob FROM parts WHERE upload_id = ?", (upload_id,))]
            self._drop_upload(db, upload_id)
        return blobs

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                table: int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("buckets", "objects", "uploads")
            }

    def all_blobs(self) -> set[str]:
        """Every blob a record refers to (to sweep files a crash left unreferenced)."""
        with self._lock:
            found = {row[0] for row in self._db.execute("SELECT blob FROM parts")}
            for (segments,) in self._db.execute("SELECT segments FROM objects"):
                found.update(_blobs(segments))
        return found

    @staticmethod
    def _drop_upload(db: sqlite3.Connection, upload_id: str) -> None:
        db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))

    @staticmethod
    def _put(db: sqlite3.Connection, item: StoredObject) -> list[str]:
        old = db.execute(
            "SELECT segments FROM objects WHERE account = ? AND bucket = ? AND key = ?",
            (item.account, item.bucket, item.key),
        ).fetchone()
        db.execute(
            f"INSERT OR REPLACE INTO objects ({_OBJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.account,
                item.bucket,
                item.key,
                item.size,
                item.etag,
                item.modified,
                json.dumps([[s.blob, s.size] for s in item.segments]),
                json.dumps(item.attributes),
                json.dumps(item.metadata),
                json.dumps(item.checksum) if item.checksum else None,
                item.parts_count,
            ),
        )
        kept = set(item.blobs)
        return [blob for blob in _blobs(old[0]) if blob not in kept] if old else []


def _blobs(segments: str) -> list[str]:
    return [str(blob) for blob, _ in json.loads(segments)]


def _bucket(row: tuple[Any, ...]) -> Bucket:
    account, name, region, created, tags, block = row
    return Bucket(
        account,
        name,
        region,
        created,
        [(str(k), str(v)) for k, v in json.loads(tags)] if tags else None,
        json.loads(block) if block else None,
    )


def _object(row: tuple[Any, ...]) -> StoredObject:
    account, bucket, key, size, etag, modified, segments, attributes, metadata, checksum, parts = row
    return StoredObject(
        account,
        bucket,
        key,
        size,
        etag,
        modified,
        tuple(Segment(str(blob), int(length)) for blob, length in json.loads(segments)),
        json.loads(attributes),
        json.loads(metadata),
        tuple(json.loads(checksum)) if checksum else None,
        parts,
    )


def _upload(row: tuple[Any, ...]) -> Upload:
    upload_id, account, bucket, key, initiated, attributes, metadata, algorithm = row
    return Upload(
        upload_id, account, bucket, key, initiated, json.loads(attributes), json.loads(metadata), algorithm
    )


def _part(row: tuple[Any, ...]) -> Part:
    number, size, etag, modified, blob, checksum = row
    return Part(number, size, etag, modified, blob, tuple(json.loads(checksum)) if checksum else None)
