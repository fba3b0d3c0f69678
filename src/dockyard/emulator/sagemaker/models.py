"""Models and endpoint configs: CreateModel ... DeleteEndpointConfig.

A model records the container it runs: its own first container, or the container of the Approved
model-package version it names (resolved once, at CreateModel, as SageMaker does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from dockyard.emulator.context import Caller
from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker import converters
from dockyard.emulator.sagemaker.capture_config import check_capture_config
from dockyard.emulator.sagemaker.deployment import ContainerSpec
from dockyard.emulator.sagemaker.domain import EndpointConfig, Model
from dockyard.emulator.sagemaker.listing import Listing
from dockyard.emulator.sagemaker.pipelines import pipeline_of
from dockyard.emulator.sagemaker.registry import RegistryOps
from dockyard.emulator.sagemaker.serverless_config import check_serverless_variant
from dockyard.emulator.sagemaker.store import Store
from dockyard.emulator.sagemaker.tags import tags_of

Result = dict[str, Any]

MODELS: Listing[Model] = Listing(
    sort_keys={
        "Name": lambda model: (model.name,),
        "CreationTime": lambda model: (model.created, model.name),
    },
    default_sort="CreationTime",
    name=lambda model: model.name,
    created=lambda model: model.created,
)
ENDPOINT_CONFIGS: Listing[EndpointConfig] = Listing(
    sort_keys={
        "Name": lambda config: (config.name,),
        "CreationTime": lambda config: (config.created, config.name),
    },
    default_sort="CreationTime",
    name=lambda config: config.name,
    created=lambda config: config.created,
)


def model_not_found(arn: str) -> ValidationException:
    return ValidationException(f'Could not find model "{arn}".')


def config_not_found(arn: str) -> ValidationException:
    return ValidationException(f'Could not find endpoint configuration "{arn}".')


class ModelOps:
    def __init__(self, store: Store, registry: RegistryOps, clock: Callable[[], float]) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock

    # ---- models ------------------------------------------------------------------------------

    def create_model(self, ctx: Caller, params: dict[str, Any]) -> Result:
        name: str = params["ModelName"]
        arn = ctx.arn("model", name)
        isolated = bool(params.get("EnableNetworkIsolation"))
        if len(params.get("Containers") or []) > 1 and not params.get("PrimaryContainer"):
            specs, hostnames, direct = pipeline_of(
                params, lambda c: self._container(ctx, {"Containers": [c]})
            )
            specs = tuple(dataclasses.replace(spec, network_isolation=isolated) for spec in specs)
            container, more = specs[0], specs[1:]
        else:
            container, more, hostnames, direct = self._container(ctx, params), (), (), False
            container = dataclasses.replace(container, network_isolation=isolated)
        definition = {key: value for key, value in params.items() if key not in ("ModelName", "Tags")}
        model = Model(
            ctx.account, ctx.region, name, arn, self.clock(), container, definition, more, hostnames, direct
        )
        if not self.store.insert(model):
            raise ValidationException(f'Cannot create already existing model "{arn}".')
        self.store.add_tags(arn, tags_of(params))
        return {"ModelArn": arn}

    def _container(self, ctx: Caller, params: dict[str, Any]) -> ContainerSpec:
        primary = params.get("PrimaryContainer")
        containers: list[dict[str, Any]] = params.get("Containers") or []
        if primary is not None and containers:
            raise ValidationException("Only one of PrimaryContainer or Containers may be specified.")
        if primary is None:
            if not containers:
                raise ValidationException("Either PrimaryContainer or Containers must be specified.")
            primary = containers[0]
        environment: dict[str, str] = dict(primary.get("Environment") or {})
        package_ref = primary.get("ModelPackageName")
        if package_ref:
            packaged = self.registry.deployable_container(ctx, package_ref)
            # The container's own Environment adds to (and overrides) the package's.
            return container_spec(packaged, {**(packaged.get("Environment") or {}), **environment})
        return container_spec(primary, environment)

    def describe_model(self, ctx: Caller, params: dict[str, Any]) -> Result:
        return converters.model_description(self.get_model(ctx, params["ModelName"]))

    def list_models(self, ctx: Caller, params: dict[str, Any]) -> Result:
        page = MODELS.page(self.store.all(Model, ctx.account, ctx.region), params)
        return {"Models": [converters.model_summary(m) for m in page.items], "NextToken": page.next_token}

    def delete_model(self, ctx: Caller, params: dict[str, Any]) -> Result:
        model = self.get_model(ctx, params["ModelName"])
        self.store.delete(Model, model.account, model.region, model.name)
        return {}

    def get_model(self, ctx: Caller, name: str) -> Model:
        model = self.store.get(Model, ctx.account, ctx.region, name)
        if model is None:
            raise model_not_found(ctx.arn("model", name))
        return model

    # ---- endpoint configs --------------------------------------------------------------------

    def create_endpoint_config(self, ctx: Caller, params: dict[str, Any]) -> Result:
        name: str = params["EndpointConfigName"]
        arn = ctx.arn("endpoint-config", name)
        variants: list[dict[str, Any]] = params["ProductionVariants"]
        shadows: list[dict[str, Any]] = params.get("ShadowProductionVariants") or []
        if shadows and (len(variants) != 1 or len(shadows) != 1):
            raise ValidationException(
                "An endpoint config with ShadowProductionVariants must have exactly one production variant "
                "and one shadow variant."
            )
        check_capture_config(params.get("DataCaptureConfig"))
        seen: set[str] = set()
        for variant in [*variants, *shadows]:
            variant_name = variant["VariantName"]
            if variant_name.lower() in seen:
                raise ValidationException(
                    f'The variant name "{variant_name}" is used more than once in the endpoint config; '
                    "variant names must be unique within an endpoint config."
                )
            seen.add(variant_name.lower())
            _check_local_variant(variant)
            model_name = variant.get("ModelName")
            model = self.store.get(Model, ctx.account, ctx.region, model_name) if model_name else None
            if model is None:
                raise model_not_found(ctx.arn("model", model_name or ""))
            if model.pipeline and variant.get("ServerlessConfig"):
                raise ValidationException(
                    f'Production variant "{variant_name}": the local SageMaker (dockyard emulator) does not '
                    "run inference pipelines (several containers) as serverless variants."
                )
        _check_async_config(params.get("AsyncInferenceConfig"))
        definition = {
            key: value
            for key, value in params.items()
            if key not in ("EndpointConfigName", "ProductionVariants", "Tags")
        }
        config = EndpointConfig(ctx.account, ctx.region, name, arn, self.clock(), tuple(variants), definition)
        if not self.store.insert(config):
            raise ValidationException(f'Cannot create already existing endpoint configuration "{arn}".')
        self.store.add_tags(arn, tags_of(params))
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, ctx: Caller, params: dict[str, Any]) -> Result:
        return converters.endpoint_config_description(self.get_config(ctx, params["EndpointConfigName"]))

    def list_endpoint_configs(self, ctx: Caller, params: dict[str, Any]) -> Result:
        page = ENDPOINT_CONFIGS.page(self.store.all(EndpointConfig, ctx.account, ctx.region), params)
        return {
            "EndpointConfigs": [converters.endpoint_config_summary(c) for c in page.items],
            "NextToken": page.next_token,
        }

    def delete_endpoint_config(self, ctx: Caller, params: dict[str, Any]) -> Result:
        # SageMaker lets a config in use be deleted: the endpoint keeps running what it deployed.
        config = self.get_config(ctx, params["EndpointConfigName"])
        self.store.delete(EndpointConfig, config.account, config.region, config.name)
        return {}

    def get_config(self, ctx: Caller, name: str) -> EndpointConfig:
        config = self.store.get(EndpointConfig, ctx.account, ctx.region, name)
        if config is None:
            raise config_not_found(ctx.arn("endpoint-config", name))
        return config


def container_spec(definition: dict[str, Any], environment: dict[str, str]) -> ContainerSpec:
    """A ContainerDefinition (or a model package's container) as the fleet runs it."""
    image = definition.get("Image")
    if not image:
        raise ValidationException("The container definition must specify an Image.")
    source = (definition.get("ModelDataSource") or {}).get("S3DataSource")
    if source is not None:
        return ContainerSpec(
            image=image,
            model_data_prefix=source["S3Uri"],
            model_data_compressed=source.get("CompressionType") == "Gzip",
            environment=environment,
        )
    if definition.get("Mode") == "MultiModel":
        prefix = definition.get("ModelDataUrl")
        if not prefix or not str(prefix).startswith("s3://"):
            raise ValidationException(
                "A container in MultiModel mode must specify ModelDataUrl: "
                "the S3 prefix of its model archives."
            )
        return ContainerSpec(image=image, model_data_prefix=prefix, environment=environment, multi_model=True)
    return ContainerSpec(image=image, model_data_url=definition.get("ModelDataUrl"), environment=environment)


def _check_local_variant(variant: dict[str, Any]) -> None:
    name = variant["VariantName"]
    if variant.get("ServerlessConfig"):
        check_serverless_variant(variant)
        return
    if not variant.get("InstanceType") or not variant.get("InitialInstanceCount"):
        raise ValidationException(
            f'Production variant "{name}" must specify InstanceType and InitialInstanceCount.'
        )


def _check_async_config(config: dict[str, Any] | None) -> None:
    if config is None:
        return
    output = config.get("OutputConfig") or {}
    for member in ("S3OutputPath", "S3FailurePath"):
        value = output.get(member)
        if member == "S3OutputPath" and not value:
            raise ValidationException("AsyncInferenceConfig.OutputConfig.S3OutputPath must be specified.")
        if value is not None and not (str(value).startswith("s3://") and len(str(value)) > 5):
            raise ValidationException(
                f"AsyncInferenceConfig.OutputConfig.{member} {value!r} is not an S3 URI (s3://bucket/prefix)."
            )
