"""What a handler learns about the request it is serving, and what it may send back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
INFERENCE_ID = "x-amzn-sagemaker-inference-id"
TARGET_MODEL = "x-amzn-sagemaker-target-model"
SESSION_ID = "x-amzn-sagemaker-session-id"


@dataclass(slots=True)
class RequestContext:
    """Per-request context passed to handlers that ask for it (an optional ``context`` argument).

    ``headers`` holds every request header, lower-cased. A handler sets ``response_custom_attributes``
    to return ``X-Amzn-SageMaker-Custom-Attributes`` to the caller; ``response_headers`` may carry
    other ``X-Amzn-SageMaker-*`` headers (e.g. session ids).
    """

    request_id: str
    content_type: str
    accept: str
    headers: Mapping[str, str]
    custom_attributes: str | None = None
    inference_id: str | None = None
    target_model: str | None = None
    session_id: str | None = None
    envelope: bool = False  # the body used {"instances": ...} / {"inputs": ...}: answer {"predictions": ...}
    response_custom_attributes: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_headers(
        cls, request_id: str, headers: Mapping[str, str], content_type: str, accept: str
    ) -> RequestContext:
        return cls(
            request_id=request_id,
            content_type=content_type,
            accept=accept,
            headers=headers,
            custom_attributes=headers.get(CUSTOM_ATTRIBUTES),
            inference_id=headers.get(INFERENCE_ID),
            target_model=headers.get(TARGET_MODEL),
            session_id=headers.get(SESSION_ID),
        )
