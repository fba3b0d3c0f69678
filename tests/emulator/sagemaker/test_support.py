"""Every input member of every implemented operation is honoured or refused: none is silently dropped.

The lists live in ``dockyard.emulator.sagemaker.support``; these tests walk botocore's own model. A
member added to SageMaker's API (a newer botocore than the lists were written for) is refused by the
emulator until it is classified, and a test checks that it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape

from dockyard.emulator.errors import ValidationException
from dockyard.emulator.sagemaker.member_check import refuse_unsupported
from dockyard.emulator.sagemaker.support import HONOURED, REFUSED, Refusal
from tests.emulator.sagemaker.control_plane import IMAGE, ControlPlane

MODEL = botocore.session.get_session().get_service_model("sagemaker")
OPERATIONS = sorted(HONOURED)


def _children(shape: Shape, path: str) -> Iterator[tuple[str, Shape]]:
    if shape.type_name == "list":
        yield from _children(shape.member, f"{path}[]")
    elif shape.type_name == "structure":
        for name, member in shape.members.items():
            yield (f"{path}.{name}" if path else name), member


def _unclassified(operation: str) -> list[str]:
    honoured = set(HONOURED[operation])
    refused = {refusal.path for refusal in REFUSED.get(operation, ())}
    declared = honoured | refused
    missing: list[str] = []

    def visit(shape: Shape, path: str) -> None:
        for child, member in _children(shape, path):
            if child in refused and child not in honoured:
                continue
            if child not in honoured:
                missing.append(child)
                continue
            item = f"{child}[]" if member.type_name == "list" else child
            # Honoured whole unless some of its members are classified one by one.
            if any(d.startswith(f"{item}.") for d in declared):
                visit(member, child)

    input_shape = MODEL.operation_model(operation).input_shape
    if input_shape is not None:
        visit(input_shape, "")
    return missing


def _declared_paths_exist(operation: str) -> list[str]:
    known: set[str] = set()

    def visit(shape: Shape, path: str, depth: int) -> None:
        for child, member in _children(shape, path):
            known.add(child)
            if depth < 8:
                visit(member, child, depth + 1)

    input_shape = MODEL.operation_model(operation).input_shape
    if input_shape is not None:
        visit(input_shape, "", 0)
    declared = set(HONOURED[operation]) | {r.path for r in REFUSED.get(operation, ())}
    return sorted(declared - known)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_member_is_honoured_or_refused(operation: str) -> None:
    """Members of this botocore's model that neither list names are refused (and named) all the same."""
    for path in _unclassified(operation):
        params, where = _params_with(operation, Refusal(path, "unclassified"))
        with pytest.raises(ValidationException) as caught:
            refuse_unsupported(operation, params)
        assert caught.value.message.startswith(
            f"{where} is not supported by the local SageMaker (dockyard emulator) yet"
        ), path


VARIANT = {"VariantName": "v", "ModelName": "m1", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"ProductionVariants": [VARIANT], "FutureOption": {"Enabled": True}}, "FutureOption"),
        (
            {"ProductionVariants": [VARIANT, {**VARIANT, "FutureOption": 2}]},
            "ProductionVariants[1].FutureOption",
        ),
        (
            {
                "ProductionVariants": [VARIANT],
                "DataCaptureConfig": {"EnableCapture": True, "FutureOption": "x"},
            },
            "DataCaptureConfig.FutureOption",
        ),
        (
            {"ProductionVariants": [{**VARIANT, "RoutingConfig": {"FutureOption": "x"}}]},
            "ProductionVariants[0].RoutingConfig.FutureOption",
        ),
    ],
)
def test_a_member_in_neither_list_is_refused_wherever_it_is(params: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationException) as caught:
        refuse_unsupported("CreateEndpointConfig", {"EndpointConfigName": "cfg", **params})
    assert caught.value.message == (
        f"{where} is not supported by the local SageMaker (dockyard emulator) yet. Leave it out locally, "
        "or deploy to SageMaker (--target aws)."
    )


def test_defaults_and_members_honoured_whole_pass_the_guard() -> None:
    # A member left at its default asks for nothing; a map or tag list is honoured with any keys.
    defaults = {"FutureFlag": False, "FutureList": [], "FutureStructure": {}, "FutureName": None}
    refuse_unsupported("CreateEndpointConfig", {"ProductionVariants": [VARIANT], **defaults})
    refuse_unsupported(
        "CreateModel",
        {
            "ModelName": "m",
            "PrimaryContainer": {"Image": IMAGE, "Environment": {"ANY_NAME": "1", "FutureOption": "2"}},
            "Tags": [{"Key": "FutureOption", "Value": "x"}],
        },
    )


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_declared_member_exists_in_botocore(operation: str) -> None:
    assert _declared_paths_exist(operation) == []


def test_the_lists_cover_exactly_the_providers_operations(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path / "state.db")
    try:
        assert sorted(plane.provider.operations) == OPERATIONS
    finally:
        plane.store.close()
    assert set(REFUSED) <= set(HONOURED)


def _sample(shape: Shape, refusal: Refusal) -> Any:
    """A value of ``shape`` that the refusal applies to."""
    if shape.type_name == "structure":
        name, member = next(iter(shape.members.items()))
        return {name: _sample(member, refusal)}
    if shape.type_name == "list":
        return [_sample(shape.member, refusal)]
    if shape.type_name == "map":
        return {"key": "value"}
    if shape.type_name == "boolean":
        return True
    if shape.type_name in ("integer", "long", "float", "double"):
        return 1
    for candidate in shape.enum or ["value"]:
        if refusal.applies(candidate):
            return candidate
    return "value"


def _params_with(operation: str, refusal: Refusal) -> tuple[dict[str, Any], str]:
    """Params holding ``refusal``'s member (lists with one item), and the member's name in the error."""
    shape = MODEL.operation_model(operation).input_shape
    params: dict[str, Any] = {}
    node: Any = params
    where: list[str] = []
    parts = refusal.path.split(".")
    for index, part in enumerate(parts):
        name = part.removesuffix("[]")
        member = shape.members[name]
        where.append(f"{name}[0]" if part.endswith("[]") else name)
        if index == len(parts) - 1:
            node[name] = _sample(member, refusal)
            break
        if part.endswith("[]"):
            item: dict[str, Any] = {}
            node[name] = [item]
            node, shape = item, member.member
        else:
            node[name] = {}
            node, shape = node[name], member
    return params, ".".join(where)


REFUSALS = [(operation, refusal) for operation, refusals in REFUSED.items() for refusal in refusals]


@pytest.mark.parametrize(("operation", "refusal"), REFUSALS, ids=[f"{o}:{r.path}" for o, r in REFUSALS])
def test_each_refused_member_is_named_in_a_validation_error(operation: str, refusal: Refusal) -> None:
    params, where = _params_with(operation, refusal)
    with pytest.raises(ValidationException) as caught:
        refuse_unsupported(operation, params)
    assert caught.value.message.startswith(
        f"{where} is not supported by the local SageMaker (dockyard emulator) yet: {refusal.why}."
    )


def test_supported_values_of_a_partly_refused_member_pass() -> None:
    refuse_unsupported("CreateModel", {"PrimaryContainer": {"Image": IMAGE, "Mode": "SingleModel"}})
    refuse_unsupported(
        "CreateModel", {"PrimaryContainer": {"ImageConfig": {"RepositoryAccessMode": "Platform"}}}
    )
    refuse_unsupported("CreateEndpointConfig", {"ProductionVariants": [{"EnableSSMAccess": False}]})
    refuse_unsupported("CreateEndpointConfig", {"TracingConfig": {"EnableTracing": False}})


def test_tracing_is_refused_on_and_kept_off(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path / "state.db")
    try:
        plane.model("m1")
        error = plane.error(
            "CreateEndpointConfig",
            EndpointConfigName="traced",
            ProductionVariants=[VARIANT],
            TracingConfig={"EnableTracing": True, "InitialSamplingPercentage": 5},
        )
        assert isinstance(error, ValidationException)
        assert error.message.startswith(
            "TracingConfig.EnableTracing is not supported by the local SageMaker (dockyard emulator) yet: "
            "inference requests are not traced."
        )
        off = {"EnableTracing": False, "InitialSamplingPercentage": 5}
        plane.call(
            "CreateEndpointConfig",
            EndpointConfigName="untraced",
            ProductionVariants=[VARIANT],
            TracingConfig=off,
        )
        described = plane.call("DescribeEndpointConfig", EndpointConfigName="untraced")
        assert described["TracingConfig"] == off
        assert [c["EndpointConfigName"] for c in plane.call("ListEndpointConfigs")["EndpointConfigs"]] == [
            "untraced"
        ]
    finally:
        plane.store.close()


@pytest.mark.parametrize(
    ("operation", "params", "member"),
    [
        (
            "CreateEndpointConfig",
            {
                "EndpointConfigName": "cfg",
                "ProductionVariants": [VARIANT],
                "DataCaptureConfig": {
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": "s3://bucket/capture",
                    "CaptureOptions": [{"CaptureMode": "Input"}],
                    "KmsKeyId": "alias/capture",
                },
            },
            "DataCaptureConfig.KmsKeyId",
        ),
        (
            "CreateEndpointConfig",
            {
                "EndpointConfigName": "cfg",
                "ProductionVariants": [VARIANT],
                "AsyncInferenceConfig": {
                    "OutputConfig": {
                        "S3OutputPath": "s3://bucket/out",
                        "NotificationConfig": {"SuccessTopic": "arn:aws:sns:us-east-1:123456789012:done"},
                    }
                },
            },
            "AsyncInferenceConfig.OutputConfig.NotificationConfig",
        ),
        (
            "CreateModel",
            {
                "ModelName": "vpc",
                "PrimaryContainer": {"Image": IMAGE, "ImageConfig": {"RepositoryAccessMode": "Vpc"}},
            },
            "PrimaryContainer.ImageConfig.RepositoryAccessMode",
        ),
    ],
)
def test_members_once_dropped_are_refused_over_the_wire(
    tmp_path: Path, operation: str, params: dict[str, Any], member: str
) -> None:
    plane = ControlPlane(tmp_path / "state.db")
    try:
        plane.model("m1")
        error = plane.error(operation, **params)
        assert isinstance(error, ValidationException)
        assert error.message.startswith(
            f"{member} is not supported by the local SageMaker (dockyard emulator)"
        )
        assert plane.call("ListEndpointConfigs")["EndpointConfigs"] == []
        assert [m["ModelName"] for m in plane.call("ListModels")["Models"]] == ["m1"]
    finally:
        plane.store.close()


def test_multi_model_container_needs_an_s3_prefix(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path / "state.db")
    try:
        error = plane.error(
            "CreateModel", ModelName="mme", PrimaryContainer={"Image": IMAGE, "Mode": "MultiModel"}
        )
        assert isinstance(error, ValidationException)
        assert error.message == (
            "A container in MultiModel mode must specify ModelDataUrl: the S3 prefix of its model archives."
        )
        plane.call(
            "CreateModel",
            ModelName="mme",
            PrimaryContainer={"Image": IMAGE, "Mode": "MultiModel", "ModelDataUrl": "s3://bucket/models/"},
        )
        described = plane.call("DescribeModel", ModelName="mme")["PrimaryContainer"]
        assert described["Mode"] == "MultiModel"
        assert described["ModelDataUrl"] == "s3://bucket/models/"
    finally:
        plane.store.close()
