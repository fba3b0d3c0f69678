"""What the security middleware costs per request on the runtime path, in this process.

Drives an InvokeEndpoint-shaped request (a 1 KiB CSV body, signed by botocore) through a trivial ASGI
app alone and through the middleware in front of it, many times, and prints the median time of each and
their difference: the cost of the Host and Origin checks, the body hash and the SigV4 check.

    python bench/security_overhead.py [--requests 20000] [--body 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dockyard.emulator.security import SecurityMiddleware, SecurityPolicy
from dockyard.emulator.security.origins import HostPolicy

SECRET = "bench-secret"


async def trivial(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def signed_scope(body: bytes) -> dict[str, Any]:
    url = "http://127.0.0.1:7474/endpoints/bench/invocations"
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "text/csv"})
    SigV4Auth(Credentials("dockyard", SECRET), "sagemaker", "us-east-1").add_auth(request)
    headers = [(b"host", b"127.0.0.1:7474")]
    headers += [(name.lower().encode(), str(value).encode()) for name, value in request.headers.items()]
    path = urlsplit(url).path
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }


async def timed(app: Any, scope: dict[str, Any], body: bytes, count: int) -> list[float]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"refused: {message}")

    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await app(dict(scope), receive, send)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--body", type=int, default=1024)
    args = parser.parse_args()
    body = b"1," * (args.body // 2)
    scope = signed_scope(body)
    policy = SecurityPolicy(HostPolicy.of(), SECRET, "token")
    secured = SecurityMiddleware(trivial, policy)
    bare_runs, secured_runs = [], []
    for _ in range(3):  # interleaved, so that a noisy neighbour hits both alike
        bare_runs.append(statistics.median(asyncio.run(timed(trivial, scope, body, args.requests))))
        secured_runs.append(statistics.median(asyncio.run(timed(secured, scope, body, args.requests))))
    bare, checked = min(bare_runs) * 1e6, min(secured_runs) * 1e6
    print(f"body {len(body)} bytes, {args.requests} requests x 3 runs (best median)")
    print(f"trivial app alone        {bare:8.1f} µs")
    print(f"behind the middleware    {checked:8.1f} µs")
    print(f"middleware cost          {checked - bare:8.1f} µs per request")


if __name__ == "__main__":
    main()
