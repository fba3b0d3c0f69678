"""``dockyard invoke``: InvokeEndpoint, the prediction's bytes as the container answered them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.errors import UsageError
from dockyard.lifecycle.calls import Aws
from dockyard.lifecycle.target import TargetLike, resolve_target

MAX_BODY = 6_291_456  # InvokeEndpoint's payload limit


@dataclass(frozen=True)
class Invocation:
    endpoint_name: str
    body: bytes
    content_type: str | None
    invoked_variant: str | None
    custom_attributes: str | None

    def as_dict(self) -> dict[str, Any]:
        text = self.body.decode("utf-8", "replace")
        return {
            "endpoint_name": self.endpoint_name,
            "body": text,
            "content_type": self.content_type,
            "invoked_variant": self.invoked_variant,
            "custom_attributes": self.custom_attributes,
        }


def invoke(
    endpoint_name: str,
    data: bytes,
    *,
    content_type: str = "application/json",
    accept: str | None = None,
    variant: str | None = None,
    custom_attributes: str | None = None,
    inference_id: str | None = None,
    target: TargetLike = None,
) -> Invocation:
    """Send ``data`` to the endpoint and return what the model answered."""
    aws = Aws(resolve_target(target))
    return invoke_endpoint(
        aws,
        endpoint_name,
        data,
        content_type=content_type,
        accept=accept,
        variant=variant,
        custom_attributes=custom_attributes,
        inference_id=inference_id,
    )


def invoke_endpoint(
    aws: Aws,
    endpoint_name: str,
    data: bytes,
    *,
    content_type: str,
    accept: str | None = None,
    variant: str | None = None,
    custom_attributes: str | None = None,
    inference_id: str | None = None,
) -> Invocation:
    if len(data) > MAX_BODY:
        raise UsageError(
            f"the request body is {len(data)} bytes; InvokeEndpoint takes at most {MAX_BODY} (6 MiB)"
        )
    optional = {
        "Accept": accept,
        "TargetVariant": variant,
        "CustomAttributes": custom_attributes,
        "InferenceId": inference_id,
    }
    params = {key: value for key, value in optional.items() if value is not None}
    record = {"EndpointName": endpoint_name, "Body": f"<{len(data)} bytes>", "ContentType": content_type}
    answer = aws.call_recorded(
        "sagemaker-runtime",
        "invoke_endpoint",
        {**record, **params},
        EndpointName=endpoint_name,
        Body=data,
        ContentType=content_type,
        **params,
    )
    body = answer["Body"].read()
    return Invocation(
        endpoint_name,
        body,
        answer.get("ContentType"),
        answer.get("InvokedProductionVariant"),
        answer.get("CustomAttributes"),
    )
