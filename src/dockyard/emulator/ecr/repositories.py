"""The local ECR's repositories, in SQLite under the state directory (they survive restarts).

Keyed by (account, region, name) as ECR keys them; the images are not here but in the Docker engine,
tagged with the repository's URI (:mod:`dockyard.emulator.ecr.engine_images`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.emulator.aws.local_db import LocalDatabase
from dockyard.emulator.ecr.uris import repository_arn, repository_uri

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS repositories (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at REAL NOT NULL,
        tags TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    )
    """,
)


@dataclass(frozen=True)
class Repository:
    account: str
    region: str
    name: str
    created_at: dt.datetime
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return repository_uri(self.account, self.region, self.name)

    @property
    def arn(self) -> str:
        return repository_arn(self.account, self.region, self.name)

    def as_shape(self) -> dict[str, object]:
        """ECR's ``Repository`` structure (the local target keeps the defaults it does not act on)."""
        return {
            "repositoryArn": self.arn,
            "registryId": self.account,
            "repositoryName": self.name,
            "repositoryUri": self.uri,
            "createdAt": self.created_at,
            "imageTagMutability": "MUTABLE",
            "imageScanningConfiguration": {"scanOnPush": False},
            "encryptionConfiguration": {"encryptionType": "AES256"},
        }


class Repositories:
    def __init__(self, path: Path) -> None:
        self._db = LocalDatabase(path, _SCHEMA)

    def create(self, repository: Repository) -> bool:
        """Store a new repository; False when one of that name exists already."""
        changed = self._db.execute(
            "INSERT OR IGNORE INTO repositories VALUES (?, ?, ?, ?, ?)",
            (
                repository.account,
                repository.region,
                repository.name,
                repository.created_at.timestamp(),
                json.dumps(repository.tags),
            ),
        )
        return changed == 1

    def get(self, account: str, region: str, name: str) -> Repository | None:
        rows = self._db.query(
            "SELECT * FROM repositories WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )
        return _row(rows[0]) if rows else None

    def list(self, account: str, region: str) -> list[Repository]:
        rows = self._db.query(
            "SELECT * FROM repositories WHERE account = ? AND region = ? ORDER BY name", (account, region)
        )
        return [_row(row) for row in rows]

    def count(self) -> int:
        return int(self._db.query("SELECT COUNT(*) FROM repositories")[0][0])

    def delete(self, account: str, region: str, name: str) -> None:
        self._db.execute(
            "DELETE FROM repositories WHERE account = ? AND region = ? AND name = ?", (account, region, name)
        )

    def set_tags(self, repository: Repository, tags: dict[str, str]) -> None:
        self._db.execute(
            "UPDATE repositories SET tags = ? WHERE account = ? AND region = ? AND name = ?",
            (json.dumps(tags), repository.account, repository.region, repository.name),
        )

    def close(self) -> None:
        self._db.close()


def _row(row: tuple[object, ...]) -> Repository:
    account, region, name, created_at, tags = row
    return Repository(
        str(account),
        str(region),
        str(name),
        dt.datetime.fromtimestamp(float(str(created_at)), dt.UTC),
        json.loads(str(tags)),
    )
