"""Data capture: sampled requests and answers written to S3 in SageMaker's JSON Lines layout.

Nothing of it runs on the request's path but a sampling draw and an append to a bounded in-memory queue:
the raw bytes and the time are handed over as they are, and a background thread encodes them and writes
one object per endpoint, variant and hour every ``interval`` seconds, and once more when the emulator
stops, so a clean shutdown loses nothing. A full queue drops the record and counts it (SageMaker too
stops capturing rather than slow requests down).

The layout is SageMaker's: objects at ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/
<mm-ss-mmm>-<uuid>.jsonl`` (UTC), one event a line: ``captureData`` (``endpointInput`` /
``endpointOutput``: ``observedContentType``, ``mode``, ``data``, ``encoding``), ``eventMetadata``
(``eventId``, ``inferenceTime``, ``inferenceId`` and ``customAttributes`` when the request gave them) and
``eventVersion`` "0". Data is kept as text (``CSV`` / ``JSON``) when its media type is in the config's
CsvContentTypes / JsonContentTypes and it is UTF-8, else base64 (``BASE64``): with no content-type lists,
everything is base64, as SageMaker does.
"""

from __future__ import annotations

import base64
import collections
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from dockyard.emulator.route_table import CaptureSettings

log = logging.getLogger(__name__)

CAPACITY = 10_000  # records waiting to be written; beyond that they are dropped and counted
INTERVAL = 2.0  # seconds between writes
EVENT_VERSION = "0"

# Writes one object: (bucket, key, body). Raises when it cannot (no such bucket, disk full).
Sink = Callable[[str, str, bytes], None]


@dataclass(frozen=True)
class Captured:
    """One sampled invocation, as the request path hands it over (nothing encoded yet)."""

    endpoint: str
    variant: str
    settings: CaptureSettings
    time: float
    input_type: str | None
    input_body: bytes
    output_type: str | None
    output_body: bytes
    inference_id: str | None
    custom_attributes: str | None


class CaptureWriter:
    def __init__(self, sink: Sink, *, capacity: int = CAPACITY, interval: float = INTERVAL) -> None:
        self.sink = sink
        self.capacity = capacity
        self.interval = interval
        self.dropped = 0  # records not captured because the queue was full
        self.failed = 0  # records lost because their object could not be written
        self.written = 0
        self._queue: collections.deque[Captured] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the request path ------------------------------------------------------------------------

    @staticmethod
    def sampled(settings: CaptureSettings) -> bool:
        percentage = settings.sampling_percentage
        return percentage >= 100 or (percentage > 0 and random.random() * 100 < percentage)

    def offer(self, record: Captured) -> None:
        """Queue ``record`` for writing; never blocks (a full queue drops it)."""
        if len(self._queue) >= self.capacity:
            self.dropped += 1
            return
        self._queue.append(record)

    # ---- the writer thread -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread after it has written everything queued so far."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Write every queued record: one object per destination, endpoint, variant and hour."""
        groups: dict[tuple[str, str], list[Captured]] = {}
        while self._queue:
            record = self._queue.popleft()
            groups.setdefault(object_folder(record), []).append(record)
        for (bucket, folder), records in groups.items():
            key = f"{folder}/{object_name(records[0].time)}"
            try:
                self.sink(bucket, key, b"".join(event_line(record) for record in records))
            except Exception as exc:  # the bucket may be gone: say so, keep capturing the rest
                self.failed += len(records)
                log.warning("data capture could not write s3://%s/%s: %s", bucket, key, exc)
            else:
                self.written += len(records)

    def status(self) -> dict[str, int]:
        return {"written": self.written, "dropped": self.dropped, "failed": self.failed}


def object_folder(record: Captured) -> tuple[str, str]:
    """(bucket, ``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh``) of a record's object, in UTC."""
    bucket, _, prefix = record.settings.destination.split("://", 1)[1].partition("/")
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime(record.time))
    parts = [part for part in prefix.split("/") if part]
    return bucket, "/".join([*parts, record.endpoint, record.variant, hour])


def object_name(first: float) -> str:
    """``<minute>-<second>-<millisecond>-<uuid>.jsonl`` of the object's first record."""
    millis = int(first * 1000) % 1000
    return f"{time.strftime('%M-%S', time.gmtime(first))}-{millis:03d}-{uuid.uuid4()}.jsonl"


def event_line(record: Captured) -> bytes:
    settings = record.settings
    capture: dict[str, Any] = {}
    if settings.capture_input:
        capture["endpointInput"] = _payload(settings, record.input_type, record.input_body, "INPUT")
    if settings.capture_output:
        capture["endpointOutput"] = _payload(settings, record.output_type, record.output_body, "OUTPUT")
    metadata: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "inferenceTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.time)),
    }
    if record.inference_id is not None:
        metadata["inferenceId"] = record.inference_id
    if record.custom_attributes is not None:
        metadata["customAttributes"] = record.custom_attributes
    event = {"captureData": capture, "eventMetadata": metadata, "eventVersion": EVENT_VERSION}
    return (
        orjson.dumps(event) + b"\n"
    )  # a third of json.dumps' time: the writer shares the event loop's process


def _payload(settings: CaptureSettings, content_type: str | None, body: bytes, mode: str) -> dict[str, Any]:
    encoding = _encoding(settings, content_type)
    data: str | None = None
    if encoding != "BASE64":
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:  # not text after all: base64 keeps it whole
            encoding = "BASE64"
    if data is None:
        data = base64.b64encode(body).decode("ascii")
    payload: dict[str, Any] = {"mode": mode, "data": data, "encoding": encoding}
    if content_type is not None:
        payload = {"observedContentType": content_type, **payload}
    return payload


def _encoding(settings: CaptureSettings, content_type: str | None) -> str:
    if content_type is None:
        return "BASE64"
    media = content_type.split(";", 1)[0].strip().lower()
    if media in (item.lower() for item in settings.csv_content_types):
        return "CSV"
    if media in (item.lower() for item in settings.json_content_types):
        return "JSON"
    return "BASE64"
