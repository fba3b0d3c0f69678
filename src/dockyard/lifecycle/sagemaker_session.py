"""``dockyard.sagemaker_session()``: the SageMaker Python SDK's ``Session`` with every client on the
local emulator.

``AWS_ENDPOINT_URL`` alone sends the SDK's SageMaker, runtime and S3 clients to the emulator, but the SDK
builds its STS client with an explicit regional endpoint (``https://sts.<region>.amazonaws.com``), which
overrides the variable: ``Session().account_id()``, ``default_bucket()`` and ``get_execution_role()``
would reach AWS. The session made here hands the SDK a boto3 session whose clients all go to the
emulator, whatever endpoint the SDK asks for; nothing else in the SDK changes.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from dockyard.lifecycle.target import TargetOptions


class EmulatorBotoSession(boto3.session.Session):
    """A boto3 session whose every client (and resource) talks to ``endpoint_url``."""

    def __init__(self, endpoint_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint_url = endpoint_url

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        # endpoint_url is boto3's sixth positional argument; the SDK passes it by name.
        positional = list(args)
        if len(positional) >= 5:
            positional[4] = self.endpoint_url
        else:
            kwargs["endpoint_url"] = self.endpoint_url
        return super().client(service_name, *positional, **kwargs)  # type: ignore[call-overload]


def sagemaker_session(
    emulator_url: str | None = None, *, region: str | None = None, **session_options: Any
) -> Any:
    """A ``sagemaker.Session`` on the emulator at ``emulator_url`` (default: $AWS_ENDPOINT_URL, else
    the running one, started when none runs); ``session_options`` go to ``sagemaker.Session``
    (e.g. ``default_bucket``). Typed Any: the SDK ships no type information."""
    from sagemaker.session import Session  # the SDK is the caller's dependency, not dockyard's

    target = TargetOptions(
        "local",
        region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        emulator_url=emulator_url or os.environ.get("AWS_ENDPOINT_URL") or None,
    ).resolve()
    assert target.endpoint_url is not None  # a local target always has the emulator's
    credentials = target.session.get_credentials()  # the emulator's own (its state directory's secret)
    assert credentials is not None  # a local target's session is made with them
    boto_session = EmulatorBotoSession(
        target.endpoint_url,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        region_name=target.region,
    )
    return Session(boto_session=boto_session, **session_options)
