"""Which AWS service a request on the emulator's single port is for, told apart as AWS itself does.

- JSON 1.0/1.1: ``POST /`` with ``X-Amz-Target: <TargetPrefix>.<Operation>``; the prefix names the service.
- Smithy RPC v2 CBOR: ``POST /service/<TargetPrefix>/operation/<Operation>`` (CloudWatch's default now).
- Query: a form-encoded ``Action=<Operation>&Version=...`` (body or query string); the service is the
  one named in the SigV4 credential scope (``AKID/DATE/REGION/<service>/aws4_request``).
- REST: the SageMaker runtime by its ``/endpoints/...`` paths, S3 (and any other REST service) by the
  credential scope, which a presigned URL carries in ``X-Amz-Credential`` instead of a header.

Classification reads only headers, the path and the query string: the body is read by the service's
protocol afterwards (a query-protocol request is recognised by its content type).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from typing import NamedTuple
from urllib.parse import parse_qs, unquote

# "Credential=AKID/20261125/eu-west-1/sagemaker/aws4_request" in the SigV4 Authorization header, or the
# same scope (percent-encoded) in a presigned URL's X-Amz-Credential parameter.
_HEADER_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/")
_QUERY_SCOPE = re.compile(r"^([^/]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/")
_CBOR_PATH = re.compile(r"^/service/([A-Za-z0-9_.]+)/operation/([A-Za-z0-9_]+)$")
_FORM = "application/x-www-form-urlencoded"

SAGEMAKER_TARGET = "SageMaker"
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921"
LOGS_TARGET = "Logs_20140328"


class Protocol(Enum):
    JSON = "json"
    CBOR = "smithy-rpc-v2-cbor"
    QUERY = "query"
    REST = "rest"


class Scope(NamedTuple):
    """The SigV4 credential scope's access key, region and service, when the request is signed."""

    access_key: str
    region: str
    service: str


class Route(NamedTuple):
    protocol: Protocol
    # JSON/CBOR: the target prefix; QUERY/REST: the signing scope's service ("" when unsigned).
    service: str
    # JSON/CBOR/QUERY: the operation named by the request ("" when it names none); REST: "".
    operation: str = ""


# Built once: the runtime path is benchmarked, and this is every invocation's route.
_RUNTIME = Route(Protocol.REST, "sagemaker-runtime")


def signing_scope(headers: Mapping[str, str], query_string: str) -> Scope | None:
    """The credential scope of a SigV4-signed request (header or presigned URL), else None."""
    found = _HEADER_SCOPE.search(headers.get("authorization", ""))
    if found is None and "X-Amz-Credential" in query_string:
        credential = parse_qs(query_string).get("X-Amz-Credential", [""])[0]
        found = _QUERY_SCOPE.match(unquote(credential))
    return Scope(found.group(1), found.group(2), found.group(3)) if found else None


def classify(
    method: str, path: str, headers: Mapping[str, str], query_string: str, scope: Scope | None
) -> Route:
    """The route of a request (lower-case header names); never raises."""
    signed_for = scope.service if scope is not None else ""
    target = headers.get("x-amz-target")
    if target is not None and method == "POST":
        prefix, _, operation = target.partition(".")
        return Route(Protocol.JSON, prefix, operation)
    if path.startswith("/endpoints/") and signed_for in ("", "sagemaker"):
        return _RUNTIME
    cbor = _CBOR_PATH.match(path) if method == "POST" and path.startswith("/service/") else None
    if cbor is not None:
        return Route(Protocol.CBOR, cbor.group(1), cbor.group(2))
    content_type = headers.get("content-type", "")
    if method == "POST" and content_type.startswith(_FORM) and signed_for not in ("", "s3"):
        return Route(Protocol.QUERY, signed_for)
    if method == "GET" and "Action=" in query_string and signed_for not in ("", "s3"):
        action = parse_qs(query_string).get("Action", [""])[0]
        return Route(Protocol.QUERY, signed_for, action)
    return Route(Protocol.REST, signed_for)
