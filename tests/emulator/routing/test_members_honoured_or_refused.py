"""Nothing accepted and silently ignored: for ECR, CloudWatch Logs, STS and IAM, every member of every
implemented operation's input shape (walked from botocore's model) is either honoured or refused with an
error naming it, and every other operation of the model is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.containers.engine import connect
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.context import Caller
from dockyard.emulator.ecr.engine_images import EngineImages
from dockyard.emulator.ecr.provider import EcrProvider
from dockyard.emulator.errors import ServiceError
from dockyard.emulator.iam.provider import IamProvider
from dockyard.emulator.logs.provider import LogsProvider
from dockyard.emulator.sts.provider import StsProvider
from tests.emulator.aws.examples import example

CTX = Caller("123456789012", "us-east-1", "req")
PROVIDERS: dict[str, Any] = {"ecr": EcrProvider, "logs": LogsProvider, "sts": StsProvider, "iam": IamProvider}
CASES = [(service, operation) for service, kind in PROVIDERS.items() for operation in kind.HONOURED]


def _provider(service: str, tmp_path: Path) -> Any:
    if service == "ecr":
        return EcrProvider(tmp_path, EngineImages(connect))  # refusals come before any engine call
    if service in ("logs", "sts"):
        return PROVIDERS[service](tmp_path)
    return IamProvider()


def _given(value: Any) -> Any:
    return True if value is False else value


@pytest.mark.parametrize(("service", "operation"), CASES)
def test_every_member_is_honoured_or_refused(service: str, operation: str, tmp_path: Path) -> None:
    shape = service_model(service).operation_model(operation).input_shape
    members = dict(shape.members) if shape is not None else {}
    honoured = PROVIDERS[service].HONOURED[operation]
    assert set(honoured) <= set(members), f"{operation} honours members its model lacks"
    provider = _provider(service, tmp_path)
    for name, member in members.items():
        if name in honoured:
            continue
        with pytest.raises(ServiceError) as caught:
            provider.handle(CTX, operation, {name: _given(example(member))})
        assert caught.value.message == (
            f"The local target (dockyard emulator) does not support {name} in {operation} yet."
        )


@pytest.mark.parametrize("service", PROVIDERS)
def test_every_other_operation_is_refused_by_name(service: str, tmp_path: Path) -> None:
    provider = _provider(service, tmp_path)
    for operation in service_model(service).operation_names:
        if operation in PROVIDERS[service].HONOURED:
            continue
        with pytest.raises(ServiceError) as caught:
            provider.handle(CTX, operation, {})
        assert f"The operation {operation} of " in caught.value.message
        assert "is not supported by the local target (dockyard emulator)" in caught.value.message
