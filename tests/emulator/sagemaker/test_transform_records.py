"""How a batch transform splits, batches and assembles records, and its JSONPath DataProcessing."""

from __future__ import annotations

import pytest

from dockyard.emulator.sagemaker.transform_records import (
    MB,
    Processing,
    RecordError,
    assemble,
    batches,
    split,
)


def test_split_types() -> None:
    assert split(b"a\nb\n\nc", "Line") == [b"a\n", b"b\n", b"c"]
    assert split(b"a\nb\n", "None") == [b"a\nb\n"]
    assert split(b"", "None") == []


def test_multi_record_batches_fill_up_to_the_payload_limit() -> None:
    record = b"x" * (MB // 2 - 1) + b"\n"  # half a MB
    assert [len(batch) for batch in batches([record] * 5, "MultiRecord", 1)] == [2, 2, 1]
    assert [len(batch) for batch in batches([record] * 3, "SingleRecord", 1)] == [1, 1, 1]
    assert [len(batch) for batch in batches([record] * 5, "MultiRecord", 0)] == [5]  # 0: no limit
    with pytest.raises(RecordError) as raised:
        list(batches([b"x" * (MB + 1)], "MultiRecord", 1))
    assert str(raised.value) == (
        f"A record of {MB + 1} bytes is larger than MaxPayloadInMB (1 MB): split the input (SplitType Line) "
        "or raise MaxPayloadInMB."
    )


def test_assembly() -> None:
    assert assemble([b"1", b"2\n", b"3"], "Line") == b"1\n2\n3\n"
    assert assemble([b"1", b"2\n", b"3"], "None") == b"12\n3"


def test_json_records_are_filtered_and_joined() -> None:
    processing = Processing.of(
        {"InputFilter": "$.features", "JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"},
        "application/jsonlines",
    )
    assert processing is not None
    record = b'{"id": 7, "features": [1, 2]}\n'
    assert processing.filter_input(record) == b"[1,2]\n"
    assert processing.finish(record, b'{"score": 0.5}') == b'[7,{"score":0.5}]\n'


def test_data_processing_errors() -> None:
    assert Processing.of({"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"}, "text/csv") is None
    with pytest.raises(RecordError) as raised:
        Processing.of({"OutputFilter": "$[0"}, "text/csv")
    assert str(raised.value).startswith("OutputFilter '$[0' is not a JSONPath expression")
    json_records = Processing.of({"InputFilter": "$.missing"}, "application/json")
    assert json_records is not None
    with pytest.raises(RecordError) as raised:
        json_records.filter_input(b'{"a": 1}')
    assert str(raised.value) == "The JSONPath '$.missing' selects nothing of the record {'a': 1}."
    with pytest.raises(RecordError) as raised:
        json_records.filter_input(b"1,2,3")
    assert str(raised.value) == "The record '1,2,3' is not JSON (the ContentType is not text/csv)."
    joined = Processing.of({"JoinSource": "Input"}, "application/json")
    assert joined is not None
    with pytest.raises(RecordError) as raised:
        joined.finish(b"3", b"4")
    assert str(raised.value) == "JoinSource Input needs JSON objects or arrays as input records."
