"""AWS JSON 1.1 (SageMaker's control plane, ECR, CloudWatch Logs): ``POST /``, ``X-Amz-Target: P.<Op>``.

Parsing yields an operation name and its parameters exactly as botocore's *input* shapes name them;
serializing takes a result keyed by the *output* shape's member names. No business logic lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from dockyard.emulator.aws import json_values
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.aws.validate import validate
from dockyard.emulator.errors import (
    SerializationException,
    ServiceError,
    UnknownOperation,
    ValidationException,
)

CONTENT_TYPE = b"application/x-amz-json-1.1"


class JsonProtocol:
    def __init__(
        self, service: str = "sagemaker", validation_error: type[ServiceError] = ValidationException
    ) -> None:
        self.model = service_model(service)
        # The code a service answers constraint violations with (ECR: InvalidParameterException).
        self.validation_error = validation_error
        self.target_prefix: str = self.model.metadata["targetPrefix"]
        self._operations = frozenset(self.model.operation_names)

    def parse(self, target: str | None, body: bytes) -> tuple[str, dict[str, Any]]:
        """(operation, params) of a request; params decoded and validated against the input shape."""
        operation = self._operation(target)
        op_model = self.model.operation_model(operation)
        try:
            document = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise SerializationException(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise SerializationException("The request body must be a JSON object")
        shape = op_model.input_shape
        if shape is None:
            return operation, {}
        params: dict[str, Any] = json_values.decode(shape, document)
        try:
            validate(shape, params)
        except ValidationException as exc:
            if self.validation_error is ValidationException:
                raise
            raise self.validation_error(exc.message) from None
        return operation, params

    def serialize(self, operation: str, result: Mapping[str, Any]) -> bytes:
        """The response body of ``operation``: the output shape's members of ``result``, None dropped."""
        shape = self.model.operation_model(operation).output_shape
        if shape is None:
            return b"{}"
        return orjson.dumps(json_values.encode(shape, result))

    def error_response(
        self, error: ServiceError, request_id: str = ""
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers, body) of an error, read by botocore as ``Error.Code`` / ``Error.Message``."""
        body = {"__type": error.code, "message": error.message, **json_values.fields_json(error.fields)}
        headers = [(b"content-type", CONTENT_TYPE)]
        if request_id:
            headers.append((b"x-amzn-requestid", request_id.encode("ascii")))
        return error.status, headers, orjson.dumps(body)

    def _operation(self, target: str | None) -> str:
        if not target:
            raise UnknownOperation(f"Missing X-Amz-Target header; expected {self.target_prefix}.<Operation>")
        prefix, _, operation = target.partition(".")
        if prefix != self.target_prefix or operation not in self._operations:
            raise UnknownOperation(f"Unknown operation {target}")
        return operation
