"""Errors the inference server answers with.

Every error is a class that carries its HTTP status and wire name; the app turns any of them into
``{"error": <code>, "message": <message>}`` with that status. This module never imports the web
framework, and the emulator's errors live elsewhere.
"""

from __future__ import annotations

from typing import ClassVar


class ServingError(Exception):
    """Base of every error the server reports to a client."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "InternalFailure"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServingError):
    """The body could not be decoded as its Content-Type says."""

    status = 400
    code = "BadRequest"


class NotFound(ServingError):
    status = 404
    code = "NotFound"


class MethodNotAllowed(ServingError):
    status = 405
    code = "MethodNotAllowed"


class NotAcceptable(ServingError):
    """No media type the handler can produce satisfies the Accept header."""

    status = 406
    code = "NotAcceptable"


class RequestTimeout(ServingError):
    """The request body stopped arriving; the connection is closed after the answer."""

    status = 408
    code = "RequestTimeout"


class PayloadTooLarge(ServingError):
    status = 413
    code = "PayloadTooLarge"


class UnsupportedMediaType(ServingError):
    """The Content-Type has no decoder."""

    status = 415
    code = "UnsupportedMediaType"


class ModelNotReady(ServingError):
    """The model is not loaded (yet) in this worker."""

    status = 503
    code = "ModelNotReady"


class ModelTimeout(ServingError):
    """The handler did not finish within the configured timeout."""

    status = 504
    code = "ModelTimeout"


class HandlerError(ServingError):
    """A handler was found but is unusable (missing functions, wrong signature, bad combination)."""

    status = 500
    code = "HandlerError"


class ModelLoadError(Exception):
    """The model (or the handler) could not be loaded; raised at start-up, never sent to a client."""
