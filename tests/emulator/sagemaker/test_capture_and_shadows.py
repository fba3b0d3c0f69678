"""DataCaptureConfig and ShadowProductionVariants through the provider: stored, returned by Describe in
SageMaker's shapes (checked against botocore's model by ``ControlPlane.call``), handed to the fleet, and
refused with a message when the local target cannot honour them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.emulator.errors import ValidationException
from dockyard.emulator.route_table import CaptureSettings
from tests.emulator.sagemaker.control_plane import ControlPlane

CAPTURE: dict[str, Any] = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 40,
    "DestinationS3Uri": "s3://bucket/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
}


def variant(name: str, model: str, weight: float = 1.0) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": weight,
    }


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path / "state.db")
    plane.model("m1")
    plane.model("m2")
    yield plane
    plane.store.close()


def test_data_capture_is_stored_deployed_and_described(cp: ControlPlane) -> None:
    cp.call(
        "CreateEndpointConfig",
        EndpointConfigName="cfg",
        ProductionVariants=[variant("AllTraffic", "m1")],
        DataCaptureConfig=CAPTURE,
    )
    assert cp.call("DescribeEndpointConfig", EndpointConfigName="cfg")["DataCaptureConfig"] == CAPTURE
    spec = cp.in_service("ep", "cfg")
    assert spec.capture == CaptureSettings(
        destination="s3://bucket/capture",
        sampling_percentage=40,
        enabled=True,
        capture_input=True,
        capture_output=True,
        csv_content_types=("text/csv",),
        json_content_types=("application/json",),
    )
    assert cp.call("DescribeEndpoint", EndpointName="ep")["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 40,
        "DestinationS3Uri": "s3://bucket/capture",
        "KmsKeyId": "",
    }


def test_data_capture_switched_off_is_described_as_stopped(cp: ControlPlane) -> None:
    off = {**CAPTURE, "EnableCapture": False, "CaptureOptions": [{"CaptureMode": "Output"}]}
    del off["CaptureContentTypeHeader"]
    cp.call(
        "CreateEndpointConfig",
        EndpointConfigName="cfg",
        ProductionVariants=[variant("AllTraffic", "m1")],
        DataCaptureConfig=off,
    )
    spec = cp.in_service("ep", "cfg")
    assert spec.capture is not None
    assert (spec.capture.enabled, spec.capture.capture_input, spec.capture.capture_output) == (
        False,
        False,
        True,
    )
    assert spec.capture.csv_content_types == spec.capture.json_content_types == ()
    summary = cp.call("DescribeEndpoint", EndpointName="ep")["DataCaptureConfig"]
    assert (summary["EnableCapture"], summary["CaptureStatus"]) == (False, "Stopped")


def test_an_endpoint_without_capture_describes_none(cp: ControlPlane) -> None:
    cp.config("plain", "m1")
    cp.in_service("ep", "plain")
    described = cp.call("DescribeEndpoint", EndpointName="ep")
    assert "DataCaptureConfig" not in described
    assert "ShadowProductionVariants" not in described


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"DestinationS3Uri": "https://bucket.s3.amazonaws.com/capture"},
            "DataCaptureConfig.DestinationS3Uri 'https://bucket.s3.amazonaws.com/capture' must be an "
            "s3://bucket[/prefix] URI: the local SageMaker writes captured data to the local S3.",
        ),
        (
            {"KmsKeyId": "alias/capture"},
            "DataCaptureConfig.KmsKeyId is not supported by the local SageMaker (dockyard emulator) yet: "
            "the local S3 does not encrypt captured data with KMS keys; leave it out locally.",
        ),
    ],
)
def test_data_capture_the_local_target_cannot_honour_is_refused(
    cp: ControlPlane, change: dict[str, Any], message: str
) -> None:
    error = cp.error(
        "CreateEndpointConfig",
        EndpointConfigName="cfg",
        ProductionVariants=[variant("AllTraffic", "m1")],
        DataCaptureConfig={**CAPTURE, **change},
    )
    assert isinstance(error, ValidationException)
    assert error.message.startswith(message)
    assert cp.call("ListEndpointConfigs")["EndpointConfigs"] == []


def test_shadow_variants_are_deployed_and_described_apart(cp: ControlPlane) -> None:
    cp.call(
        "CreateEndpointConfig",
        EndpointConfigName="cfg",
        ProductionVariants=[variant("Prod", "m1")],
        ShadowProductionVariants=[variant("Shadow", "m2", 0.25)],
    )
    assert cp.call("DescribeEndpointConfig", EndpointConfigName="cfg")["ShadowProductionVariants"] == [
        variant("Shadow", "m2", 0.25)
    ]
    cp.call("CreateEndpoint", EndpointName="ep", EndpointConfigName="cfg")
    [spec] = cp.fleet.deployed
    assert [(v.name, v.model_name, v.weight, v.shadow) for v in spec.variants] == [
        ("Prod", "m1", 1.0, False),
        ("Shadow", "m2", 0.25, True),
    ]
    creating = cp.call("DescribeEndpoint", EndpointName="ep")
    assert [v["VariantName"] for v in creating["ProductionVariants"]] == ["Prod"]
    assert [v["VariantName"] for v in creating["ShadowProductionVariants"]] == ["Shadow"]
    cp.fleet.succeed()
    described = cp.call("DescribeEndpoint", EndpointName="ep")
    [shadow] = described["ShadowProductionVariants"]
    assert (shadow["CurrentWeight"], shadow["DesiredWeight"], shadow["CurrentInstanceCount"]) == (
        0.25,
        0.25,
        1,
    )
    # An update to a config with a shadow shows it pending, apart from the production variants.
    cp.config("plain", "m1")
    cp.call("UpdateEndpoint", EndpointName="ep", EndpointConfigName="plain")
    cp.fleet.succeed()
    cp.call("UpdateEndpoint", EndpointName="ep", EndpointConfigName="cfg")
    pending = cp.call("DescribeEndpoint", EndpointName="ep")["PendingDeploymentSummary"]
    assert [v["VariantName"] for v in pending["ProductionVariants"]] == ["Prod"]
    assert [v["VariantName"] for v in pending["ShadowProductionVariants"]] == ["Shadow"]


@pytest.mark.parametrize(
    ("production", "shadows", "message"),
    [
        (
            [variant("A", "m1"), variant("B", "m1")],
            [variant("Shadow", "m2")],
            "An endpoint config with ShadowProductionVariants must have exactly one production variant and "
            "one shadow variant.",
        ),
        (
            [variant("Same", "m1")],
            [variant("same", "m2")],
            'The variant name "same" is used more than once in the endpoint config',
        ),
        (
            [variant("Prod", "m1")],
            [variant("Shadow", "missing")],
            "Could not find model",
        ),
    ],
)
def test_shadow_variants_are_checked_like_production_ones(
    cp: ControlPlane, production: list[dict[str, Any]], shadows: list[dict[str, Any]], message: str
) -> None:
    error = cp.error(
        "CreateEndpointConfig",
        EndpointConfigName="cfg",
        ProductionVariants=production,
        ShadowProductionVariants=shadows,
    )
    assert isinstance(error, ValidationException)
    assert message in error.message
