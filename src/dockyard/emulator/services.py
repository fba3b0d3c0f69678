"""The AWS services the emulator serves beside SageMaker, built and closed together.

JSON 1.1 services are found by their ``X-Amz-Target`` prefix, query services by the SigV4 scope's
service (see :mod:`dockyard.emulator.routing`). Each has its botocore model's protocol (parsing,
validation, serialization) and a provider holding its rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.containers.engine import connect
from dockyard.emulator.aws.json_protocol import JsonProtocol
from dockyard.emulator.aws.query_protocol import QueryProtocol
from dockyard.emulator.context import Caller
from dockyard.emulator.ecr.engine_images import EngineImages
from dockyard.emulator.ecr.errors import InvalidParameterException
from dockyard.emulator.ecr.provider import EcrProvider
from dockyard.emulator.iam.provider import IamProvider
from dockyard.emulator.logs.provider import InvalidParameterException as LogsInvalidParameter
from dockyard.emulator.logs.provider import LogsProvider
from dockyard.emulator.routing import ECR_TARGET, LOGS_TARGET
from dockyard.emulator.security.credentials import local_credentials
from dockyard.emulator.settings import EmulatorSettings
from dockyard.emulator.sts.provider import StsProvider

# An operation of a JSON or query service: (who, operation, params) -> result keyed as the output shape.
Handler = Callable[[Caller, str, dict[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class JsonService:
    protocol: JsonProtocol
    handle: Handler


@dataclass(frozen=True)
class QueryService:
    protocol: QueryProtocol
    handle: Handler


@dataclass
class AwsServices:
    ecr: EcrProvider
    logs: LogsProvider
    sts: StsProvider
    iam: IamProvider
    json: dict[str, JsonService] = field(default_factory=dict)
    query: dict[str, QueryService] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: EmulatorSettings) -> AwsServices:
        ecr = EcrProvider(settings.state_dir, EngineImages(connect))
        logs = LogsProvider(settings.state_dir)
        # Signatures are checked against the emulator's one secret, so the credentials STS issues carry it.
        secret = local_credentials(settings.state_dir, create=True).secret_access_key
        sts = StsProvider(settings.state_dir, secret=lambda: secret)
        iam = IamProvider()
        return cls(
            ecr,
            logs,
            sts,
            iam,
            json={
                ECR_TARGET: JsonService(JsonProtocol("ecr", InvalidParameterException), ecr.handle),
                LOGS_TARGET: JsonService(JsonProtocol("logs", LogsInvalidParameter), logs.handle),
            },
            query={
                "sts": QueryService(QueryProtocol("sts"), sts.handle),
                "iam": QueryService(QueryProtocol("iam"), iam.handle),
            },
        )

    def status(self) -> dict[str, Any]:
        """What each service holds, for ``dockyard emulator status``."""
        return {
            "ecr": {"repositories": self.ecr.count()},
            "sts": {"issued_credentials": self.sts.credentials.count()},
        }

    def close(self) -> None:
        self.ecr.close()
        self.sts.close()
