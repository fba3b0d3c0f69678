"""The data capture writer: SageMaker's event lines and object keys, the bounded queue, the writes."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

from dockyard.emulator.route_table import CaptureSettings
from dockyard.emulator.runtime.capture import Captured, CaptureWriter, event_line
from dockyard.emulator.s3.local_objects import LocalObjects
from dockyard.emulator.s3.service import S3Service

SETTINGS = CaptureSettings(
    destination="s3://bucket/some/prefix/",
    sampling_percentage=100,
    enabled=True,
    capture_input=True,
    capture_output=True,
    csv_content_types=("text/csv",),
    json_content_types=("application/json",),
)
AT = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z


def record(
    input_type: str | None = "text/csv",
    body: bytes = b"1,2\n",
    output_type: str | None = "application/json; charset=utf-8",
    answer: bytes = b'{"score": 3}',
    settings: CaptureSettings = SETTINGS,
    at: float = AT,
) -> Captured:
    return Captured("ep", "AllTraffic", settings, at, input_type, body, output_type, answer, None, None)


def test_an_event_line_is_sagemakers_json_lines_record() -> None:
    event = json.loads(event_line(record()))
    assert event["captureData"] == {
        "endpointInput": {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": "1,2\n",
            "encoding": "CSV",
        },
        "endpointOutput": {
            "observedContentType": "application/json; charset=utf-8",
            "mode": "OUTPUT",
            "data": '{"score": 3}',
            "encoding": "JSON",
        },
    }
    assert event["eventMetadata"]["inferenceTime"] == "2023-11-14T22:13:20Z"
    assert set(event["eventMetadata"]) == {"eventId", "inferenceTime"}
    assert event["eventVersion"] == "0"
    assert event_line(record()).endswith(b"}\n")
    assert event_line(record()).count(b"\n") == 1


def test_other_types_undecodable_text_and_no_type_lists_are_base64() -> None:
    image = bytes(range(256))
    cases = [
        (record(input_type="image/png", body=image), image),
        (record(input_type="text/csv", body=b"\xff\xfe"), b"\xff\xfe"),  # declared CSV, not UTF-8
        (record(input_type=None, body=b"raw"), b"raw"),
        (record(settings=CaptureSettings("s3://b", 100, True, True, True), body=b"1,2"), b"1,2"),
    ]
    for captured, body in cases:
        endpoint_input = json.loads(event_line(captured))["captureData"]["endpointInput"]
        assert endpoint_input["encoding"] == "BASE64"
        assert base64.b64decode(endpoint_input["data"]) == body


def test_input_or_output_only() -> None:
    only_input = CaptureSettings("s3://b", 100, True, True, False)
    assert list(json.loads(event_line(record(settings=only_input)))["captureData"]) == ["endpointInput"]
    only_output = CaptureSettings("s3://b", 100, True, False, True)
    assert list(json.loads(event_line(record(settings=only_output)))["captureData"]) == ["endpointOutput"]


def test_records_are_written_one_object_per_variant_and_hour() -> None:
    written: list[tuple[str, str, bytes]] = []
    writer = CaptureWriter(lambda bucket, key, data: written.append((bucket, key, data)), interval=3600)
    for at in (AT, AT + 1, AT + 3600):
        writer.offer(record(at=at))
    writer.flush()
    assert [(bucket, key.rsplit("/", 1)[0], data.count(b"\n")) for bucket, key, data in written] == [
        ("bucket", "some/prefix/ep/AllTraffic/2023/11/14/22", 2),
        ("bucket", "some/prefix/ep/AllTraffic/2023/11/14/23", 1),
    ]
    name = written[0][1].rsplit("/", 1)[1]
    assert name.startswith("13-20-250-")
    assert name.endswith(".jsonl")
    assert writer.status() == {"written": 3, "dropped": 0, "failed": 0}


def test_a_full_queue_drops_and_counts_and_a_failed_write_is_counted() -> None:
    def refuse(bucket: str, key: str, data: bytes) -> None:
        raise OSError("no such bucket")

    writer = CaptureWriter(refuse, capacity=2, interval=3600)
    for _ in range(5):
        writer.offer(record())
    writer.flush()
    assert writer.status() == {"written": 0, "dropped": 3, "failed": 2}


def test_sampling_at_the_bounds() -> None:
    never = CaptureSettings("s3://b", 0, True, True, True)
    always = CaptureSettings("s3://b", 100, True, True, True)
    assert not any(CaptureWriter.sampled(never) for _ in range(1000))
    assert all(CaptureWriter.sampled(always) for _ in range(1000))
    half = CaptureSettings("s3://b", 50, True, True, True)
    assert 350 < sum(CaptureWriter.sampled(half) for _ in range(1000)) < 650


def test_the_thread_writes_periodically_and_close_writes_the_rest() -> None:
    written: list[bytes] = []
    seen = threading.Event()

    def sink(bucket: str, key: str, data: bytes) -> None:
        written.append(data)
        seen.set()

    writer = CaptureWriter(sink, interval=0.05)
    writer.start()
    writer.offer(record())
    assert seen.wait(5)
    writer.interval = 3600  # the next wait outlasts the test: only close() can write what follows
    time.sleep(0.1)
    writer.offer(record())
    writer.close()
    assert sum(data.count(b"\n") for data in written) == 2


def test_the_local_s3_takes_the_objects(tmp_path: Path) -> None:
    from dockyard.emulator.context import Caller

    service = S3Service(tmp_path)
    service.handle(Caller("123456789012", "us-east-1", "r", ""), "CreateBucket", {"Bucket": "bucket"})
    objects = LocalObjects(tmp_path)
    try:
        objects.write("bucket", "a/b.jsonl", b'{"x":1}\n')
        assert b"".join(objects.read("bucket", "a/b.jsonl")) == b'{"x":1}\n'
        assert objects.keys("bucket", "a/") == ["a/b.jsonl"]
    finally:
        objects.close()
        service.close()
