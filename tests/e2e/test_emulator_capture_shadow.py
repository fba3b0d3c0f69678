"""Data capture and shadow variants end to end: unmodified boto3 clients against a real emulator process
of this module's own (its capture interval is changed between runs), endpoints as real containers.

Capture lands in the emulator's own S3 in SageMaker's layout; a shadow variant gets its share of the
requests as a copy, and its failures never reach the caller.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.archive import pack
from dockyard.emulator.process import holdings
from dockyard.emulator.settings import CAPTURE_INTERVAL_ENV
from tests.aws_fixtures import FAKE_KEY, REGION
from tests.emulator_fixtures import EmulatorProcess
from tests.fixture_images import build_fixture_image, remove_fixture_images, write_model

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SAMPLE = b"1,2,3,4\n"
PREDICTION = "30.0\n"
WAIT = {"Delay": 1, "MaxAttempts": 180}
ROLE = "arn:aws:iam::123456789012:role/dockyard-test"
BUCKET = "capture-e2e"
KEY = re.compile(
    r"^captured/(?P<endpoint>[^/]+)/(?P<variant>[^/]+)/\d{4}/\d{2}/\d{2}/\d{2}/"
    r"\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl$"
)


@pytest.fixture(scope="module")
def image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    yield build_fixture_image(docker_client, base_image, "dockyard")
    remove_fixture_images(docker_client)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    state_dir = tmp_path_factory.mktemp("capture") / "state"
    # No other S3: s3:// model data and captured data are both in the emulator's own.
    process = EmulatorProcess(state_dir, "", allow_paths=(tmp_path_factory.getbasetemp(),))
    process.env[CAPTURE_INTERVAL_ENV] = "0.5"
    process.start()
    yield process
    process.stop()
    from dockyard.emulator.sagemaker.reconciler import remove_fleet_containers

    remove_fleet_containers(state_dir)


def archive(directory: Path, weights: list[float]) -> str:
    source = write_model(directory / "model")
    (source / "weights.json").write_text(json.dumps({"weights": weights}))
    packed = directory / "model.tar.gz"
    pack(source, packed)
    return packed.as_uri()


def create_model(sm: Any, name: str, image: str, data_url: str) -> None:
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": data_url,
            "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
        },
        ExecutionRoleArn=ROLE,
    )


def variant(name: str, model: str, weight: float = 1.0) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.t2.medium",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": weight,
    }


def capture_config(percentage: int, *, enabled: bool = True) -> dict[str, Any]:
    return {
        "EnableCapture": enabled,
        "InitialSamplingPercentage": percentage,
        "DestinationS3Uri": f"s3://{BUCKET}/captured",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            # The fixture model reads any text/csv* type: one is declared JSON to see JSON encoding.
            "JsonContentTypes": ["text/csv-json"],
        },
    }


def captured(s3: Any, endpoint: str) -> dict[str, list[dict[str, Any]]]:
    """Key -> its events, for every capture object of ``endpoint``."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"captured/{endpoint}/").get("Contents", [])
    return {
        item["Key"]: [
            json.loads(line)
            for line in s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().splitlines()
        ]
        for item in listed
    }


def events_of(s3: Any, endpoint: str, expected: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        events = [event for found in captured(s3, endpoint).values() for event in found]
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.3)


def test_data_capture_writes_sagemaker_json_lines_and_honours_sampling(
    local: EmulatorProcess, image: str, tmp_path: Path
) -> None:
    sm, runtime, s3 = local.client("sagemaker"), local.client("sagemaker-runtime"), local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    create_model(sm, "cap-model", image, archive(tmp_path, [1, 2, 3, 4]))
    sm.create_endpoint_config(
        EndpointConfigName="cap-all",
        ProductionVariants=[variant("AllTraffic", "cap-model")],
        DataCaptureConfig=capture_config(100),
    )
    sm.create_endpoint_config(
        EndpointConfigName="cap-none",
        ProductionVariants=[variant("AllTraffic", "cap-model")],
        DataCaptureConfig=capture_config(0),
    )
    sm.create_endpoint_config(
        EndpointConfigName="cap-off",
        ProductionVariants=[variant("AllTraffic", "cap-model")],
        DataCaptureConfig=capture_config(100, enabled=False),
    )
    described_config = sm.describe_endpoint_config(EndpointConfigName="cap-all")
    assert described_config["DataCaptureConfig"] == capture_config(100)

    sm.create_endpoint(EndpointName="cap-ep", EndpointConfigName="cap-all")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="cap-ep", WaiterConfig=WAIT)
    assert sm.describe_endpoint(EndpointName="cap-ep")["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/captured",
        "KmsKeyId": "",
    }

    answers = [
        runtime.invoke_endpoint(
            EndpointName="cap-ep",
            Body=SAMPLE,
            ContentType="text/csv",
            InferenceId="inference-1",
            CustomAttributes="trace=abc",
        ),
        runtime.invoke_endpoint(EndpointName="cap-ep", Body=SAMPLE, ContentType="text/csv-json"),
        runtime.invoke_endpoint(EndpointName="cap-ep", Body=SAMPLE, ContentType="text/csv-binary"),
    ]
    assert [answer["Body"].read().decode() for answer in answers] == [PREDICTION] * 3

    events = events_of(s3, "cap-ep", 3)
    assert len(events) == 3
    for key in captured(s3, "cap-ep"):
        match = KEY.match(key)
        assert match is not None, key
        assert (match["endpoint"], match["variant"]) == ("cap-ep", "AllTraffic")
    by_type = {event["captureData"]["endpointInput"]["observedContentType"]: event for event in events}
    csv = by_type["text/csv"]
    assert csv["eventVersion"] == "0"
    assert csv["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": SAMPLE.decode(),
        "encoding": "CSV",
    }
    output = csv["captureData"]["endpointOutput"]
    assert (output["mode"], output["data"], output["encoding"]) == ("OUTPUT", PREDICTION, "CSV")
    assert output["observedContentType"].startswith("text/csv")
    metadata = csv["eventMetadata"]
    assert metadata["inferenceId"] == "inference-1"
    assert metadata["customAttributes"] == "trace=abc"
    assert re.fullmatch(r"[0-9a-f-]{36}", metadata["eventId"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", metadata["inferenceTime"])
    assert by_type["text/csv-json"]["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert by_type["text/csv-json"]["captureData"]["endpointInput"]["data"] == SAMPLE.decode()
    binary = by_type["text/csv-binary"]["captureData"]["endpointInput"]
    assert binary["encoding"] == "BASE64"
    assert base64.b64decode(binary["data"]) == SAMPLE
    assert "inferenceId" not in by_type["text/csv-binary"]["eventMetadata"]

    # 0 %: nothing more is captured; EnableCapture off: the same, and Describe says Stopped.
    for config, status in (("cap-none", "Started"), ("cap-off", "Stopped")):
        sm.update_endpoint(EndpointName="cap-ep", EndpointConfigName=config)
        sm.get_waiter("endpoint_in_service").wait(EndpointName="cap-ep", WaiterConfig=WAIT)
        assert sm.describe_endpoint(EndpointName="cap-ep")["DataCaptureConfig"]["CaptureStatus"] == status
        for _ in range(10):
            runtime.invoke_endpoint(EndpointName="cap-ep", Body=SAMPLE, ContentType="text/csv")
        time.sleep(1.5)  # three write intervals
        assert len(events_of(s3, "cap-ep", 4, timeout=0)) == 3

    # Shutdown writes what is queued: with a write interval longer than the test, only the last write
    # at shutdown can have put these records in S3.
    sm.update_endpoint(EndpointName="cap-ep", EndpointConfigName="cap-all")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="cap-ep", WaiterConfig=WAIT)
    local.env[CAPTURE_INTERVAL_ENV] = "3600"
    local.restart()
    runtime = local.client("sagemaker-runtime")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="cap-ep", WaiterConfig=WAIT)
    for _ in range(20):
        runtime.invoke_endpoint(EndpointName="cap-ep", Body=SAMPLE, ContentType="text/csv")
    time.sleep(0.5)
    assert len(events_of(s3, "cap-ep", 23, timeout=0)) == 3  # nothing written yet
    local.env[CAPTURE_INTERVAL_ENV] = "0.5"
    local.restart()
    assert len(events_of(local.client("s3"), "cap-ep", 23, timeout=0)) == 23
    assert holdings(local.url)["data_capture"] == {"written": 0, "dropped": 0, "failed": 0}  # a new process


def test_shadow_variant_gets_its_share_and_its_failures_stay_hidden(
    local: EmulatorProcess, image: str, tmp_path: Path
) -> None:
    sm, runtime, logs = local.client("sagemaker"), local.client("sagemaker-runtime"), local.client("logs")
    create_model(sm, "prod-model", image, archive(tmp_path / "prod", [1, 2, 3, 4]))
    # Two weights for four columns: the shadow fails every request it gets.
    create_model(sm, "broken-model", image, archive(tmp_path / "broken", [1, 2]))
    sm.create_endpoint_config(
        EndpointConfigName="shadow-cfg",
        ProductionVariants=[variant("Prod", "prod-model", 1.0)],
        ShadowProductionVariants=[variant("Shadow", "broken-model", 0.5)],
    )
    described_config = sm.describe_endpoint_config(EndpointConfigName="shadow-cfg")
    assert described_config["ShadowProductionVariants"] == [variant("Shadow", "broken-model", 0.5)]
    sm.create_endpoint(EndpointName="shadow-ep", EndpointConfigName="shadow-cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="shadow-ep", WaiterConfig=WAIT)
    described = sm.describe_endpoint(EndpointName="shadow-ep")
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Prod"]
    [shadow] = described["ShadowProductionVariants"]
    assert (shadow["VariantName"], shadow["CurrentWeight"], shadow["CurrentInstanceCount"]) == (
        "Shadow",
        0.5,
        1,
    )

    requests = 60
    for _ in range(requests):
        answer = runtime.invoke_endpoint(EndpointName="shadow-ep", Body=SAMPLE, ContentType="text/csv")
        assert answer["InvokedProductionVariant"] == "Prod"
        assert answer["Body"].read().decode() == PREDICTION

    group = "/aws/sagemaker/Endpoints/shadow-ep"
    deadline = time.monotonic() + 30
    counts: dict[str, int] = {}
    mirrored: dict[str, int] = {}
    while time.monotonic() < deadline:  # until every copy is answered and every log line is in
        mirrored = holdings(local.url)["shadow_requests"]
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, filterPattern='"/invocations"'
        )
        counts = {}
        for event in (event for page in pages for event in page["events"]):
            name = event["logStreamName"].split("/", 1)[0]
            counts[name] = counts.get(name, 0) + 1
        if counts.get("Prod", 0) >= requests and counts.get("Shadow", 0) == mirrored["failed"]:
            break
        time.sleep(0.5)
    assert counts.get("Prod") == requests
    # Half the requests, binomially: 30 ± 4; these bounds are 3.5 standard deviations out.
    assert 16 <= counts.get("Shadow", 0) <= 44, counts
    # Every copy failed (the shadow's model cannot read four columns), and the emulator counted each.
    assert (mirrored["sent"], mirrored["failed"], mirrored["skipped"]) == (0, counts["Shadow"], 0)
    assert "shadow variant Shadow of endpoint shadow-ep answered 500" in local.log_tail(400)


def test_the_sdk_deploys_with_data_capture(
    local: EmulatorProcess, image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SageMaker SDK's own DataCaptureConfig (as users write it) captures on the local target."""
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    import boto3
    from sagemaker.model import Model
    from sagemaker.model_monitor import DataCaptureConfig
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer
    from sagemaker.session import Session

    s3 = local.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=BUCKET)
    source = write_model(tmp_path / "model")
    pack(source, tmp_path / "model.tar.gz")
    s3.upload_file(str(tmp_path / "model.tar.gz"), BUCKET, "sdk/model.tar.gz")
    session = Session(
        boto_session=boto3.Session(FAKE_KEY, FAKE_KEY, region_name=REGION),
        sagemaker_client=local.client("sagemaker"),
        sagemaker_runtime_client=local.client("sagemaker-runtime"),
        default_bucket=BUCKET,
    )
    model = Model(
        image_uri=image,
        model_data=f"s3://{BUCKET}/sdk/model.tar.gz",
        role=ROLE,
        predictor_cls=Predictor,
        sagemaker_session=session,
    )
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name="sdk-capture-ep",
        serializer=CSVSerializer(),
        data_capture_config=DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=100,
            destination_s3_uri=f"s3://{BUCKET}/captured",
            sagemaker_session=session,
        ),
        wait=True,
    )
    assert predictor.predict([1, 2, 3, 4]).decode() == PREDICTION
    [event] = events_of(s3, "sdk-capture-ep", 1)
    # The SDK's default content-type lists: text/csv is CSV, its answer too.
    assert event["captureData"]["endpointInput"]["encoding"] == "CSV"
    assert event["captureData"]["endpointInput"]["data"] == "1,2,3,4"
    assert event["captureData"]["endpointOutput"]["data"] == PREDICTION
