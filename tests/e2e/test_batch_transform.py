"""Batch transform end to end: unmodified boto3 against a real emulator process, the model's real
container, input and output objects in the emulator's S3, boto3's transform_job_completed_or_stopped
waiter."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError, WaiterError

from dockyard.archive import pack
from tests.aws_fixtures import FAKE_KEY, REGION
from tests.emulator_fixtures import EmulatorProcess, own_emulator
from tests.fixture_images import build_fixture_image, remove_fixture_images, write_model

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WAIT = {"Delay": 1, "MaxAttempts": 180}
ROLE = "arn:aws:iam::123456789012:role/dockyard-test"
BUCKET = "batch-bucket"


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    yield build_fixture_image(docker_client, base_image, "dockyard")
    remove_fixture_images(docker_client)


@pytest.fixture(scope="module")
def local(
    tmp_path_factory: pytest.TempPathFactory, moto_server: str, image: str
) -> Iterator[EmulatorProcess]:
    root = tmp_path_factory.mktemp("batch")
    with own_emulator(root, moto_server) as process:
        archive = root / "model.tar.gz"
        pack(write_model(root / "model"), archive)
        process.client("s3").create_bucket(Bucket=BUCKET)
        process.client("sagemaker").create_model(
            ModelName="batch-m",
            PrimaryContainer={"Image": image, "ModelDataUrl": archive.as_uri()},
            ExecutionRoleArn=ROLE,
        )
        yield process


def transform(sm: Any, name: str, prefix: str, **extra: Any) -> dict[str, Any]:
    transform_input = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}},
        "ContentType": "text/csv",
        "SplitType": "Line",
        **extra.pop("TransformInput", {}),
    }
    sm.create_transform_job(
        TransformJobName=name,
        ModelName="batch-m",
        TransformInput=transform_input,
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}", **extra.pop("TransformOutput", {})},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **extra,
    )
    with contextlib.suppress(WaiterError):  # a Failed job: the test reads why
        sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName=name, WaiterConfig=WAIT)
    described: dict[str, Any] = sm.describe_transform_job(TransformJobName=name)
    return described


def read(s3: Any, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_every_object_under_the_prefix_is_transformed(local: EmulatorProcess) -> None:
    sm, s3 = local.client("sagemaker"), local.client("s3")
    s3.put_object(Bucket=BUCKET, Key="in/a.csv", Body=b"1,2,3,4\n1,1,1,1\n0,0,0,1\n")
    s3.put_object(Bucket=BUCKET, Key="in/part/b.csv", Body=b"2,2,2,2\n")
    described = transform(
        sm,
        "bt-multi",
        "in/",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
        Environment={"EXTRA": "1"},
        TransformOutput={"AssembleWith": "Line", "Accept": "text/csv"},
    )
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["BatchStrategy"] == "MultiRecord"
    assert described["TransformOutput"]["AssembleWith"] == "Line"
    assert described["TransformEndTime"] >= described["TransformStartTime"]
    assert read(s3, "out/bt-multi/a.csv.out") == b"30.0\n10.0\n4.0\n"
    assert read(s3, "out/bt-multi/part/b.csv.out") == b"20.0\n"

    # SingleRecord, the container's own execution parameters, AssembleWith None: answers as they came.
    single = transform(sm, "bt-single", "in/a.csv")
    assert single["TransformJobStatus"] == "Completed", single.get("FailureReason")
    assert read(s3, "out/bt-single/a.csv.out") == b"30.0\n10.0\n4.0\n"

    listed = sm.list_transform_jobs(SortBy="Name", SortOrder="Ascending", StatusEquals="Completed")
    assert [job["TransformJobName"] for job in listed["TransformJobSummaries"]] == ["bt-multi", "bt-single"]


def test_data_processing_filters_and_joins(local: EmulatorProcess) -> None:
    sm, s3 = local.client("sagemaker"), local.client("s3")
    s3.put_object(Bucket=BUCKET, Key="ids/rows.csv", Body=b"7,1,2,3,4\n8,1,1,1,1\n")
    described = transform(
        sm,
        "bt-join",
        "ids/",
        BatchStrategy="MultiRecord",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
        TransformOutput={"AssembleWith": "Line"},
    )
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["DataProcessing"]["JoinSource"] == "Input"
    assert read(s3, "out/bt-join/rows.csv.out") == b"7,30.0\n8,10.0\n"


def test_a_failing_record_fails_the_job_with_the_containers_error(local: EmulatorProcess) -> None:
    sm, s3 = local.client("sagemaker"), local.client("s3")
    s3.put_object(Bucket=BUCKET, Key="bad/rows.csv", Body=b"1,2,3,4\n1,2\n")
    described = transform(sm, "bt-bad", "bad/")
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        'ClientError: the model answered 500 to a request: {"error":"ValueError","message":"zip() argument 2 '
        'is shorter than argument 1"}'
    )

    empty = transform(sm, "bt-empty", "nothing-here/")
    assert empty["FailureReason"] == f"No objects were found under the input s3://{BUCKET}/nothing-here/."


def test_a_stopped_job_ends_stopped(local: EmulatorProcess) -> None:
    sm, s3 = local.client("sagemaker"), local.client("s3")
    s3.put_object(Bucket=BUCKET, Key="long/rows.csv", Body=b"1,2,3,4\n" * 2000)
    sm.create_transform_job(
        TransformJobName="bt-stop",
        ModelName="batch-m",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/long/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/bt-stop"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    sm.stop_transform_job(TransformJobName="bt-stop")
    assert sm.describe_transform_job(TransformJobName="bt-stop")["TransformJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="bt-stop", WaiterConfig=WAIT)
    assert sm.describe_transform_job(TransformJobName="bt-stop")["TransformJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as raised:
        sm.stop_transform_job(TransformJobName="bt-stop")
    assert (
        raised.value.response["Error"]["Message"]
        == "Transform job bt-stop is Stopped: it cannot become Stopping."
    )


def test_bad_jobs_are_refused(local: EmulatorProcess) -> None:
    sm = local.client("sagemaker")
    with pytest.raises(ClientError) as raised:
        sm.describe_transform_job(TransformJobName="nope")
    assert raised.value.response["Error"]["Message"] == "Could not find requested job with name nope"
    with pytest.raises(ClientError) as raised:
        transform(sm, "bt-recordio", "in/", TransformInput={"SplitType": "RecordIO"})
    assert raised.value.response["Error"]["Message"].startswith(
        "TransformInput.SplitType is not supported by the local SageMaker (dockyard emulator) yet: records "
        "are split by line ('Line') or not at all ('None')."
    )
    with pytest.raises(ClientError) as raised:
        transform(sm, "bt-filter", "in/", DataProcessing={"InputFilter": "$[1:"})
    assert raised.value.response["Error"]["Message"].startswith(
        "InputFilter '$[1:' is not a JSONPath expression"
    )


def test_the_sdks_transformer(local: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from sagemaker.session import Session
    from sagemaker.transformer import Transformer

    from dockyard.lifecycle.sagemaker_session import EmulatorBotoSession

    boto_session = EmulatorBotoSession(
        local.url, aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_KEY, region_name=REGION
    )
    s3 = local.client("s3")
    s3.put_object(Bucket=BUCKET, Key="sdk/rows.csv", Body=b"1,2,3,4\n2,2,2,2\n")
    transformer = Transformer(
        model_name="batch-m",
        instance_count=1,
        instance_type="ml.m5.large",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        output_path=f"s3://{BUCKET}/out/sdk",
        sagemaker_session=Session(boto_session=boto_session, default_bucket=BUCKET),
    )
    transformer.transform(
        f"s3://{BUCKET}/sdk/",
        content_type="text/csv",
        split_type="Line",
        job_name="bt-sdk",
        wait=True,
        logs=False,
    )
    assert read(s3, "out/sdk/rows.csv.out") == b"30.0\n20.0\n"
