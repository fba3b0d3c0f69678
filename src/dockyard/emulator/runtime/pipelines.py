"""Inference pipelines at invocation time: Serial passes each container's response (with its content
type) to the next container, as SageMaker does; Direct sends the request to the container that
``TargetContainerHostname`` names. Each container of the instance is a container of its own, reached on
its own address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dockyard.emulator.errors import ServiceUnavailable, ValidationError
from dockyard.emulator.route_table import EndpointRoute, Instance, VariantRoute
from dockyard.emulator.runtime.relay import Response

Post = Callable[[Instance, dict[str, str], bytes], Awaitable[Response]]


def _instance_of(route: EndpointRoute | None, name: str, hostname: str) -> Instance:
    member = route.member(name) if route is not None else None
    instance = member.pick() if member is not None else None
    if instance is None:
        raise ServiceUnavailable(f"No healthy instance of the pipeline's container {hostname} is available.")
    return instance


async def run_pipeline(
    route: EndpointRoute | None,
    variant: VariantRoute,
    first: Instance,
    headers: dict[str, str],
    body: bytes,
    target_hostname: str | None,
    post: Post,
) -> tuple[str, Response]:
    """The hostname of the container that answered last, and its answer."""
    if variant.direct:
        if not target_hostname:
            raise ValidationError(
                "The endpoint runs an inference pipeline in Direct mode: TargetContainerHostname must name "
                f"one of its containers ({', '.join(host for host, _ in variant.pipeline)})."
            )
        for index, (hostname, name) in enumerate(variant.pipeline):
            if hostname == target_hostname:
                instance = first if index == 0 else _instance_of(route, name, hostname)
                return hostname, await post(instance, headers, body)
        raise ValidationError(
            f"TargetContainerHostname {target_hostname} is not a container of the endpoint's pipeline "
            f"({', '.join(host for host, _ in variant.pipeline)})."
        )
    if target_hostname:
        raise ValidationError("TargetContainerHostname applies to inference pipelines in Direct mode only.")
    hostname = variant.pipeline[0][0]
    answer = await post(first, headers, body)
    for hostname, name in variant.pipeline[1:]:
        if not 200 <= answer.status < 300:
            break
        passed = dict(headers)
        content_type = answer.headers.get("content-type")
        if content_type is not None:
            passed["Content-Type"] = content_type
        answer = await post(_instance_of(route, name, hostname), passed, answer.body)
    return hostname, answer
