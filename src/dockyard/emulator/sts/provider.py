"""The local STS: who the caller is, and temporary credentials for a role or a session.

Every caller is in the emulator's one account. Keys the emulator issued stand for the role session they
were issued for; any other key stands for the account's root user, as long-term root keys do on AWS.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from dockyard.emulator.aws.unsupported import refuse_unsupported
from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ServiceError, ValidationError
from dockyard.emulator.iam.provider import role_id
from dockyard.emulator.sts.credentials import IssuedCredentials

DEFAULT_DURATION = 3600
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})")


class AccessDenied(ServiceError):
    code = "AccessDenied"
    status = 403


class StsProvider:
    # Each implemented operation and the input members it honours; any other member is refused, and every
    # other operation of the model too (a test walks botocore's model against this).
    HONOURED: ClassVar[dict[str, tuple[str, ...]]] = {
        "GetCallerIdentity": (),
        # ExternalId is checked by a role's trust policy; local roles trust every caller.
        "AssumeRole": ("RoleArn", "RoleSessionName", "DurationSeconds", "ExternalId"),
        "GetSessionToken": ("DurationSeconds",),
    }
    OPERATIONS: ClassVar[tuple[str, ...]] = tuple(HONOURED)

    def __init__(
        self,
        state_dir: Path,
        clock: Callable[[], float] = time.time,
        secret: Callable[[], str] | None = None,
    ) -> None:
        # ``secret``: the one secret signatures are checked against, if the emulator has one.
        self.credentials = IssuedCredentials(state_dir / "sts.db", secret)
        self._clock = clock
        self.operations = {
            "GetCallerIdentity": self.get_caller_identity,
            "AssumeRole": self.assume_role,
            "GetSessionToken": self.get_session_token,
        }

    def handle(self, ctx: Caller, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.operations.get(operation)
        if handler is None:
            raise ValidationError(
                f"The operation {operation} of AWS Security Token Service is not supported by the local "
                f"target (dockyard emulator); supported: {', '.join(self.operations)}."
            )
        refuse_unsupported(operation, params, self.HONOURED[operation], ValidationError)
        return handler(ctx, params)

    def get_caller_identity(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        issued = self.credentials.find(ctx.access_key) if ctx.access_key else None
        if issued is not None:
            role_name, _, session = issued.arn.rpartition(":assumed-role/")[2].partition("/")
            if session:
                return {
                    "UserId": f"{role_id(issued.account, role_name)}:{session}",
                    "Account": issued.account,
                    "Arn": issued.arn,
                }
            return {"UserId": issued.account, "Account": issued.account, "Arn": issued.arn}
        return {"UserId": ctx.account, "Account": ctx.account, "Arn": f"arn:aws:iam::{ctx.account}:root"}

    def assume_role(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        found = _ROLE_ARN.fullmatch(params["RoleArn"])
        if found is None:
            raise ValidationError(f"{params['RoleArn']} is invalid")
        account, role_name = found.groups()
        if account != ctx.account:
            raise AccessDenied(
                f"User: arn:aws:iam::{ctx.account}:root is not authorized to perform: sts:AssumeRole on "
                f"resource: {params['RoleArn']} (the local target serves account {ctx.account} only)"
            )
        session = params["RoleSessionName"]
        arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"
        issued = self.credentials.issue(account, arn, self._duration(params), self._now())
        return {
            "Credentials": issued.as_shape(),
            "AssumedRoleUser": {"AssumedRoleId": f"{role_id(account, role_name)}:{session}", "Arn": arn},
            "PackedPolicySize": 0,
        }

    def get_session_token(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        arn = f"arn:aws:iam::{ctx.account}:root"
        issued = self.credentials.issue(ctx.account, arn, self._duration(params), self._now())
        return {"Credentials": issued.as_shape()}

    def close(self) -> None:
        self.credentials.close()

    def _duration(self, params: dict[str, Any]) -> int:
        return int(params.get("DurationSeconds") or DEFAULT_DURATION)

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(int(self._clock()), dt.UTC)
