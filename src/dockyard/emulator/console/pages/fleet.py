"""An endpoint as the detail page shows it: DescribeEndpoint, plus what the API has no member for.

DescribeEndpoint says what each variant should run and how many instances are up; the fleet's own view
adds each instance's container and health, and while a deployment is under way the containers being
started for it (the new fleet of a blue/green update, next to the old one still taking the traffic).
The fleet is read, never changed, from here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.emulator.console.control import Control
from dockyard.emulator.sagemaker.instances import LABEL_VARIANT

if TYPE_CHECKING:
    from dockyard.emulator.components import Components

BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})


@dataclass(frozen=True)
class InstanceRow:
    variant: str
    container: str
    url: str
    health: str  # Healthy | Unhealthy | Starting


@dataclass
class EndpointState:
    endpoint: dict[str, Any]
    serving: list[InstanceRow] = field(default_factory=list)
    starting: list[InstanceRow] = field(default_factory=list)  # containers of the deployment under way

    @property
    def busy(self) -> bool:
        return self.endpoint.get("EndpointStatus") in BUSY


class FleetViews:
    def __init__(self, control: Control, components: Callable[[], Components]) -> None:
        self.control = control
        self._components = components

    async def state(self, region: str, name: str) -> EndpointState:
        endpoint = await self.control.call(region, "DescribeEndpoint", {"EndpointName": name})
        state = EndpointState(endpoint)
        reconciler = self._components().reconciler
        key = self.control.key(region, endpoint["EndpointName"])
        serving_names = set()
        for variant in reconciler.view(key):
            for instance in variant.instances:
                serving_names.add(instance.instance_id)
                state.serving.append(
                    InstanceRow(
                        variant.name,
                        instance.instance_id,
                        instance.url,
                        "Healthy" if instance.healthy else "Unhealthy",
                    )
                )
        if state.busy:
            # The containers started for the deployment under way: labelled, not yet routed to.
            try:
                labelled = await asyncio.to_thread(reconciler.containers.labelled, key)
            except Exception:  # the engine is unreachable: the page still shows what the API says
                labelled = []
            for item in labelled:
                if item["name"] not in serving_names:
                    state.starting.append(
                        InstanceRow(
                            str(item["labels"].get(LABEL_VARIANT, "")),
                            str(item["name"]),
                            "",
                            "Starting" if item["status"] == "running" else str(item["status"]).capitalize(),
                        )
                    )
        return state
