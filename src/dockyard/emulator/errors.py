"""Errors the emulator returns to its clients, shaped as SageMaker shapes them.

Each class carries its wire code and HTTP status; the protocol layer (``aws/``) turns any of them into
the response botocore expects, so providers and the runtime only raise. ``fields`` holds extra members
of the error shape (ModelError's OriginalStatusCode, OriginalMessage, LogStreamArn).
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


# ---- control plane (SageMaker, JSON 1.1) ---------------------------------------------------------


class ValidationException(ServiceError):
    """Bad input, and also "not found" for most SageMaker resources (e.g. DescribeEndpoint)."""

    code = "ValidationException"
    status = 400


class ConflictException(ServiceError):
    code = "ConflictException"
    status = 400


class UnknownOperation(ServiceError):
    """An operation of the service model that the local target does not implement."""

    code = "UnknownOperationException"
    status = 400


class SerializationException(ServiceError):
    """The request body is not the JSON the protocol requires."""

    code = "SerializationException"
    status = 400


class InternalFailure(ServiceError):
    code = "InternalFailure"
    status = 500


# ---- runtime (SageMaker runtime, rest-json) -------------------------------------------------------


class ValidationError(ServiceError):
    """The runtime's spelling: unknown endpoint, bad input."""

    code = "ValidationError"
    status = 400


class ModelError(ServiceError):
    """The container answered non-2xx, or did not answer in time (fields: OriginalStatusCode,
    OriginalMessage, LogStreamArn)."""

    code = "ModelError"
    status = 424


class ServiceUnavailable(ServiceError):
    code = "ServiceUnavailable"
    status = 503


class ThrottlingException(ServiceError):
    """A serverless variant already runs MaxConcurrency requests."""

    code = "ThrottlingException"
    status = 400


class ModelStreamError(ServiceError):
    """An error inside a response stream (sent as an event, not as the HTTP status)."""

    code = "ModelStreamError"
    status = 400


class InternalStreamFailure(ServiceError):
    code = "InternalStreamFailure"
    status = 500
