"""What DescribeEndpoint shows of a fleet: each variant as it runs now (weights, healthy instances, the
image it resolved to)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from dockyard.emulator.ecr.uris import resolved_reference
from dockyard.emulator.sagemaker.deployment import DeploymentSpec, InstanceView, VariantView

if TYPE_CHECKING:
    from dockyard.emulator.sagemaker.instances import FleetInstance


def variant_views(
    spec: DeploymentSpec, instances: Mapping[str, list[FleetInstance]], updating: bool
) -> tuple[VariantView, ...]:
    views = []
    for variant in spec.variants:
        running = instances.get(variant.name, [])
        views.append(
            VariantView(
                name=variant.name,
                current_weight=variant.weight,
                current_instance_count=sum(1 for i in running if i.route.healthy),
                desired_instance_count=variant.instance_count,
                image=variant.container.image,
                resolved_image=(
                    resolved_reference(variant.container.image, running[0].box.image.id) if running else ""
                ),
                status="Updating" if updating else "",
                instances=tuple(InstanceView(i.name, i.route.url, i.route.healthy) for i in running),
            )
        )
    return tuple(views)
