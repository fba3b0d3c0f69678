"""Temporary credentials the local STS issues, kept so that they stay valid across restarts.

They are shaped as AWS shapes them (``ASIA…`` key ids, a secret, a session token) and usable with any
client. Where the emulator checks signatures against one secret of its own, the issued credentials carry
that secret (``secret``; the caller proved it knows it by signing the request for them), so they verify
like any other key id; otherwise the secret is random, and :meth:`IssuedCredentials.secret_for` lets a
signature check find it by key id.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockyard.emulator.aws.local_db import LocalDatabase

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS credentials (
        access_key_id TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        session_token TEXT NOT NULL,
        account TEXT NOT NULL,
        arn TEXT NOT NULL,
        expiration REAL NOT NULL
    )
    """,
)
_KEY_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret: str
    session_token: str
    account: str
    arn: str  # whom they stand for: an assumed-role session or the account's root
    expiration: dt.datetime

    def as_shape(self) -> dict[str, object]:
        """STS's ``Credentials`` structure."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret,
            "SessionToken": self.session_token,
            "Expiration": self.expiration,
        }


class IssuedCredentials:
    def __init__(self, path: Path, secret: Callable[[], str] | None = None) -> None:
        self._db = LocalDatabase(path, _SCHEMA)
        self._secret = secret

    def issue(self, account: str, arn: str, duration_seconds: int, now: dt.datetime) -> Credentials:
        issued = Credentials(
            access_key_id="ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
            secret=self._secret() if self._secret is not None else secrets.token_urlsafe(30)[:40],
            session_token=secrets.token_urlsafe(96),
            account=account,
            arn=arn,
            expiration=now + dt.timedelta(seconds=duration_seconds),
        )
        self._db.execute(
            "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?)",
            (
                issued.access_key_id,
                issued.secret,
                issued.session_token,
                account,
                arn,
                issued.expiration.timestamp(),
            ),
        )
        return issued

    def find(self, access_key_id: str) -> Credentials | None:
        rows = self._db.query("SELECT * FROM credentials WHERE access_key_id = ?", (access_key_id,))
        if not rows:
            return None
        key, secret, token, account, arn, expiration = rows[0]
        return Credentials(key, secret, token, account, arn, dt.datetime.fromtimestamp(expiration, dt.UTC))

    def count(self) -> int:
        return int(self._db.query("SELECT COUNT(*) FROM credentials")[0][0])

    def secret_for(self, access_key_id: str) -> str | None:
        """The secret of a key this STS issued (for a SigV4 check), None for any other key."""
        found = self.find(access_key_id)
        return found.secret if found is not None else None

    def close(self) -> None:
        self._db.close()
