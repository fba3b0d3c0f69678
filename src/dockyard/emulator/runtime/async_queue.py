"""The asynchronous-inference queue: every accepted InvokeEndpointAsync request, durable in SQLite.

``<state>/async-inference.db``. A request is written (and committed) before InvokeEndpointAsync answers
202, and deleted only once its result or failure is in S3: an emulator stopped or killed at any moment
loses nothing it accepted. A request that was being processed when the emulator stopped is processed
again when it starts (at least once, as SageMaker's own queue delivers). One connection behind a lock,
WAL mode; callers keep these short calls off the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from dockyard.emulator.context import ResourceKey

_SCHEMA = """CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, endpoint TEXT NOT NULL,
    inference_id TEXT NOT NULL, input_location TEXT NOT NULL,
    output_location TEXT NOT NULL, failure_location TEXT NOT NULL,
    content_type TEXT, accept TEXT, custom_attributes TEXT,
    timeout REAL NOT NULL, expires REAL NOT NULL, per_instance INTEGER NOT NULL, accepted REAL NOT NULL)"""


@dataclass(frozen=True)
class QueuedRequest:
    seq: int
    endpoint: ResourceKey
    inference_id: str
    input_location: str
    output_location: str
    failure_location: str
    content_type: str | None
    accept: str | None
    custom_attributes: str | None
    timeout: float  # InvocationTimeoutSeconds
    expires: float  # epoch seconds: accepted + RequestTTLSeconds
    per_instance: int  # MaxConcurrentInvocationsPerInstance of the endpoint's config
    accepted: float


_COLUMNS = (
    "seq, account, region, endpoint, inference_id, input_location, output_location, failure_location, "
    "content_type, accept, custom_attributes, timeout, expires, per_instance, accepted"
)


class AsyncQueue:
    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, request: QueuedRequest) -> int:
        """Store ``request`` (its ``seq`` is ignored); the sequence number it was given."""
        e = request.endpoint
        with self._lock:
            cursor = self._db.execute(
                f"INSERT INTO requests ({_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    e.account,
                    e.region,
                    e.name,
                    request.inference_id,
                    request.input_location,
                    request.output_location,
                    request.failure_location,
                    request.content_type,
                    request.accept,
                    request.custom_attributes,
                    request.timeout,
                    request.expires,
                    request.per_instance,
                    request.accepted,
                ),
            )
            return int(cursor.lastrowid or 0)

    def pending(self, limit: int = 1000) -> list[QueuedRequest]:
        """The oldest ``limit`` requests not yet finished, in the order they were accepted."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM requests ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [QueuedRequest(row[0], ResourceKey(row[1], row[2], row[3]), *row[4:]) for row in rows]

    def finish(self, seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM requests WHERE seq = ?", (seq,))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM requests").fetchone()[0])
