"""The credentials the emulator accepts: any access key id, and the secret it was started with.

The secret is made once per state directory (``<state>/credentials``, mode 0600, in the AWS shared
credentials format with a ``[dockyard]`` profile) unless ``DOCKYARD_EMULATOR_SECRET_ACCESS_KEY`` gives
one. Whoever can read the state directory can use the emulator, as whoever can read Jupyter's runtime
directory can use its token: the same user, not a web page and not another user of the machine. The
access key id is not checked because it names nothing locally; a real key id from the user's own
environment is accepted as long as the secret is the emulator's.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import DockyardError

ACCESS_KEY_ID = "dockyard"
PROFILE = "dockyard"
SECRET_ENV = "DOCKYARD_EMULATOR_SECRET_ACCESS_KEY"
CREDENTIALS_FILE = "credentials"


@dataclass(frozen=True)
class LocalCredentials:
    access_key_id: str
    secret_access_key: str = ""

    def __repr__(self) -> str:  # never print the secret by accident
        return f"LocalCredentials(access_key_id={self.access_key_id!r})"

    @property
    def console_token(self) -> str:
        """The login token of the console's link: derived from the secret, so it changes with it."""
        return hmac.new(
            self.secret_access_key.encode(), b"dockyard-console-login", hashlib.sha256
        ).hexdigest()[:40]

    def export_lines(self, url: str, region: str) -> list[str]:
        """Shell lines that point the AWS CLI and boto3's default chain at the emulator."""
        return [
            f"export AWS_ENDPOINT_URL={url}",
            f"export AWS_ACCESS_KEY_ID={self.access_key_id}",
            f"export AWS_SECRET_ACCESS_KEY={self.secret_access_key}",
            "unset AWS_SESSION_TOKEN AWS_PROFILE",
            f"export AWS_DEFAULT_REGION={region}",
        ]


def credentials_path(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FILE


def local_credentials(state_dir: Path, *, create: bool = False) -> LocalCredentials:
    """The emulator's credentials for ``state_dir``: ``$DOCKYARD_EMULATOR_SECRET_ACCESS_KEY``, else the
    state directory's file, else (``create``) a new random secret written there."""
    configured = os.environ.get(SECRET_ENV)
    if configured:
        return LocalCredentials(ACCESS_KEY_ID, configured)
    path = credentials_path(state_dir)
    found = _read(path)
    if found is not None:
        return found
    if not create:
        raise DockyardError(
            f"cannot read the emulator's credentials from {path}; run the command as the user who "
            f"started the emulator, or set {SECRET_ENV} to the secret it was started with"
        )
    return save_credentials(state_dir, secrets.token_urlsafe(30))


def save_credentials(state_dir: Path, secret: str) -> LocalCredentials:
    """Record ``secret`` as ``state_dir``'s emulator secret (when none is recorded yet; else the recorded
    one wins and is returned): what an emulator made for itself, or what a test starts one with."""
    path = credentials_path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    made = LocalCredentials(ACCESS_KEY_ID, secret)
    text = (
        f"[{PROFILE}]\n"
        f"aws_access_key_id = {made.access_key_id}\n"
        f"aws_secret_access_key = {made.secret_access_key}\n"
    )
    # Written whole under a temporary name, then linked into place: a reader never sees half a file,
    # and of two emulators starting at once the second adopts the first one's secret.
    temporary = state_dir / f".{CREDENTIALS_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    try:
        os.link(temporary, path)
    except FileExistsError:
        found = _read(path)
        if found is None:
            raise DockyardError(f"{path} exists but holds no [{PROFILE}] credentials") from None
        return found
    finally:
        temporary.unlink(missing_ok=True)
    return made


def _read(path: Path) -> LocalCredentials | None:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text())
    except (OSError, configparser.Error):
        return None
    if not parser.has_section(PROFILE):
        return None
    secret = parser.get(PROFILE, "aws_secret_access_key", fallback="")
    if not secret:
        return None
    return LocalCredentials(parser.get(PROFILE, "aws_access_key_id", fallback=ACCESS_KEY_ID), secret)
