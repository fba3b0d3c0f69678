"""The rest-xml protocol against botocore as the oracle: botocore serializes requests that our protocol
matches and parses; our responses and errors are parsed by botocore's own parser."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from botocore.compat import HTTPHeaders
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from dockyard.emulator.aws.rest_xml import RestXmlProtocol
from dockyard.emulator.aws.service_models import service_model
from dockyard.emulator.aws.xml_values import MalformedInput, MalformedXML
from dockyard.emulator.s3.errors import NoSuchKey

MODEL = service_model("s3")
PROTOCOL = RestXmlProtocol("s3")


def through_botocore(operation: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    request = create_serializer("rest-xml").serialize_to_request(params, MODEL.operation_model(operation))
    # The requestUri's literal query keys ("?uploads") stay in url_path; members go to query_string.
    parts = urlsplit(request["url_path"])
    query = {**dict(parse_qsl(parts.query, keep_blank_values=True)), **request["query_string"]}
    headers = {k.lower(): v for k, v in request["headers"].items()}
    matched = PROTOCOL.match(request["method"], unquote(parts.path), query, headers)
    assert matched is not None
    name, labels = matched
    parsed = PROTOCOL.parse(name, labels, {k: str(v) for k, v in query.items()}, headers)
    body = request["body"]
    if isinstance(body, bytes) and body:
        parsed.update(PROTOCOL.parse_payload(name, body))
    return name, parsed


def parsed_by_botocore(operation: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> Any:
    response = {
        "status_code": status,
        "headers": HTTPHeaders.from_pairs([(k.decode(), v.decode()) for k, v in headers]),
        "body": body,
    }
    return create_parser("rest-xml").parse(response, MODEL.operation_model(operation).output_shape)


def test_requests_serialized_by_botocore_parse_to_their_params() -> None:
    complete = {
        "Bucket": "b",
        "Key": "dir/k ey",
        "UploadId": "u1",
        "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": '"e1"'}, {"PartNumber": 2, "ETag": '"e2"'}]},
    }
    assert through_botocore("CompleteMultipartUpload", complete) == ("CompleteMultipartUpload", complete)
    delete = {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b/c"}], "Quiet": True}}
    assert through_botocore("DeleteObjects", delete) == ("DeleteObjects", delete)
    tagging = {"Bucket": "b", "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}
    assert through_botocore("PutBucketTagging", tagging) == ("PutBucketTagging", tagging)
    put = {"Bucket": "b", "Key": "k", "Metadata": {"a": "1"}, "ContentType": "text/plain", "ContentLength": 4}
    assert through_botocore("PutObject", put) == ("PutObject", put)
    listing = {"Bucket": "b", "Prefix": "p/", "Delimiter": "/", "MaxKeys": 5, "ContinuationToken": "t"}
    assert through_botocore("ListObjectsV2", listing) == ("ListObjectsV2", listing)
    since = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    get = {"Bucket": "b", "Key": "k", "Range": "bytes=0-1", "IfModifiedSince": since}
    assert through_botocore("GetObject", get) == ("GetObject", get)
    part = {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 3}
    assert through_botocore("UploadPart", part) == ("UploadPart", part)
    copy = {"Bucket": "b", "Key": "k", "CopySource": "src/key"}
    assert through_botocore("CopyObject", copy)[0] == "CopyObject"


def test_responses_parse_with_botocore() -> None:
    modified = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    result = {
        "Name": "b",
        "Prefix": "",
        "KeyCount": 1,
        "MaxKeys": 1000,
        "IsTruncated": True,
        "NextContinuationToken": "next",
        "Contents": [
            {"Key": "k&<>", "LastModified": modified, "ETag": '"e"', "Size": 3, "StorageClass": "STANDARD"}
        ],
        "CommonPrefixes": [{"Prefix": "d/"}],
    }
    status, headers, body = PROTOCOL.response("ListObjectsV2", result)
    assert body.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/'
    )
    parsed = parsed_by_botocore("ListObjectsV2", status, headers, body)
    assert parsed["Contents"] == result["Contents"]
    assert parsed["CommonPrefixes"] == [{"Prefix": "d/"}]
    assert (parsed["IsTruncated"], parsed["NextContinuationToken"]) == (True, "next")

    head = {"ContentLength": 3, "ETag": '"e"', "LastModified": modified, "Metadata": {"a": "1"}}
    status, headers, body = PROTOCOL.response("HeadObject", head)
    parsed = parsed_by_botocore("HeadObject", status, headers, body)
    assert parsed["Metadata"] == {"a": "1"}
    assert parsed["LastModified"] == modified.replace(microsecond=0)  # HTTP dates have whole seconds
    tags = {"TagSet": [{"Key": "k", "Value": "v"}]}
    parsed = parsed_by_botocore("GetBucketTagging", *PROTOCOL.response("GetBucketTagging", tags))
    assert parsed["TagSet"] == tags["TagSet"]


def test_errors_and_bad_input() -> None:
    status, headers, body = PROTOCOL.error_response(NoSuchKey("k"), "req-1")
    parsed = parsed_by_botocore("GetObject", status, headers, body)
    assert parsed["Error"] == {
        "Code": "NoSuchKey",
        "Message": "The specified key does not exist.",
        "Key": "k",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    with pytest.raises(MalformedXML) as caught:
        PROTOCOL.parse_payload("DeleteObjects", b"<Delete><Object>")
    assert caught.value.message.startswith("The XML you provided was not well-formed")
    with pytest.raises(MalformedInput) as caught_input:
        PROTOCOL.parse("ListObjectsV2", {"Bucket": "b"}, {"list-type": "2", "max-keys": "many"}, {})
    assert caught_input.value.message == "The value 'many' of max-keys is not a valid integer"
    assert caught_input.value.code == "InvalidArgument"
