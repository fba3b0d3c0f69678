"""The runtime over real HTTP: requests relayed to stand-in containers, routing, and SageMaker's errors.

The containers here are small real HTTP servers on 127.0.0.1 (the fleet tests use real Docker): each
echoes what it received as JSON, and the custom attributes pick a behaviour (``status=400``, ``sleep=2``,
``stream``). Routes are set in the fleet's routing table as the reconciler sets them.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dockyard.emulator.context import Caller, ResourceKey
from dockyard.emulator.errors import ModelError, ServiceError, ServiceUnavailable, ValidationError
from dockyard.emulator.route_table import EndpointRoute, Instance, Router, VariantRoute
from dockyard.emulator.runtime.invoke import Runtime

CTX = Caller("123456789012", "eu-west-1", "req-1")
LOG_GROUP = "/aws/sagemaker/Endpoints/ep"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real model servers

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle and delayed ACKs cost 40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        attributes = self.headers.get("X-Amzn-SageMaker-Custom-Attributes", "")
        if attributes.startswith("status="):
            self.reply(int(attributes.split("=")[1]), b"the model refused this input", "text/plain")
        elif attributes.startswith("sleep="):
            time.sleep(float(attributes.split("=")[1]))
            self.reply(200, b"late", "text/plain")
        elif attributes == "stream":
            self.send_response(200)
            self.send_header("Content-Type", "application/jsonlines")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"token": "a"}\n', b'{"token": "b"}\n', b'{"token": "c"}\n'):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
        else:
            seen = {
                "body": body.decode(),
                "headers": dict(self.headers),
            }
            extra = [("X-Amzn-SageMaker-Custom-Attributes", f"echo:{attributes}")] if attributes else []
            if self.headers.get("X-Amzn-SageMaker-Session-Id") == "NEW_SESSION":
                extra.append(("X-Amzn-SageMaker-New-Session-Id", "s-1; Expires=2030-01-01T00:00:00Z"))
            self.reply(200, json.dumps(seen).encode(), "application/json", tuple(extra))

    def reply(
        self, status: int, body: bytes, content_type: str, extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that gave up (the timeout test) is expected here


@pytest.fixture
def containers() -> Iterator[Callable[[], str]]:
    """Start stand-in containers; each call gives the URL of a new one."""
    servers: list[ThreadingHTTPServer] = []

    def start() -> str:
        server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Fleet:
    """The fleet's side of the runtime: the routing table (set by the tests) and the reports received."""

    def __init__(self) -> None:
        self.router = Router()
        self.unreachable: list[tuple[ResourceKey, str]] = []

    def report_unreachable(self, endpoint: ResourceKey, instance_id: str) -> None:
        self.unreachable.append((endpoint, instance_id))


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def route(*variants: VariantRoute) -> EndpointRoute:
    return EndpointRoute(CTX.key("ep"), variants)


def run(
    fleet: Fleet, work: Callable[[Runtime], Any], status: str | None = "InService", **options: float
) -> Any:
    async def main() -> Any:
        runtime = Runtime(
            fleet.router,
            lambda endpoint: status if endpoint == CTX.key("ep") else None,
            fleet.report_unreachable,
            **options,
        )
        try:
            return await work(runtime)
        finally:
            await runtime.aclose()

    return asyncio.run(main())


def call(**params: Any) -> Callable[[Runtime], Any]:
    return lambda runtime: runtime.invoke(CTX, {"EndpointName": "ep", "Body": b"1,2", **params})


def error_of(fleet: Fleet, work: Callable[[Runtime], Any], **options: Any) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        run(fleet, work, **options)
    return caught.value


def test_relays_headers_both_ways(fleet: Fleet, containers: Callable[[], str]) -> None:
    fleet.router.set(route(VariantRoute("AllTraffic", 1.0, (Instance("i-1", containers()),))))
    result = run(
        fleet,
        call(
            ContentType="text/csv",
            Accept="application/json",
            CustomAttributes="trace=1",
            TargetModel="model-a.tar.gz",
            InferenceId="inf-7",
            SessionId="NEW_SESSION",
        ),
    )
    seen = json.loads(result.pop("Body"))
    assert result == {
        "ContentType": "application/json",
        "InvokedProductionVariant": "AllTraffic",
        "CustomAttributes": "echo:trace=1",
        "NewSessionId": "s-1; Expires=2030-01-01T00:00:00Z",
    }
    assert seen["body"] == "1,2"
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    assert {
        name: headers.get(name)
        for name in (
            "content-type",
            "accept",
            "x-amzn-sagemaker-custom-attributes",
            "x-amzn-sagemaker-target-model",
            "x-amzn-sagemaker-inference-id",
            "x-amzn-sagemaker-session-id",
        )
    } == {
        "content-type": "text/csv",
        "accept": "application/json",
        "x-amzn-sagemaker-custom-attributes": "trace=1",
        "x-amzn-sagemaker-target-model": "model-a.tar.gz",
        "x-amzn-sagemaker-inference-id": "inf-7",
        "x-amzn-sagemaker-session-id": "NEW_SESSION",
    }
    large = b"7" * 6_291_456  # the largest body InvokeEndpoint takes
    assert json.loads(run(fleet, call(Body=large))["Body"])["body"] == large.decode()
    injected = error_of(fleet, call(CustomAttributes="a\r\nX-Injected: 1"))
    assert isinstance(injected, ValidationError)
    assert injected.message == (
        "The value of X-Amzn-SageMaker-Custom-Attributes must be printable ASCII without line breaks."
    )
    plain = run(fleet, call())
    assert "CustomAttributes" not in plain
    assert "x-amzn-sagemaker-custom-attributes" not in {
        k.lower() for k in json.loads(plain["Body"])["headers"]
    }


@pytest.mark.parametrize("status", [None, "Creating", "Failed", "Deleting"])
def test_an_endpoint_not_serving_is_not_found(fleet: Fleet, status: str | None) -> None:
    error = error_of(fleet, call(), status=status)
    assert isinstance(error, ValidationError)
    assert (error.code, error.status) == ("ValidationError", 400)
    assert error.message == "Endpoint ep of account 123456789012 not found."


def test_out_of_service_is_unavailable_at_once(fleet: Fleet, containers: Callable[[], str]) -> None:
    sick = Instance("i-1", containers(), healthy=False)
    fleet.router.set(route(VariantRoute("AllTraffic", 1.0, (sick,))))
    started = time.monotonic()
    error = error_of(fleet, call(), status="OutOfService", ready_wait=5.0)
    assert time.monotonic() - started < 2.0  # no wait for an instance the fleet found none of
    assert isinstance(error, ServiceUnavailable)
    assert (error.code, error.status) == ("ServiceUnavailable", 503)
    assert error.message == (
        "Endpoint ep is OutOfService: none of its instances can take requests now (DescribeEndpoint's "
        "FailureReason says why). Please try again later."
    )
    # An instance healthy again serves before the fleet's next round reports the endpoint InService.
    sick.healthy = True
    assert run(fleet, call(), status="OutOfService")["InvokedProductionVariant"] == "AllTraffic"


def test_container_errors_are_model_errors(fleet: Fleet, containers: Callable[[], str]) -> None:
    fleet.router.set(route(VariantRoute("AllTraffic", 1.0, (Instance("i-1", containers()),))))
    console = (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        f"#logEventViewer:group={LOG_GROUP}"
    )
    arn = f"arn:aws:logs:eu-west-1:123456789012:log-group:{LOG_GROUP}"
    for status, kind in ((400, "client"), (415, "client"), (500, "server"), (503, "server")):
        error = error_of(fleet, call(CustomAttributes=f"status={status}"))
        assert isinstance(error, ModelError)
        assert (error.code, error.status) == ("ModelError", 424)
        assert error.message == (
            f'Received {kind} error ({status}) from primary with message "the model refused this input". '
            f"See {console} in account 123456789012 for more information."
        )
        assert error.fields == {
            "OriginalStatusCode": status,
            "OriginalMessage": "the model refused this input",
            "LogStreamArn": arn,
        }

    late = error_of(fleet, call(CustomAttributes="sleep=1.5"), invocation_timeout=0.5)
    assert isinstance(late, ModelError)
    assert late.message == (
        'Received server error (0) from primary with message "Your invocation timed out while waiting for '
        "a response from container primary. Review the latency metrics for each container in Amazon "
        'CloudWatch, resolve the issue, and try again.". '
        f"See {console} in account 123456789012 for more information."
    )
    assert "OriginalStatusCode" not in late.fields
    assert late.fields["LogStreamArn"] == arn


def test_unknown_variant_and_no_healthy_instance(fleet: Fleet, containers: Callable[[], str]) -> None:
    sick = Instance("i-1", containers(), healthy=False)
    fleet.router.set(route(VariantRoute("A", 1.0, (sick,))))
    unknown = error_of(fleet, call(TargetVariant="B"))
    assert isinstance(unknown, ValidationError)
    assert unknown.message == "Variant B was not found for endpoint ep."

    started = time.monotonic()
    busy = error_of(fleet, call(), ready_wait=0.3)
    assert isinstance(busy, ServiceUnavailable)
    assert (busy.code, busy.status) == ("ServiceUnavailable", 503)
    assert busy.message == "No healthy instance of endpoint ep is available. Please try again."
    assert time.monotonic() - started >= 0.3
    targeted = error_of(fleet, call(TargetVariant="A"), ready_wait=0.1)
    assert (
        targeted.message == "No healthy instance of variant A of endpoint ep is available. Please try again."
    )

    # An instance that comes back while the request waits serves it.
    async def recovers(runtime: Runtime) -> Any:
        request = asyncio.create_task(call()(runtime))
        await asyncio.sleep(0.2)
        sick.healthy = True
        return await request

    assert run(fleet, recovers, ready_wait=3.0)["InvokedProductionVariant"] == "A"


def test_refused_connections_go_to_another_instance(fleet: Fleet, containers: Callable[[], str]) -> None:
    dead = Instance("i-dead", closed_port_url())
    live = Instance("i-live", containers())
    fleet.router.set(route(VariantRoute("A", 1.0, (dead, live))))

    # Ties between instances are broken at random: send until the dead one has been tried (each request
    # must still be answered), rather than hoping ten requests reach it.
    async def until_tried(runtime: Runtime) -> list[dict[str, Any]]:
        answers = [await call()(runtime)]
        while dead.healthy and len(answers) < 200:
            answers.append(await call()(runtime))
        return answers

    assert run(fleet, until_tried)
    assert dead.healthy is False  # out of routing at once, and reported to the fleet
    assert fleet.unreachable == [(CTX.key("ep"), "i-dead")]
    assert (dead.outstanding, live.outstanding) == (0, 0)

    live.healthy = False
    gone = tuple(Instance(f"i-gone-{n}", closed_port_url()) for n in range(3))
    fleet.router.set(route(VariantRoute("A", 1.0, gone)))
    error = error_of(fleet, call(), ready_wait=0.1)
    assert isinstance(error, ServiceUnavailable)
    assert re.fullmatch(
        r"No instance of endpoint ep could be reached "
        r"\(cannot connect to 127\.0\.0\.1:\d+: .+\)\. Please try again\.",
        error.message,
    ), error.message
    assert [instance.healthy for instance in gone] == [False, False, False]


def test_weighted_routing_and_target_variant(fleet: Fleet, containers: Callable[[], str]) -> None:
    a, b = containers(), containers()
    fleet.router.set(
        route(
            VariantRoute("A", 1.0, (Instance("a-1", a),)),
            VariantRoute("B", 3.0, (Instance("b-1", b),)),
            VariantRoute("C", 0.0, (Instance("c-1", containers()),)),
        )
    )

    async def tally(runtime: Runtime, target: str | None, count: int) -> Counter[str]:
        params = {"TargetVariant": target} if target else {}
        results = [await call(**params)(runtime) for _ in range(count)]
        return Counter(result["InvokedProductionVariant"] for result in results)

    counts = run(fleet, lambda runtime: tally(runtime, None, 800))
    assert set(counts) == {"A", "B"}  # weight 0: no traffic unless targeted
    assert 0.69 <= counts["B"] / 800 <= 0.81  # 3:1 (p of a false failure far below 1e-4)
    assert run(fleet, lambda runtime: tally(runtime, "C", 20)) == Counter({"C": 20})
    assert run(fleet, lambda runtime: tally(runtime, "A", 20)) == Counter({"A": 20})


def test_least_outstanding_requests_within_a_variant() -> None:
    busy, idle = Instance("busy", "http://x", outstanding=3), Instance("idle", "http://y", outstanding=1)
    variant = VariantRoute("A", 1.0, (busy, idle, Instance("sick", "http://z", healthy=False)))

    def picks(count: int) -> set[str]:
        return {getattr(variant.pick(), "instance_id", "none") for _ in range(count)}

    assert picks(50) == {"idle"}
    idle.outstanding = 3
    assert picks(200) == {"busy", "idle"}
    assert VariantRoute("B", 1.0, (Instance("s", "http://z", healthy=False),)).pick() is None


def test_response_stream_relays_chunks(fleet: Fleet, containers: Callable[[], str]) -> None:
    instance = Instance("i-1", containers())
    fleet.router.set(route(VariantRoute("AllTraffic", 1.0, (instance,))))

    async def stream(runtime: Runtime) -> tuple[dict[str, Any], list[bytes], int]:
        head, chunks = await runtime.invoke_stream(
            CTX, {"EndpointName": "ep", "Body": b"{}", "CustomAttributes": "stream"}
        )
        during = instance.outstanding
        parts = [chunk async for chunk in chunks]
        return head, parts, during

    head, parts, during = run(fleet, stream)
    assert head == {"ContentType": "application/jsonlines", "InvokedProductionVariant": "AllTraffic"}
    assert b"".join(parts) == b'{"token": "a"}\n{"token": "b"}\n{"token": "c"}\n'
    assert len(parts) >= 2  # relayed as they came, not gathered
    assert (during, instance.outstanding) == (1, 0)

    def failing(runtime: Runtime) -> Any:
        return runtime.invoke_stream(
            CTX, {"EndpointName": "ep", "Body": b"{}", "CustomAttributes": "status=500"}
        )

    error = error_of(fleet, failing)
    assert isinstance(error, ModelError)
    assert error.fields["OriginalStatusCode"] == 500
    assert instance.outstanding == 0
