"""The security middleware on a real uvicorn server in front of a stand-in service that records what
it was given, so refusals and pass-throughs are seen exactly as SDK clients see them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config

from dockyard.emulator.security import SecurityMiddleware, SecurityPolicy
from dockyard.emulator.security.credentials import LocalCredentials
from dockyard.emulator.security.middleware import AUTH_SCOPE_KEY, Message, Receive, Scope, Send
from dockyard.emulator.security.origins import HostPolicy
from tests.aws_fixtures import _free_port

SECRET = "local-secret-for-tests"
CREDENTIALS = LocalCredentials("dockyard", SECRET)
REGION = "eu-west-1"
_BUCKETS = (
    b'<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult><Owner><ID>o</ID></Owner>'
    b"<Buckets><Bucket><Name>dy-bucket</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket>"
    b"</Buckets></ListAllMyBucketsResult>"
)


@dataclass
class Seen:
    method: str
    path: str
    auth: Any
    body: bytes
    console: Any = None


@dataclass
class StandIn:
    """Answers what each protocol's client can parse; records every request that got through."""

    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        auth = scope.get(AUTH_SCOPE_KEY)
        self.seen.append(Seen(scope["method"], scope["path"], auth, body, scope.get("dockyard.console")))
        if auth is not None and auth.service == "s3":
            payload, headers = (
                (_BUCKETS if scope["path"] == "/" else b""),
                [(b"content-type", b"application/xml")],
            )
            headers.append((b"etag", b'"0"'))
        elif scope["path"].startswith("/endpoints/"):
            payload, headers = b"ok", [(b"content-type", b"text/plain")]
        else:
            payload, headers = b'{"Endpoints": []}', [(b"content-type", b"application/x-amz-json-1.1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


POLICY = SecurityPolicy(
    hosts=HostPolicy.of(("mybox.lan",)),
    secret=SECRET,
    console_token=CREDENTIALS.console_token,
    unsigned_paths=frozenset({"/_dockyard/status"}),
)


class SecuredServer:
    def __init__(self, policy: SecurityPolicy = POLICY, clock_offset: timedelta = timedelta()) -> None:
        self.app = StandIn()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        middleware = SecurityMiddleware(self.app, policy, clock=lambda: datetime.now(UTC) + clock_offset)
        config = uvicorn.Config(
            middleware, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> SecuredServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                pytest.fail("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def client(self, service: str, secret: str = SECRET, **config: Any) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="AKIAANYTHING",
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1}, **config),
        )


@pytest.fixture(scope="module")
def secured() -> Iterator[SecuredServer]:
    with SecuredServer() as server:
        yield server


def insecure_policy() -> SecurityPolicy:
    return replace(POLICY, check_signatures=False)
