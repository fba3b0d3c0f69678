"""register and deploy on the aws target, against moto in server mode: the exact calls and arguments."""

from __future__ import annotations

import hashlib
import re

import boto3
import pytest

from dockyard.archive import pack
from dockyard.errors import UsageError
from dockyard.lifecycle.calls import AwsError
from dockyard.lifecycle.deploy import deploy
from dockyard.lifecycle.register import approve_package, register
from dockyard.lifecycle.target import Target
from dockyard.registry.push import LayerProgress
from tests.aws_fixtures import ECR_PASSWORD, ECR_USERNAME, MOTO_ACCOUNT, REGION
from tests.lifecycle.conftest import ROLE, Image, Project, Recorder
from tests.push_images import manifest_digest

BUCKET = f"dockyard-{MOTO_ACCOUNT}-{REGION}"
ECR_HOST = f"{MOTO_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


def _sagemaker(url: str) -> object:
    return boto3.client("sagemaker", endpoint_url=url, region_name=REGION)


@pytest.mark.docker
def test_register_uploads_pushes_and_creates_the_model_once(
    aws_target: Target,
    recorder: Recorder,
    project: Project,
    deploy_image: Image,
    ecr_registry: str,
    tmp_path: object,
) -> None:
    uploads: list[tuple[int, int]] = []
    pushes: list[LayerProgress] = []
    result = register(
        project.root,
        image=deploy_image.tag,
        target=aws_target,
        on_upload=lambda sent, total: uploads.append((sent, total)),
        on_push=pushes.append,
    )

    short = deploy_image.id.removeprefix("sha256:")[:12]
    archive = pack(project.root / "model", tmp_path / "expected.tar.gz")  # type: ignore[operator]
    key = f"dockyard/{project.name}/{archive.sha256[:16]}/model.tar.gz"
    assert result.created is True
    assert result.image == f"{ECR_HOST}/{project.name}:{short}"
    assert result.model_data_url == f"s3://{BUCKET}/{key}"
    # Progress: the upload's byte counts end at the archive's size; the push reports per layer.
    assert uploads, "no upload progress"
    assert uploads[-1] == (archive.size, archive.size)
    assert all(0 <= sent <= total == archive.size for sent, total in uploads)
    assert pushes, "no push progress"
    assert {event.layer for event in pushes} == {event.layer for event in pushes if event.done}
    assert result.model_name is not None
    assert result.model_name.startswith(f"{project.name}-")

    mutations = recorder.operations(mutating_only=True)
    # The bucket may exist from another test of this session; the rest is exact. ECR's calls go
    # through the same recorded session as the others.
    assert mutations[-3:] == ["s3.PutObject", "ecr.CreateRepository", "sagemaker.CreateModel"]
    assert set(mutations[:-3]) <= {"s3.CreateBucket", "s3.PutPublicAccessBlock"}
    assert [call.operation for call in result.calls if call.service == "ecr"] == [
        "DescribeRepositories",
        "CreateRepository",
        "GetAuthorizationToken",
    ]
    assert recorder.params("CreateModel") == {
        "ModelName": result.model_name,
        "PrimaryContainer": {
            "Image": result.image,
            "ModelDataUrl": result.model_data_url,
            "Environment": {"LOG_LEVEL": "debug"},
        },
        "ExecutionRoleArn": ROLE,
        "Tags": [{"Key": "created-by", "Value": "dockyard"}],
    }

    # What moto holds: the model as created, the archive's exact bytes; the registry holds the image.
    url = aws_target.endpoint_url
    sagemaker = boto3.client("sagemaker", endpoint_url=url, region_name=REGION)
    described = sagemaker.describe_model(ModelName=result.model_name)
    assert described["PrimaryContainer"]["Image"] == result.image
    assert described["ExecutionRoleArn"] == ROLE
    s3 = boto3.client("s3", endpoint_url=url, region_name=REGION)
    stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == archive.sha256
    auth = (ECR_USERNAME, ECR_PASSWORD)
    assert manifest_digest(ecr_registry, project.name, short, auth=auth) is not None

    # Nothing changed: the model is found, and nothing is uploaded, pushed or created.
    recorder.clear()
    again = register(project.root, image=deploy_image.tag, target=aws_target)
    assert (again.created, again.model_name) == (False, result.model_name)
    assert recorder.operations(mutating_only=True) == []
    assert recorder.operations() == ["sts.GetCallerIdentity", "sagemaker.DescribeModel"]


@pytest.mark.docker
def test_deploy_creates_is_then_up_to_date_and_updates_on_a_change(
    aws_target: Target, recorder: Recorder, project: Project, deploy_image: Image
) -> None:
    states: list[str] = []
    first = deploy(
        project.root, image=deploy_image.tag, target=aws_target, on_status=lambda s: states.append(s.line())
    )
    assert (first.action, first.status) == ("created", "InService")
    assert first.endpoint_name == project.name
    assert recorder.params("CreateEndpointConfig") == {
        "EndpointConfigName": first.config_name,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": first.models[0],
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
        ],
        "Tags": [{"Key": "created-by", "Value": "dockyard"}],
    }
    assert recorder.params("CreateEndpoint") == {
        "EndpointName": project.name,
        "EndpointConfigName": first.config_name,
        "Tags": [{"Key": "created-by", "Value": "dockyard"}],
    }
    assert states[-1].startswith(f"{project.name}: InService")
    # The smoke test sent the project's sample (moto answers every invocation with a fixed body).
    assert first.smoke is not None
    assert first.smoke.body == b"body"
    invoked = recorder.params("InvokeEndpoint")
    assert (invoked["Body"], invoked["ContentType"]) == (b'{"instances": [[1, 2, 3, 4]]}', "application/json")

    recorder.clear()
    second = deploy(project.root, image=deploy_image.tag, target=aws_target, smoke_test=False)
    assert (second.action, second.config_name) == ("up to date", first.config_name)
    assert recorder.operations(mutating_only=True) == []

    # Two instances: a new config, and UpdateEndpoint (which moto does not implement: it answers 500).
    recorder.clear()
    with pytest.raises(AwsError) as caught:
        deploy(project.root, image=deploy_image.tag, target=aws_target, instance_count=2)
    assert caught.value.message == "SageMaker refused UpdateEndpoint: 500: HTTP 500"
    assert recorder.operations(mutating_only=True) == [
        "sagemaker.CreateEndpointConfig",
        "sagemaker.UpdateEndpoint",
    ]
    new_config = recorder.params("CreateEndpointConfig")
    assert new_config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert recorder.params("UpdateEndpoint") == {
        "EndpointName": project.name,
        "EndpointConfigName": new_config["EndpointConfigName"],
    }


@pytest.mark.docker
def test_dry_run_makes_no_call_that_changes_anything(
    aws_target: Target, recorder: Recorder, project: Project, deploy_image: Image
) -> None:
    result = deploy(
        project.root, image=deploy_image.tag, target=aws_target, bucket=f"{project.name}-data", dry_run=True
    )
    assert recorder.operations(mutating_only=True) == []
    planned = [(call.service, call.operation) for call in result.calls if not call.sent]
    assert planned == [
        ("s3", "CreateBucket"),
        ("s3", "PutPublicAccessBlock"),
        ("s3", "PutObject"),
        ("ecr", "CreateRepository"),
        ("sagemaker", "CreateModel"),
        ("sagemaker", "CreateEndpointConfig"),
        ("sagemaker", "CreateEndpoint"),
    ]
    assert (result.action, result.status) == ("created", None)
    assert result.notes == [f"push {deploy_image.tag} as {ECR_HOST}/{project.name}:{deploy_image.id[7:19]}"]
    # The repository's existence was asked (a read: sent); its creation is held back.
    assert ("ecr", "DescribeRepositories", True) in [(c.service, c.operation, c.sent) for c in result.calls]
    sagemaker = boto3.client("sagemaker", endpoint_url=aws_target.endpoint_url, region_name=REGION)
    endpoints = [e["EndpointName"] for e in sagemaker.list_endpoints(MaxResults=100)["Endpoints"]]
    models = [m["ModelName"] for m in sagemaker.list_models(MaxResults=100)["Models"]]
    assert [name for name in [*endpoints, *models] if name.startswith(project.name)] == []
    s3 = boto3.client("s3", endpoint_url=aws_target.endpoint_url, region_name=REGION)
    assert f"{project.name}-data" not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]


def test_aws_without_a_role_says_how_to_give_one(aws_env: str, project: Project) -> None:
    with pytest.raises(UsageError) as caught:
        register(project.root, image="unused", target="aws")
    assert caught.value.message == (
        "--target aws needs an execution role for SageMaker to pull the image and the model data: pass "
        "--role arn:aws:iam::<account>:role/<name> or set DOCKYARD_ROLE_ARN"
    )


@pytest.mark.docker
def test_model_registry_register_approve_deploy(
    aws_target: Target, recorder: Recorder, project: Project, deploy_image: Image
) -> None:
    group = f"{project.name}-group"
    registered = register(project.root, image=deploy_image.tag, package_group=group, target=aws_target)
    assert registered.created is True
    assert registered.package_arn is not None
    assert recorder.params("CreateModelPackageGroup")["ModelPackageGroupName"] == group
    created = recorder.params("CreateModelPackage")
    assert re.fullmatch(r"[0-9a-f-]{36}", created.pop("ClientToken"))  # botocore's idempotency token
    assert created == {
        "ModelPackageGroupName": group,
        "ModelPackageDescription": f"{project.name} {deploy_image.id[7:19]}",
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": registered.image,
                    "ModelDataUrl": registered.model_data_url,
                    "Environment": {"LOG_LEVEL": "debug"},
                }
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
        },
        "ModelApprovalStatus": "PendingManualApproval",
    }

    approved = approve_package(f"{group}/1", target=aws_target)
    assert approved.package_arn == registered.package_arn
    sagemaker = boto3.client("sagemaker", endpoint_url=aws_target.endpoint_url, region_name=REGION)
    assert (
        sagemaker.describe_model_package(ModelPackageName=approved.package_arn)["ModelApprovalStatus"]
        == "Approved"
    )

    recorder.clear()
    deployed = deploy(project.root, model_package=f"{group}/1", target=aws_target, smoke_test=False)
    assert recorder.params("CreateModel") == {
        "ModelName": deployed.models[0],
        "PrimaryContainer": {"ModelPackageName": registered.package_arn},
        "ExecutionRoleArn": ROLE,
        "Tags": [{"Key": "created-by", "Value": "dockyard"}],
    }
    assert deployed.status == "InService"

    with pytest.raises(UsageError) as caught:
        approve_package(f"{group}/7", target=aws_target)
    assert caught.value.message == f"the model package group {group} has no version 7"
