"""Which input members of each implemented operation the local SageMaker honours, and which it refuses.

A member that SageMaker accepts and the emulator would silently drop is the worst kind of difference: the
user learns of it only on AWS. So every member of every implemented operation's input shape is in one
of two lists here: ``HONOURED`` (stored, returned by Describe where SageMaker returns it, and acted on
where it has an effect) or ``REFUSED`` (a ValidationException naming the member). A member in neither
list (one that a newer botocore than the lists were written for sends) is refused too, so nothing is
dropped silently even before it is classified. The check is in
:mod:`dockyard.emulator.sagemaker.member_check`; a test walks botocore's model for such members.

Paths name members as the API does: ``ProductionVariants[].ServerlessConfig``. A structure listed as
honoured with none of its members listed is honoured whole (kept as given and returned). Some members
are honoured for some values and refused for others (``RepositoryAccessMode`` ``Vpc``); they are in
both lists, and the refusal says which values it refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _given(value: Any) -> bool:
    return value is not None and value not in ([], {})


def _true(value: Any) -> bool:
    return value is True


@dataclass(frozen=True)
class Refusal:
    path: str
    why: str  # what the local target lacks, in a clause
    applies: Callable[[Any], bool] = _given


def _equals(wanted: str) -> Callable[[Any], bool]:
    return lambda value: value == wanted


# ---- what each operation honours ------------------------------------------------------------------

_CONTAINER = (
    "ContainerHostname",
    "Image",
    "ImageConfig",
    "ImageConfig.RepositoryAccessMode",
    "Mode",
    "ModelDataUrl",
    "ModelDataSource",
    "ModelDataSource.S3DataSource",
    "ModelDataSource.S3DataSource.S3Uri",
    "ModelDataSource.S3DataSource.S3DataType",
    "ModelDataSource.S3DataSource.CompressionType",
    "ModelDataSource.S3DataSource.ModelAccessConfig",
    "Environment",
    "ModelPackageName",
)
_CONTAINER_REFUSED = (
    Refusal("ImageConfig.RepositoryAuthConfig", "images come from the local Docker engine"),
    Refusal(
        "ImageConfig.RepositoryAccessMode",
        "images come from the local Docker engine, not from a private registry in a VPC ('Vpc')",
        _equals("Vpc"),
    ),
    Refusal("ModelDataSource.S3DataSource.HubAccessConfig", "there is no SageMaker hub locally"),
    Refusal("ModelDataSource.S3DataSource.ManifestS3Uri", "manifest-listed model data is not implemented"),
    Refusal("ModelDataSource.S3DataSource.ETag", "model data ETag pinning is not implemented"),
    Refusal("ModelDataSource.S3DataSource.ManifestEtag", "model data ETag pinning is not implemented"),
    Refusal("AdditionalModelDataSources", "only one model data source is mounted"),
    Refusal("InferenceSpecificationName", "model packages with several inference specifications are not"),
    Refusal("MultiModelConfig", "multi-model endpoints are not implemented"),
    Refusal("ContainerMetricsConfig", "container metrics are not collected"),
)
_VARIANT = (
    "VariantName",
    "ModelName",
    "InitialInstanceCount",
    "InstanceType",
    "InitialVariantWeight",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "VariantInstanceProvisionTimeoutInSeconds",
    "InferenceAmiVersion",
    "RoutingConfig",
    "RoutingConfig.RoutingStrategy",
    "ServerlessConfig",
    "ServerlessConfig.MemorySizeInMB",
    "ServerlessConfig.MaxConcurrency",
    "ServerlessConfig.ProvisionedConcurrency",
)
_VARIANT_REFUSED = (
    Refusal("InstancePools", "instance pools are not implemented"),
    Refusal("AcceleratorType", "Elastic Inference accelerators do not exist locally"),
    Refusal("CoreDumpConfig", "core dumps are not collected"),
    Refusal("EnableSSMAccess", "there is no SSM access to local containers", _true),
    Refusal("ManagedInstanceScaling", "managed instance scaling is not implemented"),
    Refusal(
        "RoutingConfig.RoutingStrategy",
        "requests go to the instance with the fewest outstanding requests ('LEAST_OUTSTANDING_REQUESTS')",
        lambda value: value != "LEAST_OUTSTANDING_REQUESTS",
    ),
    Refusal("RoutingConfig.PrefixAwareRoutingConfig", "prefix-aware routing is not implemented"),
    Refusal("CapacityReservationConfig", "capacity reservations do not exist locally"),
    Refusal("AcceleratorPartitionLayouts", "accelerator partitions do not exist locally"),
)
# DataCaptureConfig: captured requests and answers go to the local S3 (KmsKeyId is refused: the local S3
# has no KMS, and a key SageMaker would use could not be honoured).
_CAPTURE = (
    "EnableCapture",
    "InitialSamplingPercentage",
    "DestinationS3Uri",
    "CaptureOptions",
    "CaptureOptions[].CaptureMode",
    "CaptureContentTypeHeader",
    "CaptureContentTypeHeader.CsvContentTypes",
    "CaptureContentTypeHeader.JsonContentTypes",
)
_LISTING = ("SortBy", "SortOrder", "NextToken", "MaxResults", "NameContains")
_CREATED = ("CreationTimeBefore", "CreationTimeAfter")


def _under(prefix: str, paths: tuple[str, ...]) -> tuple[str, ...]:
    """``prefix`` and its members' paths (a list's items, ``X[]``, are no member of their own)."""
    own = () if prefix.endswith("[]") else (prefix,)
    return (*own, *(f"{prefix}.{path}" for path in paths))


def _refused_under(prefix: str, refusals: tuple[Refusal, ...]) -> tuple[Refusal, ...]:
    return tuple(Refusal(f"{prefix}.{r.path}", r.why, r.applies) for r in refusals)


HONOURED: dict[str, tuple[str, ...]] = {
    "CreateModel": (
        "ModelName",
        "ExecutionRoleArn",
        "Tags",
        *_under("PrimaryContainer", _CONTAINER),
        *_under("Containers[]", _CONTAINER),
        "Containers",
        "EnableNetworkIsolation",
        "InferenceExecutionConfig",
        "InferenceExecutionConfig.Mode",
    ),
    "DescribeModel": ("ModelName",),
    "ListModels": (*_LISTING, *_CREATED),
    "DeleteModel": ("ModelName",),
    "CreateEndpointConfig": (
        "EndpointConfigName",
        "ProductionVariants",
        *_under("ProductionVariants[]", _VARIANT),
        "ShadowProductionVariants",
        *_under("ShadowProductionVariants[]", _VARIANT),
        *_under("DataCaptureConfig", _CAPTURE),
        "Tags",
        "AsyncInferenceConfig",
        "AsyncInferenceConfig.ClientConfig",
        "AsyncInferenceConfig.ClientConfig.MaxConcurrentInvocationsPerInstance",
        "AsyncInferenceConfig.OutputConfig",
        "AsyncInferenceConfig.OutputConfig.S3OutputPath",
        "AsyncInferenceConfig.OutputConfig.S3FailurePath",
        # With tracing off (the only way it is accepted) the rest of it has no effect on SageMaker either.
        "TracingConfig",
        "TracingConfig.EnableTracing",
        "TracingConfig.InitialSamplingPercentage",
        "TracingConfig.LargePayloadDeliveryS3Uri",
        "TracingConfig.KmsKeyId",
    ),
    "DescribeEndpointConfig": ("EndpointConfigName",),
    "ListEndpointConfigs": (*_LISTING, *_CREATED),
    "DeleteEndpointConfig": ("EndpointConfigName",),
    "CreateEndpoint": ("EndpointName", "EndpointConfigName", "Tags"),
    "DescribeEndpoint": ("EndpointName",),
    "ListEndpoints": (
        *_LISTING,
        *_CREATED,
        "LastModifiedTimeBefore",
        "LastModifiedTimeAfter",
        "StatusEquals",
    ),
    "UpdateEndpoint": (
        "EndpointName",
        "EndpointConfigName",
        "RetainAllVariantProperties",
        "ExcludeRetainedVariantProperties",
        "RetainDeploymentConfig",
    ),
    "UpdateEndpointWeightsAndCapacities": (
        "EndpointName",
        "DesiredWeightsAndCapacities",
        "DesiredWeightsAndCapacities[].VariantName",
        "DesiredWeightsAndCapacities[].DesiredWeight",
        "DesiredWeightsAndCapacities[].DesiredInstanceCount",
    ),
    "DeleteEndpoint": ("EndpointName",),
    "CreateModelPackageGroup": ("ModelPackageGroupName", "ModelPackageGroupDescription", "Tags"),
    "DescribeModelPackageGroup": ("ModelPackageGroupName",),
    "ListModelPackageGroups": (*_LISTING, *_CREATED),
    "DeleteModelPackageGroup": ("ModelPackageGroupName",),
    # A package version is a record: what it describes is kept as given and returned by Describe; the
    # inference specification's first container is what a model made from the package runs.
    "CreateModelPackage": (
        "ModelPackageName",
        "ModelPackageGroupName",
        "ModelPackageDescription",
        "ModelPackageRegistrationType",
        "InferenceSpecification",
        "CertifyForMarketplace",
        "Tags",
        "ModelApprovalStatus",
        "MetadataProperties",
        "ModelMetrics",
        "ClientToken",
        "Domain",
        "Task",
        "SamplePayloadUrl",
        "CustomerMetadataProperties",
        "DriftCheckBaselines",
        "AdditionalInferenceSpecifications",
        "SkipModelValidation",
        "SourceUri",
        "ModelCard",
        "ModelLifeCycle",
    ),
    "DescribeModelPackage": ("ModelPackageName",),
    "ListModelPackages": (
        *_LISTING,
        *_CREATED,
        "ModelApprovalStatus",
        "ModelPackageGroupName",
        "ModelPackageType",
    ),
    "UpdateModelPackage": (
        "ModelPackageArn",
        "ModelApprovalStatus",
        "ModelPackageRegistrationType",
        "ApprovalDescription",
        "CustomerMetadataProperties",
        "CustomerMetadataPropertiesToRemove",
        "AdditionalInferenceSpecificationsToAdd",
        "InferenceSpecification",
        "SourceUri",
        "ModelCard",
        "ModelLifeCycle",
        "ClientToken",
    ),
    "DeleteModelPackage": ("ModelPackageName",),
    "AddTags": ("ResourceArn", "Tags"),
    "ListTags": ("ResourceArn", "NextToken", "MaxResults"),
    "DeleteTags": ("ResourceArn", "TagKeys"),
    "CreateTransformJob": (
        "TransformJobName",
        "ModelName",
        "MaxConcurrentTransforms",
        "ModelClientConfig",
        "ModelClientConfig.InvocationsTimeoutInSeconds",
        "ModelClientConfig.InvocationsMaxRetries",
        "MaxPayloadInMB",
        "BatchStrategy",
        "Environment",
        "TransformInput",
        "TransformInput.DataSource",
        "TransformInput.DataSource.S3DataSource",
        "TransformInput.DataSource.S3DataSource.S3DataType",
        "TransformInput.DataSource.S3DataSource.S3Uri",
        "TransformInput.ContentType",
        "TransformInput.CompressionType",
        "TransformInput.SplitType",
        "TransformOutput",
        "TransformOutput.S3OutputPath",
        "TransformOutput.Accept",
        "TransformOutput.AssembleWith",
        "TransformResources",
        "TransformResources.InstanceType",
        "TransformResources.InstanceCount",
        "TransformResources.TransformAmiVersion",
        "DataProcessing",
        "DataProcessing.InputFilter",
        "DataProcessing.OutputFilter",
        "DataProcessing.JoinSource",
        "Tags",
    ),
    "DescribeTransformJob": ("TransformJobName",),
    "ListTransformJobs": (
        *_LISTING,
        *_CREATED,
        "LastModifiedTimeBefore",
        "LastModifiedTimeAfter",
        "StatusEquals",
    ),
    "StopTransformJob": ("TransformJobName",),
}

REFUSED: dict[str, tuple[Refusal, ...]] = {
    "CreateModel": (
        *_refused_under("PrimaryContainer", _CONTAINER_REFUSED),
        *_refused_under("Containers[]", _CONTAINER_REFUSED),
        Refusal("VpcConfig", "local containers run on the local Docker engine, not in a VPC"),
    ),
    "CreateEndpointConfig": (
        *_refused_under("ProductionVariants[]", _VARIANT_REFUSED),
        *_refused_under("ShadowProductionVariants[]", _VARIANT_REFUSED),
        Refusal(
            "DataCaptureConfig.KmsKeyId",
            "the local S3 does not encrypt captured data with KMS keys; leave it out locally",
        ),
        Refusal("KmsKeyId", "the local storage is not encrypted with KMS keys"),
        Refusal(
            "AsyncInferenceConfig.OutputConfig.KmsKeyId", "the local storage is not encrypted with KMS keys"
        ),
        Refusal(
            "AsyncInferenceConfig.OutputConfig.NotificationConfig",
            "there is no SNS locally to publish success and error notifications to; poll the OutputLocation "
            "and FailureLocation objects instead",
        ),
        Refusal("ExplainerConfig", "SageMaker Clarify explainers are not implemented"),
        Refusal("ExecutionRoleArn", "endpoint-config execution roles are not used locally"),
        Refusal("VpcConfig", "local containers run on the local Docker engine, not in a VPC"),
        Refusal("EnableNetworkIsolation", "isolation is set on the model (CreateModel)", _true),
        Refusal("MetricsConfig", "endpoint metrics are not published"),
        Refusal("CrossRegionTrafficConfig", "there is one local region per request signature"),
        Refusal("TracingConfig.EnableTracing", "inference requests are not traced", _true),
    ),
    "CreateEndpoint": (
        Refusal("DeploymentConfig", "updates are always blue/green all at once, with no rollback alarms"),
    ),
    "UpdateEndpoint": (
        Refusal("DeploymentConfig", "updates are always blue/green all at once, with no rollback alarms"),
    ),
    "UpdateEndpointWeightsAndCapacities": (
        Refusal(
            "DesiredWeightsAndCapacities[].ServerlessUpdateConfig", "serverless variants are not implemented"
        ),
    ),
    "CreateModelPackageGroup": (
        Refusal("ManagedConfiguration", "managed model registries are not implemented"),
    ),
    "ListModelPackageGroups": (
        Refusal("CrossAccountFilterOption", "there is no resource sharing between local accounts"),
    ),
    "CreateModelPackage": (
        Refusal("ValidationSpecification", "model package validation jobs are not run"),
        Refusal("SourceAlgorithmSpecification", "algorithm resources are not implemented"),
        Refusal("SecurityConfig", "the local storage is not encrypted with KMS keys"),
        Refusal("ManagedStorageType", "managed model storage is not implemented"),
    ),
    "DescribeModelPackage": (Refusal("IncludedData", "every package is described whole"),),
    "CreateTransformJob": (
        Refusal(
            "ModelClientConfig.InvocationsMaxRetries",
            "a failed request fails the job at once (no retries)",
            lambda value: value not in (None, 0),
        ),
        Refusal(
            "TransformInput.DataSource.S3DataSource.S3DataType",
            "the input is every object under an S3 prefix ('S3Prefix')",
            lambda value: value != "S3Prefix",
        ),
        Refusal(
            "TransformInput.SplitType",
            "records are split by line ('Line') or not at all ('None')",
            lambda value: value not in ("None", "Line"),
        ),
        Refusal("TransformOutput.KmsKeyId", "the local storage is not encrypted with KMS keys"),
        Refusal("TransformResources.VolumeKmsKeyId", "the local storage is not encrypted with KMS keys"),
        Refusal("DataCaptureConfig", "batch transform data capture is not implemented"),
        Refusal("ExperimentConfig", "SageMaker Experiments are not implemented"),
    ),
}
