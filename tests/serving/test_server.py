"""The real server as a process on a free 127.0.0.1 port, spoken to over real HTTP."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import HANDLERS, ServerProcess

pytestmark = pytest.mark.slow

ECHO = str(HANDLERS / "echo.py")


def test_ping_answers_503_while_loading_then_200(start_server, tmp_path: Path) -> None:
    server = start_server(
        "--handler",
        str(HANDLERS / "slow_load.py"),
        "--workers",
        "2",
        env={"SLOW_LOAD_SECONDS": "3"},
        ready=False,
    )
    server.wait_until(lambda: server.ping() is not None, what="the port answering")
    response = httpx.get(f"{server.url}/ping", timeout=2)
    assert response.status_code == 503
    assert response.json()["error"] == "ModelNotReady"
    assert "of 2 workers have the model loaded" in response.json()["message"]
    early = httpx.post(f"{server.url}/invocations", content=b"x", timeout=2)
    assert early.status_code == 503
    server.wait_ready()
    assert server.client.post("/invocations", content=b"x").text == "loaded"


def test_invocation_passes_body_types_and_sagemaker_headers(start_server) -> None:
    server = start_server("--handler", ECHO)
    response = server.client.post(
        "/invocations",
        content=b"1,2,3\n",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Accept": "application/json",
            "X-Amzn-SageMaker-Custom-Attributes": "trace=abc,tenant=7",
            "X-Amzn-SageMaker-Inference-Id": "inf-42",
            "X-Amzn-SageMaker-Target-Model": "model-a.tar.gz",
            "X-Something-Unknown": "ignored",
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-sagemaker-custom-attributes"] == "echo=trace=abc,tenant=7"
    seen = response.json()
    assert seen == {
        "data": "1,2,3\n",
        "content_type": "text/csv; charset=utf-8",
        "accept": "application/json",
        "custom_attributes": "trace=abc,tenant=7",
        "inference_id": "inf-42",
        "target_model": "model-a.tar.gz",
        "unknown_header": "ignored",
    }


def test_accept_defaults_and_custom_attributes_absent(start_server) -> None:
    server = start_server("--handler", ECHO)
    response = server.client.post("/invocations", content=b"[1]", headers={"Accept": "*/*"})
    assert response.json()["accept"] == "application/json"
    assert response.json()["content_type"] == "application/json"
    assert "x-amzn-sagemaker-custom-attributes" not in response.headers


def test_body_over_the_limit_is_413_and_the_server_stays_up(start_server) -> None:
    server = start_server("--handler", ECHO)
    exactly = b"a" * 6_291_456
    assert (
        server.client.post(
            "/invocations", content=exactly, headers={"Content-Type": "text/plain"}
        ).status_code
        == 200
    )
    response = server.client.post(
        "/invocations", content=exactly + b"a", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": "PayloadTooLarge",
        "message": "request body is 6,291,457 bytes; the limit is 6,291,456 bytes (6 MiB)",
    }

    def chunks():
        for _ in range(7):
            yield b"b" * 1_048_576

    chunked = server.client.post("/invocations", content=chunks(), headers={"Content-Type": "text/plain"})
    assert chunked.status_code == 413
    assert "more than 6,291,456 bytes" in chunked.json()["message"]
    assert server.ping() == 200
    assert server.client.post("/invocations", content=b"[1]").status_code == 200


def test_exception_in_user_code_is_a_json_500_with_the_traceback_logged(start_server) -> None:
    server = start_server("--handler", str(HANDLERS / "raises_in_predict.py"))
    response = server.client.post(
        "/invocations", content=b"[[1, 2]]", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "ValueError", "message": "feature 3 is out of range"}
    server.wait_until(lambda: "feature 3 is out of range" in server.stderr, what="the traceback in the log")
    logged = [json.loads(line) for line in server.stderr.splitlines() if "failed in the handler" in line]
    assert "Traceback" in logged[0]["traceback"]
    assert "raises_in_predict.py" in logged[0]["traceback"]
    assert server.ping() == 200


def test_undecodable_unsupported_and_unacceptable_requests(start_server) -> None:
    server = start_server("--handler", str(HANDLERS / "predictor_class.py"))
    bad_json = server.client.post(
        "/invocations", content=b"[[1, 2],\n [3, }]", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"] == "BadRequest"
    assert "application/json" in bad_json.json()["message"]
    assert "line 2" in bad_json.json()["message"]

    unsupported = server.client.post(
        "/invocations", content=b"<x/>", headers={"Content-Type": "application/xml"}
    )
    assert unsupported.status_code == 415
    assert "application/xml" in unsupported.json()["message"]
    assert "text/csv" in unsupported.json()["message"]

    unacceptable = server.client.post("/invocations", content=b"[[1]]", headers={"Accept": "image/png"})
    assert unacceptable.status_code == 406
    assert "image/png" in unacceptable.json()["message"]

    csv = server.client.post(
        "/invocations",
        content=b"1,2\n3,4\n",
        headers={"Content-Type": "text/csv", "Accept": "text/csv;q=0.9, */*;q=0.1"},
    )
    assert csv.status_code == 200
    assert csv.headers["content-type"] == "text/csv"
    assert csv.text.split() == ["2.0,4.0", "6.0,8.0"]
    assert server.ping() == 200


def test_routes_and_methods(start_server) -> None:
    server = start_server("--handler", ECHO, "--workers", "3")
    assert server.client.get("/invocations").status_code == 405
    missing = server.client.get("/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == "NotFound"
    params = server.client.get("/execution-parameters")
    assert params.json() == {
        "MaxConcurrentTransforms": 3,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


def test_request_past_the_timeout_gets_a_prompt_504_and_the_worker_serves_on(start_server) -> None:
    server = start_server("--handler", str(HANDLERS / "sleeps.py"), "--timeout", "1", "--workers", "1")
    started = time.monotonic()
    response = server.client.post("/invocations", content=b"30", headers={"Content-Type": "text/csv"})
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json() == {
        "error": "ModelTimeout",
        "message": "the model did not answer within the 1 s timeout",
    }
    assert elapsed < 5
    assert (
        server.client.post("/invocations", content=b"0", headers={"Content-Type": "text/csv"}).text == "done"
    )
    assert "interrupted at" in server.stderr


def test_worker_stuck_in_uninterruptible_code_is_killed_and_replaced(start_server) -> None:
    server = start_server("--handler", str(HANDLERS / "sleeps.py"), "--timeout", "1", "--workers", "1")
    with pytest.raises(httpx.TransportError):
        server.client.post(
            "/invocations", content=b"block 60", headers={"Content-Type": "text/csv"}, timeout=20
        )
    assert "in code that cannot be interrupted; killing it" in server.stderr
    server.wait_ready(timeout=30)
    assert (
        server.client.post("/invocations", content=b"0", headers={"Content-Type": "text/csv"}).text == "done"
    )


@pytest.mark.parametrize(
    ("how", "reason"), [("exit", "exited with status 7"), ("segv", "was killed by SIGSEGV")]
)
def test_dead_worker_fails_only_its_request_and_is_restarted(start_server, how: str, reason: str) -> None:
    server = start_server("--handler", str(HANDLERS / "kills_worker.py"), "--workers", "2")
    results: list[int] = []

    def steady_traffic() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for _ in range(40):
                try:
                    results.append(client.post("/invocations", content=b"ok").status_code)
                except httpx.TransportError:
                    results.append(-1)

    with pytest.raises(httpx.TransportError):
        server.client.post("/invocations", content=how.encode())
    # /ping reflects the missing worker until its replacement has loaded the model.
    threading.Thread(target=steady_traffic).start()
    server.wait_until(lambda: reason in server.stderr, what="the death being logged")
    server.wait_ready(timeout=30)
    server.wait_until(lambda: len(results) == 40, what="steady traffic finishing")
    assert results.count(200) >= 38  # only requests racing the dying worker's socket may fail
    assert server.client.post("/invocations", content=b"ok").text == "alive"


def test_model_that_fails_to_load_never_pings_200_and_the_server_exits_non_zero(start_server) -> None:
    server = start_server(
        "--handler",
        str(HANDLERS / "raises_in_load.py"),
        "--workers",
        "1",
        "--startup-timeout",
        "3",
        ready=False,
    )
    statuses = set()
    deadline = time.monotonic() + 20
    while server.process.poll() is None and time.monotonic() < deadline:
        statuses.add(server.ping())
        time.sleep(0.1)
    assert server.process.returncode == 1
    assert 200 not in statuses
    assert "FileNotFoundError: model weights weights.bin are missing" in server.stderr
    assert "could not load the model" in server.stderr
    assert "did not load in every worker within the 3 s start-up window" in server.stderr


def test_sigterm_finishes_in_flight_requests_then_exits(start_server) -> None:
    server = start_server("--handler", str(HANDLERS / "sleeps.py"), "--workers", "1")
    outcome: dict[str, object] = {}

    def slow_request() -> None:
        response = httpx.post(
            f"{server.url}/invocations", content=b"2", headers={"Content-Type": "text/csv"}, timeout=10
        )
        outcome["status"] = response.status_code
        outcome["body"] = response.text

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=30)
    thread.join(timeout=10)
    assert outcome == {"status": 200, "body": "done"}
    assert server.process.returncode == 0
    assert time.monotonic() - started < 30
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/ping", timeout=1)


def test_access_log_has_one_json_line_per_request(start_server) -> None:
    server = start_server("--handler", ECHO)
    server.client.post("/invocations", content=b"abc", headers={"X-Amzn-SageMaker-Inference-Id": "i-1"})
    server.client.get("/nope")
    server.wait_until(lambda: server.stdout.count("\n") >= 3, what="access lines")
    lines = [json.loads(line) for line in server.stdout.splitlines()]
    invocation = next(line for line in lines if line["path"] == "/invocations")
    assert invocation["status"] == 200
    assert invocation["bytes_in"] == 3
    assert invocation["bytes_out"] > 0
    assert invocation["latency_ms"] >= 0
    assert invocation["request_id"]
    missing = next(line for line in lines if line["path"] == "/nope")
    assert (missing["status"], missing["error"]) == (404, "NotFound")


def metrics_text(server: ServerProcess, expected: str, within: float = 5.0) -> str:
    """The metrics page once it shows ``expected`` (workers write their tallies out every second)."""
    deadline = time.monotonic() + within
    while True:
        text = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).text
        if expected in text or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def test_prometheus_metrics_on_their_own_port(start_server) -> None:
    server = start_server("--handler", ECHO, "--workers", "2")
    for _ in range(5):
        server.client.post("/invocations", content=b"x")
    server.client.get("/nope")
    # Workers write their tallies out every second.
    text = metrics_text(server, 'dockyard_requests_total{path="/nope",status="404"} 1.0')
    assert 'dockyard_requests_total{path="/invocations",status="200"} 5.0' in text
    assert 'dockyard_requests_total{path="/nope",status="404"} 1.0' in text
    assert 'dockyard_request_duration_seconds_count{path="/invocations"} 5.0' in text
    assert "dockyard_model_load_seconds" in text
    assert server.client.get("/metrics").status_code == 404  # not on SageMaker's port


def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "dockyard.serving.cli",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--metrics-port",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
            check=False,
        )
    assert result.returncode == 2
    assert f"serve: error: cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr


def test_batching_under_concurrency_answers_each_caller_with_its_own_rows(start_server) -> None:
    import asyncio

    server = start_server(
        "--handler", str(HANDLERS / "predictor_class.py"), "--workers", "1", "--max-batch-size", "16"
    )

    async def burst() -> list[tuple[int, list[list[float]]]]:
        async with httpx.AsyncClient(
            base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=32)
        ) as client:

            async def one(index: int) -> tuple[int, list[list[float]]]:
                rows = [[float(index), float(index) + 0.5]] * (1 + index % 3)
                response = await client.post("/invocations", json=rows)
                assert response.status_code == 200, response.text
                return index, response.json()

            return await asyncio.gather(*(one(index) for index in range(200)))

    for index, answer in asyncio.run(burst()):
        assert answer == [[2.0 * index, 2.0 * index + 1.0]] * (1 + index % 3)
    metrics = metrics_text(server, "dockyard_batch_size_count")
    calls = next(line for line in metrics.splitlines() if line.startswith("dockyard_batch_size_count"))
    merged = float(calls.split()[-1])
    assert merged < 200, "concurrent requests were merged into fewer predict calls"
