"""Endpoints: their lifecycle and the deployment specs handed to the fleet.

Every change of status goes through :meth:`Endpoint.moved_to` (the declared transitions). A request
records the new state first (under the store's ``changing`` lock) and only then asks the fleet, outside
the lock; what the fleet reports back is recorded by :mod:`fleet_reports`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker import converters
from dockyard.emulator.sagemaker.capture_config import capture_settings
from dockyard.emulator.sagemaker.deployment import (
    DEFAULT_STARTUP_TIMEOUT,
    DeploymentSpec,
    Fleet,
    VariantDeployment,
)
from dockyard.emulator.sagemaker.domain import (
    CREATING,
    DELETING,
    IN_SERVICE,
    OUT_OF_SERVICE,
    UPDATING,
    Endpoint,
    EndpointConfig,
)
from dockyard.emulator.sagemaker.listing import Listing
from dockyard.emulator.sagemaker.models import ModelOps
from dockyard.emulator.sagemaker.pipelines import expand
from dockyard.emulator.sagemaker.serverless_config import SERVERLESS_INSTANCE_TYPE
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.sagemaker.tags import tags_of

Result = dict[str, Any]

ENDPOINTS: Listing[Endpoint] = Listing(
    sort_keys={
        "Name": lambda endpoint: (endpoint.name,),
        "CreationTime": lambda endpoint: (endpoint.created, endpoint.name),
        "Status": lambda endpoint: (endpoint.status, endpoint.name),
    },
    default_sort="CreationTime",
    name=lambda endpoint: endpoint.name,
    created=lambda endpoint: endpoint.created,
    modified=lambda endpoint: endpoint.modified,
    status=lambda endpoint: endpoint.status,
)
RESTART_REASON = (
    "The update to endpoint configuration {config} was interrupted by a restart of the local SageMaker; "
    "the endpoint kept its previous deployment. Call UpdateEndpoint again to retry."
)


class EndpointOps:
    """The endpoint operations."""

    def __init__(self, store: Store, fleet: Fleet, models: ModelOps, clock: Callable[[], float]) -> None:
        self.store = store
        self.fleet = fleet
        self.models = models
        self.clock = clock
        self.lock = store.changing

    # ---- operations --------------------------------------------------------------------------

    def create_endpoint(self, ctx: Caller, params: dict[str, Any]) -> Result:
        name: str = params["EndpointName"]
        arn = ctx.arn("endpoint", name)
        with self.lock:
            if self.store.get(Endpoint, ctx.account, ctx.region, name) is not None:
                raise ValidationException(f'Cannot create already existing endpoint "{arn}".')
            config = self.models.get_config(ctx, params["EndpointConfigName"])
            spec = self._spec(ctx, name, config)
            now = self.clock()
            endpoint = Endpoint(
                ctx.account,
                ctx.region,
                name,
                arn,
                now,
                now,
                CREATING,
                config.name,
                pending=spec,
                pending_since=now,
            )
            self.store.insert(endpoint)
            self.store.add_tags(arn, tags_of(params))
        self.fleet.deploy(spec)
        return {"EndpointArn": arn}

    def describe_endpoint(self, ctx: Caller, params: dict[str, Any]) -> Result:
        endpoint = self.get(ctx, params["EndpointName"])
        return converters.endpoint_description(endpoint, self.fleet.view(endpoint.key))

    def list_endpoints(self, ctx: Caller, params: dict[str, Any]) -> Result:
        page = ENDPOINTS.page(self.store.all(Endpoint, ctx.account, ctx.region), params)
        return {
            "Endpoints": [converters.endpoint_summary(e) for e in page.items],
            "NextToken": page.next_token,
        }

    def update_endpoint(self, ctx: Caller, params: dict[str, Any]) -> Result:
        with self.lock:
            endpoint = self.get(ctx, params["EndpointName"])
            config = self.models.get_config(ctx, params["EndpointConfigName"])
            spec = self._spec(ctx, endpoint.name, config)
            if params.get("RetainAllVariantProperties") and endpoint.serving is not None:
                spec = _retained(spec, endpoint.serving, set(_excluded(params)))
            now = self.clock()
            updated = endpoint.moved_to(
                UPDATING, now, pending=spec, pending_config=config.name, pending_since=now
            )
            self.store.put(updated)
        self.fleet.deploy(spec)
        return {"EndpointArn": endpoint.arn}

    def update_endpoint_weights_and_capacities(self, ctx: Caller, params: dict[str, Any]) -> Result:
        with self.lock:
            endpoint = self.get(ctx, params["EndpointName"])
            endpoint.require(UPDATING)
            serving = endpoint.serving
            assert serving is not None  # an endpoint that may update (InService) has a deployment
            variants = {variant.name: variant for variant in serving.variants}
            changes: dict[str, VariantDeployment] = {}
            for desired in params["DesiredWeightsAndCapacities"]:
                variant = variants.get(desired["VariantName"])
                if variant is None:
                    raise ValidationException(
                        f'The variant "{desired["VariantName"]}" does not exist in endpoint '
                        f'"{endpoint.arn}"; its variants are: {", ".join(variants)}.'
                    )
                weight = desired.get("DesiredWeight")
                count = desired.get("DesiredInstanceCount")
                changes[variant.name] = replace(
                    variant,
                    weight=variant.weight if weight is None else float(weight),
                    instance_count=variant.instance_count if count is None else int(count),
                )
            spec = replace(
                serving, variants=tuple(changes.get(variant.name, variant) for variant in serving.variants)
            )
            now = self.clock()
            self.store.put(
                endpoint.moved_to(UPDATING, now, pending=spec, pending_config=None, pending_since=now)
            )
        self.fleet.deploy(spec)
        return {"EndpointArn": endpoint.arn}

    def delete_endpoint(self, ctx: Caller, params: dict[str, Any]) -> Result:
        with self.lock:
            endpoint = self.get(ctx, params["EndpointName"])
            self.store.put(endpoint.moved_to(DELETING, self.clock()))
        self.fleet.remove(endpoint.key)
        return {}

    def get(self, ctx: Caller, name: str) -> Endpoint:
        endpoint = self.store.get(Endpoint, ctx.account, ctx.region, name)
        if endpoint is None:
            # A ValidationException, not ResourceNotFound: boto3's endpoint_deleted waiter waits for it.
            raise ValidationException(f'Could not find endpoint "{ctx.arn("endpoint", name)}".')
        return endpoint

    def _spec(self, ctx: Caller, endpoint_name: str, config: EndpointConfig) -> DeploymentSpec:
        shadows = config.definition.get("ShadowProductionVariants") or []
        variants = [
            *(
                deployed
                for variant in config.variants
                for deployed in self._variant(ctx, variant, shadow=False)
            ),
            *(deployed for variant in shadows for deployed in self._variant(ctx, variant, shadow=True)),
        ]
        return DeploymentSpec(
            endpoint_name=endpoint_name,
            endpoint_arn=ctx.arn("endpoint", endpoint_name),
            config_name=config.name,
            variants=tuple(variants),
            account=ctx.account,
            region=ctx.region,
            capture=capture_settings(config.definition.get("DataCaptureConfig")),
        )

    def _variant(self, ctx: Caller, variant: dict[str, Any], *, shadow: bool) -> list[VariantDeployment]:
        """A config's variant as the fleet deploys it: one variant, or one per container of a pipeline."""
        model = self.models.get_model(ctx, variant["ModelName"])  # may be gone since the config
        weight = variant.get("InitialVariantWeight")
        return expand(
            VariantDeployment(
                name=variant["VariantName"],
                model_name=model.name,
                container=model.container,
                instance_type=variant.get("InstanceType") or SERVERLESS_INSTANCE_TYPE,
                instance_count=int(variant.get("InitialInstanceCount") or 0),
                serverless=variant.get("ServerlessConfig"),
                weight=1.0 if weight is None else float(weight),
                startup_timeout=int(
                    variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or DEFAULT_STARTUP_TIMEOUT
                ),
                shadow=shadow,
            ),
            model,
        )

    # ---- start ---------------------------------------------------------------------------------

    def resume(self) -> None:
        """Hand every stored endpoint back to the fleet (which adopts the containers still running)."""
        for endpoint in self.store.everywhere(Endpoint):
            if endpoint.status == DELETING:
                self.fleet.remove(endpoint.key)
            elif endpoint.status == CREATING and endpoint.pending is not None:
                self.fleet.deploy(endpoint.pending)
            elif endpoint.status == UPDATING and endpoint.serving is not None:
                # The blue/green step cannot be resumed halfway: keep serving what served, say why.
                reason = RESTART_REASON.format(config=endpoint.pending_config or endpoint.config_name)
                with self.lock:
                    self.store.put(
                        endpoint.moved_to(
                            IN_SERVICE,
                            self.clock(),
                            pending=None,
                            pending_config=None,
                            pending_since=None,
                            failure_reason=reason,
                        )
                    )
                self.fleet.deploy(endpoint.serving)
            elif endpoint.status in (IN_SERVICE, OUT_OF_SERVICE) and endpoint.serving is not None:
                # An OutOfService one is reported InService again once an instance is healthy.
                self.fleet.deploy(endpoint.serving)


def _excluded(params: dict[str, Any]) -> list[str]:
    return [item["VariantPropertyType"] for item in params.get("ExcludeRetainedVariantProperties") or []]


def _retained(spec: DeploymentSpec, serving: DeploymentSpec, excluded: set[str]) -> DeploymentSpec:
    """RetainAllVariantProperties: variants keep their current weight and count unless excluded."""
    current = {variant.name: variant for variant in serving.variants}
    variants = []
    for variant in spec.variants:
        old = current.get(variant.name)
        kept = variant
        if old is not None and "DesiredWeight" not in excluded:
            kept = replace(kept, weight=old.weight)
        if old is not None and "DesiredInstanceCount" not in excluded:
            kept = replace(kept, instance_count=old.instance_count)
        variants.append(kept)
    return replace(spec, variants=tuple(variants))
