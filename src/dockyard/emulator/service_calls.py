"""HTTP onto the services beside SageMaker: a JSON 1.1 or query request through its service's protocol
and provider and back, and the answer for a service or request the port does not serve."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from dockyard.emulator.asgi import MAX_CONTROL_BODY, Receive, Send, read_body, send_response
from dockyard.emulator.aws import unserved
from dockyard.emulator.aws.json_protocol import CONTENT_TYPE as CONTENT_TYPE_JSON
from dockyard.emulator.context import Caller
from dockyard.emulator.errors import InternalFailure, ServiceError
from dockyard.emulator.routing import Protocol, Route
from dockyard.emulator.services import JsonService, QueryService

log = logging.getLogger("dockyard.emulator")


async def serve_json(
    service: JsonService, ctx: Caller, headers: dict[str, str], receive: Receive, send: Send
) -> None:
    protocol = service.protocol
    try:
        body = await read_body(receive, MAX_CONTROL_BODY)
        operation, params = protocol.parse(headers.get("x-amz-target"), body)
        # Providers keep state in SQLite and call the engine: off the event loop the runtime shares.
        result = await asyncio.to_thread(service.handle, ctx, operation, params)
        status, response_headers = 200, [(b"content-type", CONTENT_TYPE_JSON)]
        payload = protocol.serialize(operation, result)
    except ServiceError as error:
        status, response_headers, payload = protocol.error_response(error)
    except Exception as exc:
        log.exception("%s request %s failed", protocol.target_prefix, ctx.request_id)
        status, response_headers, payload = protocol.error_response(InternalFailure(f"internal error: {exc}"))
    response_headers.append((b"x-amzn-requestid", ctx.request_id.encode()))
    await send_response(send, status, response_headers, payload)


async def serve_query(
    service: QueryService, ctx: Caller, query_string: str, receive: Receive, send: Send
) -> None:
    protocol = service.protocol
    try:
        body = await read_body(receive, MAX_CONTROL_BODY)
        operation, params = protocol.parse(body, query_string)
        result = await asyncio.to_thread(service.handle, ctx, operation, params)
        status, payload = 200, protocol.serialize(operation, result, ctx.request_id)
        response_headers = [(b"content-type", b"text/xml")]
    except ServiceError as error:
        status, response_headers, payload = protocol.error_response(error, ctx.request_id)
    except Exception as exc:
        log.exception("%s request %s failed", protocol.service, ctx.request_id)
        failure = InternalFailure(f"internal error: {exc}")
        status, response_headers, payload = protocol.error_response(failure, ctx.request_id)
    response_headers.append((b"x-amzn-requestid", ctx.request_id.encode()))
    await send_response(send, status, response_headers, payload)


async def serve_not_served(
    route: Route, scope_service: str, method: str, path: str, ctx: Caller, receive: Receive, send: Send
) -> None:
    if route.protocol is Protocol.QUERY and not route.operation:
        # A query request names its operation in the form body.
        try:
            form = parse_qs((await read_body(receive, MAX_CONTROL_BODY)).decode("latin-1"))
        except ServiceError:
            form = {}
        route = route._replace(operation=form.get("Action", [""])[0])
    # Naming an unknown service may read botocore's models from disk: off the event loop.
    status, headers, body = await asyncio.to_thread(
        unserved.response, route, scope_service, method, path, ctx.request_id
    )
    await send_response(send, status, headers, body)
