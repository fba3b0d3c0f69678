"""What the control-plane tests share: a fleet that records and reports on demand, a fake clock, and
a harness that calls the provider with botocore-validated parameters and checks every result against
botocore's output shape (required members present, no member the shape does not have)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape
from botocore.validate import validate_parameters

from dockyard.emulator.aws.json_protocol import JsonProtocol
from dockyard.emulator.context import Caller, ResourceKey
from dockyard.emulator.errors import ServiceError
from dockyard.emulator.sagemaker.deployment import DeploymentSpec, FleetEvents, VariantView
from dockyard.emulator.sagemaker.fleet_reports import FleetReports
from dockyard.emulator.sagemaker.provider import SageMakerProvider
from dockyard.emulator.sagemaker.store import Store
from tests.emulator.aws.oracle import botocore_parse, botocore_request, normalized

CTX = Caller("111122223333", "eu-west-1", "req-1")
OTHER_REGION = Caller("111122223333", "us-east-2", "req-2")
PREFIX = "arn:aws:sagemaker:eu-west-1:111122223333"
IMAGE = "127.0.0.1:5000/dy-cp/model:1"
ROLE = "arn:aws:iam::111122223333:role/dy-cp"
MODEL = botocore.session.get_session().get_service_model("sagemaker")
WIRE = JsonProtocol("sagemaker")


class RecordingFleet:
    """Implements Fleet: records what it is asked; the test decides when and how it reports."""

    def __init__(self) -> None:
        self.deployed: list[DeploymentSpec] = []
        self.removed: list[ResourceKey] = []
        self.running: dict[ResourceKey, tuple[VariantView, ...]] = {}
        self.events: FleetEvents | None = None

    def deploy(self, spec: DeploymentSpec) -> None:
        self.deployed.append(spec)

    def remove(self, endpoint: ResourceKey) -> None:
        self.removed.append(endpoint)

    def view(self, endpoint: ResourceKey) -> tuple[VariantView, ...]:
        return self.running.get(endpoint, ())

    # ---- reports, on the test's demand -----------------------------------------------------------

    def succeed(self, spec: DeploymentSpec | None = None) -> DeploymentSpec:
        spec = spec or self.deployed[-1]
        self.running[spec.endpoint] = tuple(
            VariantView(
                name=variant.name,
                current_weight=variant.weight,
                current_instance_count=variant.instance_count,
                desired_instance_count=variant.instance_count,
                image=variant.container.image,
                resolved_image=f"{variant.container.image}@sha256:{'ab' * 32}",
                status="",
            )
            for variant in spec.variants
        )
        assert self.events is not None
        self.events.deployment_succeeded(spec)
        return spec

    def fail(self, reason: str, spec: DeploymentSpec | None = None) -> DeploymentSpec:
        spec = spec or self.deployed[-1]
        assert self.events is not None
        self.events.deployment_failed(spec, reason)
        return spec

    def finish_removal(self, endpoint_name: str, ctx: Caller = CTX) -> None:
        endpoint = ctx.key(endpoint_name)
        self.running.pop(endpoint, None)
        assert self.events is not None
        self.events.endpoint_removed(endpoint)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1.0  # every reading is a distinct, later moment
        return self.now


class ControlPlane:
    """The provider over a real SQLite store, with a recording fleet and a fake clock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = Clock()
        self.fleet = RecordingFleet()
        self.store = Store(path)
        self.provider = SageMakerProvider(self.store, self.fleet, self.clock)
        self.fleet.events = FleetReports(self.store, self.clock)

    def call(self, operation: str, *, ctx: Caller = CTX, **params: Any) -> dict[str, Any]:
        """The provider's result for a request botocore would send; it must also survive the wire:
        our protocol layer serializes it and botocore's parser reads it back."""
        op = MODEL.operation_model(operation)
        assert op.input_shape is not None
        validate_parameters(params, op.input_shape)
        request = botocore_request(op, params)
        parsed_operation, parsed = WIRE.parse(request["headers"]["X-Amz-Target"], request["body"])
        assert parsed_operation == operation
        result = self.provider.handle(ctx, operation, parsed)
        if op.output_shape is None:
            assert result == {}
        else:
            check_shape(result, op.output_shape, operation)
            body = WIRE.serialize(operation, result)
            read = botocore_parse(op, 200, [(b"content-type", b"application/x-amz-json-1.1")], body)
            assert normalized(read) == normalized(_wire_view(result, op.output_shape))
        return result

    def error(self, operation: str, *, ctx: Caller = CTX, **params: Any) -> ServiceError:
        input_shape = MODEL.operation_model(operation).input_shape
        assert input_shape is not None
        validate_parameters(params, input_shape)
        with pytest.raises(ServiceError) as caught:
            self.provider.handle(ctx, operation, params)
        return caught.value

    def reopen(self) -> ControlPlane:
        """The same state directory after an emulator restart: a new store, provider and fleet."""
        self.store.close()
        again = ControlPlane(self.path)
        again.clock.now = self.clock.now
        return again

    # ---- the usual resources -------------------------------------------------------------------

    def model(self, name: str, **container: Any) -> str:
        definition = {"Image": IMAGE, "ModelDataUrl": f"s3://dy-cp/{name}/model.tar.gz", **container}
        arn: str = self.call("CreateModel", ModelName=name, PrimaryContainer=definition)["ModelArn"]
        return arn

    def config(self, name: str, *models: str, **variant: Any) -> str:
        variants = [
            {
                "VariantName": f"v{index}",
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                **variant,
            }
            for index, model in enumerate(models or ("m1",))
        ]
        arn: str = self.call("CreateEndpointConfig", EndpointConfigName=name, ProductionVariants=variants)[
            "EndpointConfigArn"
        ]
        return arn

    def in_service(self, name: str, config: str) -> DeploymentSpec:
        self.call("CreateEndpoint", EndpointName=name, EndpointConfigName=config)
        return self.fleet.succeed()

    def status(self, name: str) -> str:
        status: str = self.call("DescribeEndpoint", EndpointName=name)["EndpointStatus"]
        return status


def _wire_view(value: Any, shape: Shape) -> Any:
    """``value`` as botocore returns it: None members dropped, epoch timestamps as datetimes."""
    if isinstance(shape, StructureShape):
        return {k: _wire_view(v, shape.members[k]) for k, v in value.items() if v is not None}
    if isinstance(shape, ListShape):
        return [_wire_view(item, shape.member) for item in value]
    if isinstance(shape, MapShape):
        return {k: _wire_view(v, shape.value) for k, v in value.items()}
    if shape.type_name == "timestamp" and isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return value


def check_shape(value: Any, shape: Shape, path: str) -> None:
    """``value`` is what the protocol layer may serialize as ``shape``: None members are dropped."""
    if isinstance(shape, StructureShape):
        assert isinstance(value, dict), f"{path}: {value!r} is not a structure"
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{path}: members {sorted(unknown)} are not in {shape.name}"
        for name in shape.required_members:
            assert value.get(name) is not None, f"{path}: required member {name} is missing"
        for name, member in value.items():
            if member is not None:
                check_shape(member, shape.members[name], f"{path}.{name}")
    elif isinstance(shape, ListShape):
        assert isinstance(value, list), f"{path}: {value!r} is not a list"
        for index, item in enumerate(value):
            check_shape(item, shape.member, f"{path}[{index}]")
    elif isinstance(shape, MapShape):
        assert isinstance(value, dict), f"{path}: {value!r} is not a map"
        for key, item in value.items():
            check_shape(key, shape.key, f"{path}.key")
            check_shape(item, shape.value, f"{path}[{key}]")
    else:
        expected: dict[str, type | tuple[type, ...]] = {
            "string": str,
            "integer": int,
            "long": int,
            "float": (int, float),
            "double": (int, float),
            "boolean": bool,
            "timestamp": (int, float, dt.datetime),
            "blob": bytes,
        }
        kind = expected[shape.type_name]
        assert isinstance(value, kind), f"{path}: {value!r} is not a {shape.type_name}"
        if isinstance(shape, StringShape) and shape.enum:
            assert value in shape.enum, f"{path}: {value!r} is not one of {shape.name}"
