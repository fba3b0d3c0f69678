"""The answer to a request for a service or operation the local target does not serve.

It is shaped in the protocol the caller speaks (so boto3 and the AWS CLI raise it as a ClientError with
a readable message) and names the service by its full name and the operation, instead of a bare
"unknown operation".
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import orjson

from dockyard.emulator.aws import cbor
from dockyard.emulator.aws.service_names import ServiceInfo, by_signing_name, by_target_prefix, describe
from dockyard.emulator.errors import ServiceError
from dockyard.emulator.routing import Protocol, Route

SERVED = "SageMaker, SageMaker Runtime, S3, ECR, STS, IAM (GetRole) and CloudWatch Logs"


class NotServed(ServiceError):
    """A service (or an operation of a served service) that the local target does not implement."""

    code = "UnknownOperationException"
    status = 400


def service_of(route: Route, scope_service: str) -> ServiceInfo | None:
    if route.protocol in (Protocol.JSON, Protocol.CBOR):
        return by_target_prefix(route.service, scope_service)
    return by_signing_name(route.service)


# Signing names of the services this port serves: a request for one that matches none of its operations
# is told so, not that the service is missing.
SERVED_SIGNING_NAMES = frozenset({"sagemaker", "s3", "ecr", "logs", "sts", "iam"})


def message(info: ServiceInfo | None, route: Route, method: str, path: str) -> str:
    service = describe(info, route.service)
    operation = f"the operation {route.operation}" if route.operation else f"the request {method} {path}"
    if info is not None and info.signing_name in SERVED_SIGNING_NAMES:
        return (
            f"{service} is served by the local target (dockyard emulator), but {operation} is not one of "
            "its operations there."
        )
    return (
        f"{service} is not served by the local target (dockyard emulator), so {operation} cannot run "
        f"here; use AWS itself for it. This port serves {SERVED}."
    )


def response(
    route: Route, scope_service: str, method: str, path: str, request_id: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of the not-served error in the caller's protocol. Blocking on the
    first call for an unknown service (it may scan botocore's models): call it off the event loop."""
    info = service_of(route, scope_service)
    text = message(info, route, method, path)
    protocol = info.protocol if info is not None else ""
    rid = (b"x-amzn-requestid", request_id.encode())
    if route.protocol is Protocol.CBOR:
        body = cbor.encode_text_map({"__type": NotServed.code, "message": text})
        return 400, [(b"content-type", b"application/cbor"), (b"smithy-protocol", b"rpc-v2-cbor"), rid], body
    if route.protocol is Protocol.JSON:
        body = orjson.dumps({"__type": NotServed.code, "message": text})
        return 400, [(b"content-type", b"application/x-amz-json-1.1"), rid], body
    if route.protocol is Protocol.QUERY or protocol == "query":
        xml = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>"
            f"<Message>{escape(text)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return 400, [(b"content-type", b"text/xml"), rid], xml.encode()
    if protocol == "rest-xml":
        xml = (
            f"<ErrorResponse><Error><Code>NotImplemented</Code><Message>{escape(text)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return 501, [(b"content-type", b"application/xml"), rid], xml.encode()
    body = orjson.dumps({"message": text})
    headers = [(b"x-amzn-errortype", NotServed.code.encode()), (b"content-type", b"application/json"), rid]
    return 400, headers, body
