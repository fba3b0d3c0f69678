"""The control plane's state in SQLite: the only module with SQL.

One table per resource kind, keyed by (account, region, name); each row holds the record as JSON (the
domain dataclasses round-trip through pydantic), beside the columns lookups need. SageMaker's names are
case-insensitive (the ARN lower-cases them; "MyModel" and "mymodel" are the same model), so rows are
keyed by the lower-cased name while records keep the case they were created with. Tags live in their own
table keyed by ARN. The database runs in WAL mode so that readers never wait on the writer; one
connection is shared by every thread behind a lock (each call is one short transaction).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import TypeAdapter

from dockyard.emulator.errors import ServiceUnavailable
from dockyard.emulator.sagemaker.domain import (
    Endpoint,
    EndpointConfig,
    Model,
    ModelPackage,
    ModelPackageGroup,
    TransformJob,
)

SCHEMA_VERSION = 2

TABLES: dict[type[Any], str] = {
    Model: "models",
    EndpointConfig: "endpoint_configs",
    Endpoint: "endpoints",
    ModelPackageGroup: "model_package_groups",
    ModelPackage: "model_packages",
    TransformJob: "transform_jobs",
}

_RESOURCE_TABLE = """
CREATE TABLE {table} (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
)
"""
_FIRST_TABLES = ("models", "endpoint_configs", "endpoints", "model_package_groups", "model_packages")
# Migrations: the statements that take a database from version N-1 to N (index N-1).
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        *(_RESOURCE_TABLE.format(table=table) for table in _FIRST_TABLES),
        *(f"CREATE INDEX {table}_arn ON {table} (arn)" for table in _FIRST_TABLES),
        """
        CREATE TABLE tags (
            arn TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (arn, key)
        )
        """,
    ),
    (
        _RESOURCE_TABLE.format(table="transform_jobs"),
        "CREATE INDEX transform_jobs_arn ON transform_jobs (arn)",
    ),
)


class Record(Protocol):
    @property
    def account(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arn(self) -> str: ...


R = TypeVar("R", bound=Record)


class StoreError(Exception):
    """The state directory's database cannot be opened, or this version cannot use it."""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # one call, one short transaction
        # Held by callers around a read-check-write of several calls (a request's, a fleet report's).
        self.changing = threading.RLock()
        self._adapters: dict[type[Any], TypeAdapter[Any]] = {kind: TypeAdapter(kind) for kind in TABLES}
        # Records are frozen and every write goes through this object, so reads by name can be served
        # from memory: InvokeEndpoint looks its endpoint up on every request.
        self._cache: dict[tuple[type[Any], str, str, str], Any] = {}
        # isolation_level=None: no implicit transactions; each write below opens its own.
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:  # sqlite's own message does not say which file
            raise StoreError(f"cannot open the emulator's database {path}: {exc}") from None
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migrate(self) -> None:
        with self._lock:
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer dockyard (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}); upgrade dockyard or use another --state-dir"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _MIGRATIONS[target - 1]:
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {target}")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")

    # ---- resources ---------------------------------------------------------------------------

    def get(self, kind: type[R], account: str, region: str, name: str) -> R | None:
        key = (kind, account, region, name.lower())
        with self._lock:
            if key in self._cache:
                cached: R | None = self._cache[key]
                return cached
            row = self._db.execute(
                f"SELECT body FROM {TABLES[kind]} WHERE account = ? AND region = ? AND name = ?",
                key[1:],
            ).fetchone()
            found = None if row is None else self._load(kind, row[0])
            self._cache[key] = found
        return found

    def by_arn(self, kind: type[R], arn: str) -> R | None:
        with self._lock:
            row = self._db.execute(f"SELECT body FROM {TABLES[kind]} WHERE arn = ?", (arn,)).fetchone()
        return None if row is None else self._load(kind, row[0])

    def all(self, kind: type[R], account: str, region: str) -> list[R]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT body FROM {TABLES[kind]} WHERE account = ? AND region = ?", (account, region)
            ).fetchall()
        return [self._load(kind, row[0]) for row in rows]

    def everywhere(self, kind: type[R]) -> list[R]:
        """Every record of ``kind`` in every account and region (for resuming at start)."""
        with self._lock:
            rows = self._db.execute(f"SELECT body FROM {TABLES[kind]}").fetchall()
        return [self._load(kind, row[0]) for row in rows]

    def insert(self, record: Record) -> bool:
        """Save a new record; False (and nothing written) when one of that name exists already."""
        try:
            self._write(record, "INSERT")
        except sqlite3.IntegrityError:
            return False
        return True

    def put(self, record: Record) -> None:
        """Save a record, replacing the one of that name."""
        self._write(record, "INSERT OR REPLACE")

    def delete(self, kind: type[Any], account: str, region: str, name: str) -> None:
        """Remove a record and its tags."""
        with self._writing():
            self._cache.pop((kind, account, region, name.lower()), None)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    f"DELETE FROM {TABLES[kind]} WHERE account = ? AND region = ? AND name = ? RETURNING arn",
                    (account, region, name.lower()),
                ).fetchone()
                if row is not None:
                    self._db.execute("DELETE FROM tags WHERE arn = ?", (row[0],))
            except BaseException:
                self._rollback()
                raise
            self._db.execute("COMMIT")

    def exists(self, arn: str) -> bool:
        """Whether any resource has this ARN (tags may only be put on resources that exist)."""
        with self._lock:
            return any(
                self._db.execute(f"SELECT 1 FROM {table} WHERE arn = ?", (arn,)).fetchone() is not None
                for table in TABLES.values()
            )

    def _rollback(self) -> None:
        # SQLite may have rolled back by itself already (a full disk ends the transaction).
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The lock, for a write; a full disk becomes an error that says where space is missing."""
        with self._lock:
            try:
                yield
            except sqlite3.OperationalError as exc:
                if "full" not in str(exc):
                    raise
                raise ServiceUnavailable(
                    f"The emulator's state directory {self.path.parent} is full ({exc}): nothing was "
                    "changed. Free space there and retry."
                ) from None

    def _write(self, record: Record, verb: str) -> None:
        kind = type(record)
        body = self._adapters[kind].dump_json(record).decode()
        with self._writing():
            self._cache.pop((kind, record.account, record.region, record.name.lower()), None)
            self._db.execute(
                f"{verb} INTO {TABLES[kind]} (account, region, name, arn, body) VALUES (?, ?, ?, ?, ?)",
                (record.account, record.region, record.name.lower(), record.arn, body),
            )

    def _load(self, kind: type[R], body: str) -> R:
        loaded: R = self._adapters[kind].validate_json(body)
        return loaded

    # ---- tags --------------------------------------------------------------------------------

    def tags(self, arn: str) -> list[tuple[str, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM tags WHERE arn = ? ORDER BY position", (arn,)
            ).fetchall()
        return [(str(key), str(value)) for key, value in rows]

    def add_tags(self, arn: str, tags: list[tuple[str, str]]) -> None:
        """Add tags, replacing the value of a key the resource has already (it keeps its place)."""
        with self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (position,) = self._db.execute(
                    "SELECT COALESCE(MAX(position), 0) FROM tags WHERE arn = ?", (arn,)
                ).fetchone()
                for key, value in tags:
                    position += 1
                    self._db.execute(
                        "INSERT INTO tags (arn, key, value, position) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
                        (arn, key, value, position),
                    )
            except BaseException:
                self._rollback()
                raise
            self._db.execute("COMMIT")

    def delete_tags(self, arn: str, keys: list[str]) -> None:
        with self._writing():
            self._db.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, key) for key in keys])
