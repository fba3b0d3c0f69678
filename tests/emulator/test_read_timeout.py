"""The emulator's read timeout, over raw sockets: a client that stalls gets a 408 and loses its connection."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.aws_fixtures import FAKE_KEY, REGION
from tests.emulator_fixtures import EmulatorProcess

pytestmark = pytest.mark.slow

TIMEOUT = 1.0
HEAD = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
    b"X-Amz-Target: SageMaker.ListModels\r\n"
)


def _signed_head(emulator: EmulatorProcess, body: bytes) -> bytes:
    """HEAD, signed for ``body`` as botocore signs (the emulator refuses unsigned requests), with the
    Content-Length of the whole body, whether or not all of it is then sent."""
    request = AWSRequest(
        "POST",
        f"{emulator.url}/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListModels"},
    )
    SigV4Auth(Credentials(FAKE_KEY, FAKE_KEY), "sagemaker", REGION).add_auth(request)
    lines = [f"Host: 127.0.0.1:{emulator.port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("POST / HTTP/1.1\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(tmp_path_factory.mktemp("timeout") / "state", "http://127.0.0.1:9")
    process.env["DOCKYARD_EMULATOR_READ_TIMEOUT"] = str(TIMEOUT)
    process.start()
    yield process
    process.stop()


def _signed_head(emulator: EmulatorProcess, body: bytes) -> bytes:
    """The head of a ListModels request signed as boto3 signs it (with the test suite's key)."""
    request = AWSRequest(
        method="POST",
        url=f"{emulator.url}/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListModels"},
    )
    SigV4Auth(Credentials(FAKE_KEY, FAKE_KEY), "sagemaker", REGION).add_auth(request)
    lines = [f"{name}: {value}" for name, value in request.headers.items()]
    lines += [f"Host: 127.0.0.1:{emulator.port}", f"Content-Length: {len(body)}"]
    return ("POST / HTTP/1.1\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode()


def _connect(emulator: EmulatorProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", emulator.port), timeout=10)


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _response(sock: socket.socket) -> bytes:
    """One chunked response (what the emulator sends for the API)."""
    received = b""
    while not received.endswith(b"\r\n0\r\n\r\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_a_body_that_stops_arriving_is_answered_408_and_closed(impatient: EmulatorProcess) -> None:
    with _connect(impatient) as sock:
        sock.sendall(_signed_head(impatient, b"{" + b" " * 98 + b"}") + b"{")
        started = time.monotonic()
        answer = _answer(sock)
    assert TIMEOUT * 0.9 <= time.monotonic() - started < TIMEOUT + 3
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert answer.endswith(b"\r\n\r\nthe request did not arrive within the read timeout")


def test_headers_trickled_a_byte_at_a_time_are_cut_off(impatient: EmulatorProcess) -> None:
    with _connect(impatient) as sock:
        started = time.monotonic()
        sent = 0
        try:
            for byte in HEAD:  # one byte every 0.2 s: each read is quick, the headers never complete
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.2)
        except OSError:
            pass
        answer = _answer(sock)
    assert time.monotonic() - started < TIMEOUT + 3
    assert sent < len(HEAD)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_connection_that_sends_nothing_is_closed(impatient: EmulatorProcess) -> None:
    with _connect(impatient) as sock:
        started = time.monotonic()
        _answer(sock)
    assert time.monotonic() - started < TIMEOUT + 3


def test_a_slow_but_steady_body_and_a_slow_answer_are_not_timed_out(impatient: EmulatorProcess) -> None:
    body = b"{}"
    with _connect(impatient) as sock:
        sock.sendall(_signed_head(impatient, body))
        for byte in body:  # the body may pause up to the timeout between two reads
            time.sleep(TIMEOUT * 0.6)
            sock.sendall(bytes([byte]))
        assert _response(sock).startswith(b"HTTP/1.1 200 OK\r\n")


def test_keep_alive_requests_each_get_their_own_deadline(impatient: EmulatorProcess) -> None:
    with _connect(impatient) as sock:
        for _ in range(3):
            sock.sendall(_signed_head(impatient, b"{}") + b"{}")
            assert _response(sock).startswith(b"HTTP/1.1 200 OK\r\n")
            time.sleep(TIMEOUT * 0.6)  # less than the keep-alive timeout (5 s) and the read timeout


def test_a_request_that_is_not_http_gets_an_aws_shaped_error(impatient: EmulatorProcess) -> None:
    with _connect(impatient) as sock:
        sock.sendall(HEAD + b"Content-Type: \x1f\r\nContent-Length: 2\r\n\r\n{}")
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"x-amzn-errortype: SerializationException\r\n" in answer
    assert answer.endswith(
        b'\r\n\r\n{"__type":"SerializationException","message":"The request is not valid HTTP/1.1."}'
    )


def test_a_read_timeout_that_is_not_a_number_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.emulator.settings import EmulatorSettings
    from dockyard.errors import UsageError

    monkeypatch.setenv("DOCKYARD_EMULATOR_READ_TIMEOUT", "soon")
    with pytest.raises(UsageError) as caught:
        EmulatorSettings()
    assert caught.value.message == (
        "DOCKYARD_EMULATOR_READ_TIMEOUT='soon' is not a number of seconds above 0, such as 30"
    )
    monkeypatch.setenv("DOCKYARD_EMULATOR_READ_TIMEOUT", "2.5")
    assert EmulatorSettings().read_timeout == 2.5
