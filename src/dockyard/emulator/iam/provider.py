"""The local IAM: GetRole answers for any role name in the emulator's account.

The local target does not enforce IAM, so every role exists: GetRole synthesizes it (a stable id, and a
trust policy letting SageMaker assume it). That is what the SageMaker SDK and tools that check a role
exists before using it need.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, ClassVar
from urllib.parse import quote

from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ValidationError

# A fixed creation date: the role is the same role on every call and across restarts.
_CREATED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def role_id(account: str, role_name: str) -> str:
    """A stable id shaped like IAM's role ids (``AROA`` and 17 characters) for a role of an account."""
    return "AROA" + hashlib.sha256(f"{account}/{role_name}".encode()).hexdigest().upper()[:17]


class IamProvider:
    HONOURED: ClassVar[dict[str, tuple[str, ...]]] = {"GetRole": ("RoleName",)}
    OPERATIONS: ClassVar[tuple[str, ...]] = tuple(HONOURED)

    def handle(self, ctx: Caller, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation != "GetRole":
            raise ValidationError(
                f"The operation {operation} of AWS Identity and Access Management is not supported by the "
                "local target (dockyard emulator); supported: GetRole."
            )
        return self.get_role(ctx, params)

    def get_role(self, ctx: Caller, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["RoleName"]
        return {
            "Role": {
                "Path": "/",
                "RoleName": name,
                "RoleId": role_id(ctx.account, name),
                "Arn": f"arn:aws:iam::{ctx.account}:role/{name}",
                "CreateDate": _CREATED,
                # IAM returns the policy document URL-encoded.
                "AssumeRolePolicyDocument": quote(json.dumps(_TRUST_POLICY, separators=(",", ":"))),
                "MaxSessionDuration": 3600,
            }
        }
