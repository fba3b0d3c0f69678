"""Models and endpoint configs through the provider: round trips, SageMaker's wordings, local limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.emulator.errors import UnknownOperation, ValidationException
from dockyard.emulator.sagemaker.deployment import ContainerSpec
from dockyard.emulator.sagemaker.domain import Model
from tests.emulator.sagemaker.control_plane import CTX, IMAGE, OTHER_REGION, PREFIX, ROLE, ControlPlane


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path / "state.db")
    yield plane
    plane.store.close()


def test_model_round_trip(cp: ControlPlane) -> None:
    container = {
        "Image": IMAGE,
        "ModelDataUrl": "s3://dy-cp/m/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
    }
    created = cp.call(
        "CreateModel",
        ModelName="My-Model",
        PrimaryContainer=container,
        ExecutionRoleArn=ROLE,
        EnableNetworkIsolation=True,
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    arn = f"{PREFIX}:model/my-model"  # SageMaker lower-cases the name in ARNs
    assert created == {"ModelArn": arn}
    described = cp.call("DescribeModel", ModelName="My-Model")
    assert described == {
        "ModelName": "My-Model",
        "ModelArn": arn,
        "CreationTime": cp.clock.now,
        "PrimaryContainer": container,
        "ExecutionRoleArn": ROLE,
        "EnableNetworkIsolation": True,
    }
    assert cp.call("ListTags", ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    # What the fleet runs: the container on the isolated network.
    stored = cp.store.get(Model, CTX.account, CTX.region, "My-Model")
    assert stored is not None
    assert stored.container.network_isolation is True

    cp.call("DeleteModel", ModelName="My-Model")
    assert cp.call("ListModels")["Models"] == []
    assert cp.call("ListTags", ResourceArn=cp.model("My-Model"))["Tags"] == []  # not the old model's


def test_model_errors_use_sagemakers_wording(cp: ControlPlane) -> None:
    cp.model("m1")
    duplicate = cp.error("CreateModel", ModelName="m1", PrimaryContainer={"Image": IMAGE})
    assert isinstance(duplicate, ValidationException)
    assert duplicate.message == f'Cannot create already existing model "{PREFIX}:model/m1".'
    for operation in ("DescribeModel", "DeleteModel"):
        missing = cp.error(operation, ModelName="nope")
        assert isinstance(missing, ValidationException)
        assert missing.message == f'Could not find model "{PREFIX}:model/nope".'
    # Names are case-insensitive, as the ARNs that lower-case them.
    assert cp.error("CreateModel", ModelName="M1", PrimaryContainer={"Image": IMAGE}).message == (
        f'Cannot create already existing model "{PREFIX}:model/m1".'
    )
    assert cp.call("DescribeModel", ModelName="M1")["ModelName"] == "m1"
    assert cp.call("ListTags", ResourceArn=f"{PREFIX}:model/M1")["Tags"] == []
    # Resources belong to their region.
    assert cp.error("DescribeModel", ctx=OTHER_REGION, ModelName="m1").message.startswith(
        "Could not find model"
    )


def test_model_container_forms(cp: ControlPlane) -> None:
    cp.call("CreateModel", ModelName="single", Containers=[{"Image": IMAGE}])
    cp.call(
        "CreateModel",
        ModelName="prefix",
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataSource": {
                "S3DataSource": {
                    "S3Uri": "s3://dy-cp/p/",
                    "S3DataType": "S3Prefix",
                    "CompressionType": "None",
                }
            },
        },
    )
    stored = {name: cp.store.get(Model, CTX.account, CTX.region, name) for name in ("single", "prefix")}
    assert stored["single"] is not None
    assert stored["single"].container == ContainerSpec(IMAGE)
    assert stored["prefix"] is not None
    assert stored["prefix"].container == ContainerSpec(
        IMAGE, model_data_prefix="s3://dy-cp/p/", model_data_compressed=False
    )
    assert cp.call("DescribeModel", ModelName="single")["Containers"] == [{"Image": IMAGE}]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {
                "Containers": [{"Image": IMAGE}, {"Image": IMAGE}],
                "InferenceExecutionConfig": {"Mode": "Direct"},
            },
            "Containers[0] has no ContainerHostname: in Direct mode every container needs one, for "
            "TargetContainerHostname to name it.",
        ),
        (
            {
                "Containers": [
                    {"Image": IMAGE, "ContainerHostname": "a"},
                    {"Image": IMAGE, "ContainerHostname": "a"},
                ]
            },
            "The ContainerHostname of each container of a pipeline must be unique.",
        ),
        (
            {"Containers": [{"Image": IMAGE}] * 16},
            "The model has 16 containers; an inference pipeline has at most 15.",
        ),
        ({}, "Either PrimaryContainer or Containers must be specified."),
        (
            {"PrimaryContainer": {"Image": IMAGE}, "Containers": [{"Image": IMAGE}]},
            "Only one of PrimaryContainer or Containers may be specified.",
        ),
        (
            {"PrimaryContainer": {"ModelDataUrl": "s3://b/k"}},
            "The container definition must specify an Image.",
        ),
    ],
)
def test_model_refusals(cp: ControlPlane, params: dict[str, Any], message: str) -> None:
    error = cp.error("CreateModel", ModelName="m", **params)
    assert isinstance(error, ValidationException)
    assert error.message == message
    assert cp.call("ListModels")["Models"] == []


def test_endpoint_config_keeps_every_variant_member(cp: ControlPlane) -> None:
    cp.model("m1")
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "m1",
        "InitialInstanceCount": 2,
        "InstanceType": "ml.c5.xlarge",
        "InitialVariantWeight": 0.5,
        "VolumeSizeInGB": 30,
        "ModelDataDownloadTimeoutInSeconds": 600,
        "ContainerStartupHealthCheckTimeoutInSeconds": 120,
        "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
    }
    arn = cp.call(
        "CreateEndpointConfig",
        EndpointConfigName="cfg",
        ProductionVariants=[variant],
        Tags=[{"Key": "k", "Value": "v"}],
    )["EndpointConfigArn"]
    assert arn == f"{PREFIX}:endpoint-config/cfg"
    assert cp.call("DescribeEndpointConfig", EndpointConfigName="cfg") == {
        "EndpointConfigName": "cfg",
        "EndpointConfigArn": arn,
        "CreationTime": cp.clock.now,
        "ProductionVariants": [variant],
    }
    cp.call("DeleteEndpointConfig", EndpointConfigName="cfg")
    assert cp.call("ListEndpointConfigs")["EndpointConfigs"] == []


def test_endpoint_config_errors(cp: ControlPlane) -> None:
    cp.config("cfg", cp.model("m1") and "m1")
    incomplete = cp.error(
        "CreateEndpointConfig",
        EndpointConfigName="other",
        ProductionVariants=[{"VariantName": "v", "ModelName": "m1", "InstanceType": "ml.m5.large"}],
    )
    assert incomplete.message == 'Production variant "v" must specify InstanceType and InitialInstanceCount.'
    exists = cp.error(
        "CreateEndpointConfig",
        EndpointConfigName="cfg",
        ProductionVariants=[
            {"VariantName": "v", "ModelName": "m1", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    assert (
        exists.message
        == f'Cannot create already existing endpoint configuration "{PREFIX}:endpoint-config/cfg".'
    )
    for operation in ("DescribeEndpointConfig", "DeleteEndpointConfig"):
        missing = cp.error(operation, EndpointConfigName="nope")
        assert isinstance(missing, ValidationException)
        assert missing.message == f'Could not find endpoint configuration "{PREFIX}:endpoint-config/nope".'


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        (
            [
                {
                    "VariantName": "v",
                    "ModelName": "ghost",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            f'Could not find model "{PREFIX}:model/ghost".',
        ),
        (
            [
                {
                    "VariantName": "v",
                    "ModelName": "m1",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                },
                {
                    "VariantName": "V",
                    "ModelName": "m1",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                },
            ],
            'The variant name "V" is used more than once in the endpoint config; variant names must be '
            "unique within an endpoint config.",
        ),
        (
            [
                {
                    "VariantName": "v",
                    "ModelName": "m1",
                    "ServerlessConfig": {"MemorySizeInMB": 1500, "MaxConcurrency": 1},
                }
            ],
            'ServerlessConfig.MemorySizeInMB of variant "v" is 1500; it must be one of 1024, 2048, 3072, '
            "4096, 5120, 6144.",
        ),
        (
            [
                {
                    "VariantName": "v",
                    "ModelName": "m1",
                    "ServerlessConfig": {
                        "MemorySizeInMB": 2048,
                        "MaxConcurrency": 2,
                        "ProvisionedConcurrency": 3,
                    },
                }
            ],
            'ServerlessConfig.ProvisionedConcurrency of variant "v" is 3; it must be between 1 and '
            "MaxConcurrency (2).",
        ),
        (
            [
                {
                    "VariantName": "v",
                    "ModelName": "m1",
                    "InstanceType": "ml.m5.large",
                    "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2},
                }
            ],
            'Production variant "v" has a ServerlessConfig: it must not specify InstanceType or '
            "InitialInstanceCount.",
        ),
    ],
)
def test_endpoint_config_refusals(cp: ControlPlane, variants: list[dict[str, object]], message: str) -> None:
    cp.model("m1")
    error = cp.error("CreateEndpointConfig", EndpointConfigName="cfg", ProductionVariants=variants)
    assert isinstance(error, ValidationException)
    assert error.message == message
    assert cp.call("ListEndpointConfigs")["EndpointConfigs"] == []


def test_unknown_operation_names_itself_and_the_local_target(cp: ControlPlane) -> None:
    error = cp.error("CreateTrainingJob", **_training_job())
    assert isinstance(error, UnknownOperation)
    assert error.message.startswith(
        "The operation CreateTrainingJob is not supported by the local SageMaker (dockyard emulator)"
    )
    assert "Supported: CreateModel, DescribeModel," in error.message


def _training_job() -> dict[str, Any]:
    return {
        "TrainingJobName": "t",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": IMAGE},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


def test_a_pipeline_is_not_a_serverless_variant(cp: ControlPlane) -> None:
    cp.call("CreateModel", ModelName="pipe", Containers=[{"Image": IMAGE}, {"Image": IMAGE}])
    described = cp.call("DescribeModel", ModelName="pipe")
    assert len(described["Containers"]) == 2
    error = cp.error(
        "CreateEndpointConfig",
        EndpointConfigName="cfg",
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": "pipe",
                "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 1},
            }
        ],
    )
    assert error.message == (
        'Production variant "v": the local SageMaker (dockyard emulator) does not run inference pipelines '
        "(several containers) as serverless variants."
    )
