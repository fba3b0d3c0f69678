"""Validation as SageMaker words it, through parse() with raw bodies (what a client with
parameter_validation=False can send) and through validate() directly."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from botocore.model import Shape

from dockyard.emulator.aws import json_values
from dockyard.emulator.aws.json_protocol import JsonProtocol
from dockyard.emulator.aws.patterns import compile_pattern
from dockyard.emulator.aws.rest_json import RestJsonProtocol
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.aws.validate import validate
from dockyard.emulator.errors import (
    SerializationException,
    UnknownOperation,
    ValidationError,
    ValidationException,
)

CONTROL = JsonProtocol()
RUNTIME = RestJsonProtocol()
NAME = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


def _control_error(operation: str, body: str) -> str:
    with pytest.raises(ValidationException) as caught:
        CONTROL.parse(f"SageMaker.{operation}", body.encode())
    return caught.value.message


def test_pattern_failure_names_the_camel_case_member() -> None:
    assert _control_error("DescribeEndpoint", '{"EndpointName": "bad name!"}') == (
        "1 validation error detected: Value 'bad name!' at 'endpointName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME}"
    )


def test_missing_required_members_are_null() -> None:
    assert _control_error("CreateEndpoint", "{}") == (
        "2 validation errors detected: "
        "Value null at 'endpointName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'endpointConfigName' failed to satisfy constraint: Member must not be null"
    )


def test_length_and_pattern_of_one_member_are_two_errors() -> None:
    name = "a" * 63 + "_"
    assert _control_error("DeleteEndpoint", f'{{"EndpointName": "{name}"}}') == (
        f"2 validation errors detected: Value '{name}' at 'endpointName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63; "
        f"Value '{name}' at 'endpointName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME}"
    )


def test_nested_list_paths_enum_and_range() -> None:
    body = """{"EndpointConfigName": "cfg", "ProductionVariants": [
        {"VariantName": "ok", "ModelName": "m"},
        {"VariantName": "x y", "ModelName": "m", "InitialInstanceCount": 0,
         "RoutingConfig": {"RoutingStrategy": "FASTEST"}}]}"""
    strategies = service_model("sagemaker").shape_for("RoutingStrategy").metadata["enum"]
    assert strategies[:2] == ["LEAST_OUTSTANDING_REQUESTS", "RANDOM"]
    assert _control_error("CreateEndpointConfig", body) == (
        "3 validation errors detected: "
        "Value 'x y' at 'productionVariants.2.member.variantName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME}; "
        "Value '0' at 'productionVariants.2.member.initialInstanceCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1; "
        "Value 'FASTEST' at 'productionVariants.2.member.routingConfig.routingStrategy' failed to "
        "satisfy constraint: Member must satisfy enum value set: "
        f"[{', '.join(strategies)}]"
    )


def test_list_length_and_scalar_list_items() -> None:
    assert _control_error(
        "CreateEndpointConfig", '{"EndpointConfigName": "c", "ProductionVariants": []}'
    ) == (
        "1 validation error detected: Value '[]' at 'productionVariants' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    long_key = "k" * 129
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/m"
    body = f'{{"ResourceArn": "{arn}", "TagKeys": ["ok", "{long_key}"]}}'
    assert _control_error("DeleteTags", body) == (
        f"1 validation error detected: Value '[ok, {long_key}]' at 'tagKeys' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 128]"
    )


def test_map_values_types_and_unknown_members() -> None:
    value = "v" * 1025
    body = f"""{{"ModelName": "m", "EnableNetworkIsolation": "yes", "Surprise": 1,
        "PrimaryContainer": {{"Environment": {{"A": "{value}"}}}}}}"""
    assert _control_error("CreateModel", body) == (
        "3 validation errors detected: "
        f"Value '{{A={value[:253]}...' at 'primaryContainer.environment' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 1024]; "
        "Value 'yes' at 'enableNetworkIsolation' failed to satisfy constraint: "
        "Member must be of type boolean; "
        "Value '1' at 'surprise' failed to satisfy constraint: Member is not part of the input"
    )


def test_tag_values_use_java_unicode_classes() -> None:
    shape = service_model("sagemaker").operation_model("AddTags").input_shape
    assert shape is not None
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/m"
    validate(shape, {"ResourceArn": arn, "Tags": [{"Key": "équipe", "Value": "données 1/2"}]})
    with pytest.raises(ValidationException) as caught:
        validate(shape, {"ResourceArn": arn, "Tags": [{"Key": "k", "Value": "a;b"}]})
    assert caught.value.message == (
        "1 validation error detected: Value 'a;b' at 'tags.1.member.value' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: ([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"
    )


def test_timestamps_accept_epoch_and_iso_and_refuse_garbage() -> None:
    _, params = CONTROL.parse("SageMaker.ListModels", b'{"CreationTimeAfter": 1700000000.5}')
    assert params["CreationTimeAfter"] == dt.datetime.fromtimestamp(1700000000.5, dt.UTC)
    _, params = CONTROL.parse("SageMaker.ListModels", b'{"CreationTimeAfter": "2024-01-02T03:04:05Z"}')
    assert params["CreationTimeAfter"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with pytest.raises(SerializationException) as caught:
        CONTROL.parse("SageMaker.ListModels", b'{"CreationTimeAfter": "last tuesday"}')
    assert caught.value.message == "Timestamp expected, got 'last tuesday'"


def test_bad_json_and_unknown_targets() -> None:
    with pytest.raises(SerializationException) as bad:
        CONTROL.parse("SageMaker.ListModels", b"{not json")
    assert bad.value.message.startswith("The request body is not valid JSON: ")
    with pytest.raises(SerializationException) as not_object:
        CONTROL.parse("SageMaker.ListModels", b"[1]")
    assert not_object.value.message == "The request body must be a JSON object"
    for target, message in [
        (None, "Missing X-Amz-Target header; expected SageMaker.<Operation>"),
        ("SageMaker.MakeCoffee", "Unknown operation SageMaker.MakeCoffee"),
        ("Other.ListModels", "Unknown operation Other.ListModels"),
    ]:
        with pytest.raises(UnknownOperation) as unknown:
            CONTROL.parse(target, b"{}")
        assert unknown.value.message == message
    assert CONTROL.parse("SageMaker.ListModels", b"") == ("ListModels", {})


def test_runtime_validation_is_the_runtime_error_code() -> None:
    with pytest.raises(ValidationError) as caught:
        RUNTIME.parse(
            "InvokeEndpoint",
            {"EndpointName": "bad_name"},
            {"x-amzn-sagemaker-inference-id": "i" * 65, "x-amzn-sagemaker-custom-attributes": "é"},
            b"{}",
        )
    assert caught.value.message == (
        "3 validation errors detected: "
        "Value 'bad_name' at 'endpointName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*; "
        # CustomAttributes is sensitive: AWS leaves its value out of the message.
        "Value at 'customAttributes' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: \p{ASCII}*; "
        f"Value '{'i' * 65}' at 'inferenceId' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )


def test_runtime_header_types_are_checked() -> None:
    with pytest.raises(ValidationError) as caught:
        RUNTIME.parse(
            "InvokeEndpointAsync",
            {"EndpointName": "e"},
            {"x-amzn-sagemaker-inputlocation": "s3://b/k", "x-amzn-sagemaker-requestttlseconds": "soon"},
            b"",
        )
    assert caught.value.message == (
        "1 validation error detected: Value 'soon' at 'requestTTLSeconds' failed to satisfy constraint: "
        "Member must be of type integer"
    )
    params = RUNTIME.parse(
        "InvokeEndpointAsync",
        {"EndpointName": "e"},
        {"x-amzn-sagemaker-inputlocation": "s3://b/k", "x-amzn-sagemaker-requestttlseconds": "60"},
        b"",
    )
    assert params["RequestTTLSeconds"] == 60


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (r"\A\S[\p{Print}]*\z", "model-a.tar.gz", "x\n"),
        (r"\p{ASCII}*", "text/csv; q=1", "tëxt"),
        (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)${1,128}", "Ünïcode 42", "semi;colon"),
        (r"[]a]+", "a]a", "b"),
    ],
)
def test_java_patterns_translate(pattern: str, good: str, bad: str) -> None:
    compiled = compile_pattern(pattern)
    assert compiled.fullmatch(good)
    assert not compiled.fullmatch(bad)


def test_unsupported_java_property_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape(r"unsupported character property \p{IsGreek}")):
        compile_pattern(r"\p{IsGreek}+")


def test_structure_and_list_item_shapes_are_checked() -> None:
    variants = '[null, {"VariantName": "v"}]'
    body = f'{{"EndpointConfigName": "c", "ProductionVariants": {variants}, "DataCaptureConfig": 3}}'
    assert _control_error("CreateEndpointConfig", body) == (
        "2 validation errors detected: "
        "Value null at 'productionVariants.1.member' failed to satisfy constraint: Member must not be null; "
        "Value '3' at 'dataCaptureConfig' failed to satisfy constraint: Member must be a structure"
    )


def test_blob_members_must_be_base64() -> None:
    blob = Shape("Blob", {"type": "blob"})
    assert json_values.decode(blob, "aGk=") == b"hi"
    with pytest.raises(SerializationException) as caught:
        json_values.decode(blob, "not base64!")
    assert caught.value.message == "Base64 encoded value expected for Blob"


def test_rest_json_bodies_are_decoded_and_garbage_refused() -> None:
    # The runtime sends raw payloads only; a rest-json service with a JSON body exercises the rest.
    a2i = RestJsonProtocol("sagemaker-a2i-runtime")
    assert a2i.match("POST", "/human-loops") == ("StartHumanLoop", {})
    arn = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f"
    body = (
        f'{{"HumanLoopName": "h", "FlowDefinitionArn": "{arn}", "HumanLoopInput": {{"InputContent": "x"}}}}'
    )
    params = a2i.parse("StartHumanLoop", {}, {}, body.encode())
    assert params["HumanLoopInput"] == {"InputContent": "x"}
    with pytest.raises(ValidationError) as caught:
        a2i.parse("StartHumanLoop", {}, {}, b"{oops")
    assert caught.value.message.startswith("The request body is not valid JSON: ")


def test_negated_property_inside_a_class_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape(r"unsupported negated property inside a class: [\P{L}]")):
        compile_pattern(r"[\P{L}]")


def test_model_data_may_be_a_local_file_url() -> None:
    """The local target's documented deviation: file:/// model data besides s3:// and https://."""
    shape = service_model("sagemaker").operation_model("CreateModel").input_shape
    container = {"Image": "x", "ModelDataUrl": "file:///tmp/model.tar.gz"}
    validate(shape, {"ModelName": "m", "PrimaryContainer": container})
    with pytest.raises(ValidationException, match=r"at 'primaryContainer\.modelDataUrl' failed to satisfy"):
        validate(shape, {"ModelName": "m", "PrimaryContainer": {**container, "ModelDataUrl": "ftp://x/y"}})


def test_a_huge_value_is_echoed_cut_to_a_bounded_message() -> None:
    value = "x" * 10_000_000
    message = _control_error("DescribeEndpoint", f'{{"EndpointName": "{value}"}}')
    shown = "x" * 256 + "..."
    assert message == (
        f"2 validation errors detected: Value '{shown}' at 'endpointName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63; "
        f"Value '{shown}' at 'endpointName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME}"
    )


def test_huge_unknown_member_names_and_many_errors_stay_bounded() -> None:
    surprise = "k" * 100_000
    many = ", ".join(f'{{"Key": "", "Value": "{"v" * 300}"}}' for _ in range(50))
    message = _control_error("CreateModel", f'{{"ModelName": "m", "Tags": [{many}]}}')
    assert len(message) < 20_000
    assert message.startswith("100 validation errors detected: ")
    assert message.endswith("; (and 50 more)")
    assert _control_error("DescribeModel", f'{{"ModelName": "m", "{surprise}": 1}}') == (
        f"1 validation error detected: Value '1' at '{surprise[:256]}...' failed to satisfy constraint: "
        "Member is not part of the input"
    )
