"""The runtime's answer for an endpoint the fleet reported OutOfService (none of its instances can take
requests: the Docker engine gone, every container dead).

SageMaker's InvokeEndpoint declares ServiceUnavailable (503, "The service is unavailable. Try your call
again.") for a service that cannot take the request now, which SDKs retry; it is said at once instead of
after waiting for an instance, since the fleet has found none for a while.
"""

from __future__ import annotations

from dockyard.emulator.errors import ServiceUnavailable
from dockyard.emulator.route_table import EndpointRoute

OUT_OF_SERVICE = "OutOfService"


def cannot_serve(status: str | None, route: EndpointRoute | None) -> bool:
    """Whether an endpoint in ``status`` with ``route`` is refused: OutOfService and no healthy instance
    (one healthy again serves before the fleet's next round reports the endpoint InService)."""
    return status == OUT_OF_SERVICE and not (route and any(v.healthy() for v in route.variants))


def out_of_service(name: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"Endpoint {name} is OutOfService: none of its instances can take requests now (DescribeEndpoint's "
        "FailureReason says why). Please try again later."
    )
