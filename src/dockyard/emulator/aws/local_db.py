"""A small SQLite database for the services beside SageMaker (ECR repositories, issued credentials).

Each service keeps its own file under the state directory and creates its tables if missing. One
connection is shared by the request threads behind a lock; WAL keeps readers off the writer's back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError


class LocalDatabase:
    def __init__(self, path: Path, schema: Iterable[str]) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            for statement in schema:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            raise DockyardError(f"cannot open the emulator database {path}: {exc}") from exc
        self._lock = threading.Lock()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; the number of rows it changed."""
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()
