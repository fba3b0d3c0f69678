"""The emulator's front door: an ASGI middleware every request passes before any service sees it.

In order: the Host must be one the emulator answers to; a browser's cross-origin request is refused;
the console's pages go through their session check (:mod:`.console`); everything else must carry a
valid SigV4 signature (:mod:`.sigv4`), whose region, service and payload hash are then put in the scope
as ``scope["dockyard.auth"]`` (a :class:`~.sigv4.SignedRequest`). Refusals are answered in the shape of
the service the request was for (:mod:`.refusals`). No response ever carries CORS allow headers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dockyard.emulator.asgi import collect_body
from dockyard.emulator.security.console import SCOPE_KEY, ConsoleGate, is_console_path
from dockyard.emulator.security.origins import HostMatch, HostPolicy, cross_site_refusal
from dockyard.emulator.security.refusals import HINT, Family, Refusal, family_of, render
from dockyard.emulator.security.sigv4 import (
    STREAMING_PAYLOADS,
    UNSIGNED_PAYLOAD,
    SignatureProblem,
    SignedRequest,
    check_time,
    payload_hash_of,
    request_parts,
    signature_inputs,
    verify,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

AUTH_SCOPE_KEY = "dockyard.auth"
# Bodies of the JSON, query and runtime APIs are hashed here before the service runs; none is near this
# (the control plane's own limit). S3 bodies are never read here.
MAX_SIGNED_BODY = 16 * 1024 * 1024
_MISMATCH_ADVICE = " Check your AWS Secret Access Key and signing method. "


@dataclass(frozen=True)
class SecurityPolicy:
    hosts: HostPolicy
    secret: str
    console_token: str
    check_signatures: bool = True  # False: --insecure-any-credentials (a signature is still required)
    unsigned_paths: frozenset[str] = frozenset()  # GET-only paths answered without a signature


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        policy: SecurityPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app = app
        self.policy = policy
        self.clock = clock
        self.console = ConsoleGate(policy.secret, policy.console_token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        method: str = scope["method"]
        path: str = scope["path"]
        host = self.policy.hosts.match(headers.get("host"))
        if host is HostMatch.REFUSED:
            refusal = Refusal("host", self.policy.hosts.refusal_message(headers.get("host")))
            await _refuse(send, refusal, family_of(method, path, headers, None))
            return
        cross_site = cross_site_refusal(headers)
        if cross_site is not None:
            await _refuse(send, Refusal("origin", cross_site), family_of(method, path, headers, None))
            return
        if host is HostMatch.EXACT and is_console_path(path):
            await self._console(scope, receive, send, headers)
            return
        if host is HostMatch.EXACT and method == "GET" and path in self.policy.unsigned_paths:
            await self.app(scope, receive, send)
            return
        await self._signed(scope, receive, send, headers, host)

    # ---- SigV4 -------------------------------------------------------------------------------

    async def _signed(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], host: HostMatch
    ) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        # Some servers put the query in raw_path too; the signature covers it separately.
        raw_path = (scope.get("raw_path") or path.encode()).partition(b"?")[0]
        parts = request_parts(method, raw_path, scope["query_string"], scope["headers"])
        service: str | None = None
        body: bytes | None = None
        try:
            inputs = signature_inputs(parts)
            if inputs is None:
                raise SignatureProblem("missing", "")
            service = inputs.service
            if host is HostMatch.SUBDOMAIN and service != "s3":
                # Subdomains of allowed names exist for S3's virtual-hosted buckets only.
                refusal = Refusal("host", self.policy.hosts.refusal_message(headers.get("host")))
                await _refuse(send, refusal, family_of(method, path, headers, service))
                return
            check_time(inputs, self.clock())
            declared = payload_hash_of(parts, inputs)
            if service == "s3":
                assert declared is not None
                payload_hash = declared
            else:
                body = await _read_body(receive, headers)
                if body is None:
                    return  # the client went away
                computed = hashlib.sha256(body).hexdigest()
                if (
                    declared is not None
                    and declared not in STREAMING_PAYLOADS
                    and declared not in (UNSIGNED_PAYLOAD, computed)
                ):
                    raise SignatureProblem(
                        "payload-mismatch",
                        "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    )
                payload_hash = declared if declared is not None else computed
            signed = verify(
                parts, inputs, payload_hash, self.policy.secret if self.policy.check_signatures else None
            )
        except SignatureProblem as problem:
            await _refuse(
                send,
                _signature_refusal(problem, method, path, headers, service),
                family_of(method, path, headers, service),
            )
            return
        except _TooLarge:
            refusal = Refusal("too-large", f"HTTP content length exceeded {MAX_SIGNED_BODY} bytes.")
            await _refuse(send, refusal, family_of(method, path, headers, service), close=True)
            return
        scope[AUTH_SCOPE_KEY] = signed
        await self.app(scope, receive if body is None else _replay(body, receive), send)

    # ---- console -----------------------------------------------------------------------------

    async def _console(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        decision = self.console.decide(
            scope["method"], scope["path"], scope["query_string"].decode("latin-1"), headers
        )
        if decision.redirect is not None:
            response_headers = [(b"location", decision.redirect.encode()), (b"cache-control", b"no-store")]
            if decision.set_cookie is not None:
                response_headers.append((b"set-cookie", decision.set_cookie.encode()))
            await _send(send, 303, response_headers, b"")
            return
        if decision.session is None:
            body = (decision.message or "Forbidden").encode()
            await _send(send, 403, [(b"content-type", b"text/plain; charset=utf-8")], body)
            return
        scope[SCOPE_KEY] = decision.session
        await self.app(scope, receive, send)


def signed_region(scope: Scope) -> str | None:
    """The region of the request's checked signature (None when it was not signed)."""
    signed = scope.get(AUTH_SCOPE_KEY)
    return signed.region if isinstance(signed, SignedRequest) else None


# ---- helpers -------------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


def _signature_refusal(
    problem: SignatureProblem, method: str, path: str, headers: dict[str, str], service: str | None
) -> Refusal:
    family: Family = family_of(method, path, headers, service)
    if problem.kind == "missing":
        first = "Access Denied." if family == "s3" else "Missing Authentication Token."
        return Refusal("missing", f"{first} {HINT}")
    if problem.kind == "mismatch":
        detail = problem.detail if family == "s3" else {}
        return Refusal("mismatch", problem.message + _MISMATCH_ADVICE + HINT, detail)
    if problem.kind == "expired" and family == "s3":
        detail = {**problem.detail, "MaxAllowedSkewMilliseconds": "900000"}
        return Refusal(
            "expired", "The difference between the request time and the current time is too large.", detail
        )
    return Refusal(problem.kind, problem.message, problem.detail if family == "s3" else {})


async def _read_body(receive: Receive, headers: dict[str, str]) -> bytes | None:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_SIGNED_BODY:
        raise _TooLarge
    return await collect_body(receive, MAX_SIGNED_BODY, _TooLarge)


def _replay(body: bytes, receive: Receive) -> Receive:
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(send: Send, refusal: Refusal, family: Family, *, close: bool = False) -> None:
    status, headers, body = render(refusal, family)
    if close:
        headers.append((b"connection", b"close"))
    await _send(send, status, headers, body)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
