"""The console's HTTP guard against a real emulator process: Host check, same-origin, CSRF, static files,
uploads, and every page answering with its security headers."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.emulator_fixtures import EmulatorProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def client(console_emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_emulator.url, timeout=30) as opened:
        yield opened


def token_of(client: httpx.Client) -> str:
    page = client.get("/console/models/new")
    assert page.status_code == 200
    found = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    "path",
    [
        "/console/models",
        "/console/models/new",
        "/console/endpoint-configs",
        "/console/endpoint-configs/new",
        "/console/endpoints",
        "/console/endpoints/new",
        "/console/model-packages",
        "/console/artifacts",
        "/console/images",
    ],
)
def test_every_page_answers_with_its_security_headers(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


def test_a_foreign_host_name_is_refused_naming_the_flag(client: httpx.Client) -> None:
    # What a DNS-rebinding page sends: its own name, resolved to 127.0.0.1.
    answer = client.get("/console/models", headers={"Host": "attacker.example:7474"})
    assert answer.status_code == 403
    assert "does not answer to the host name 'attacker.example:7474'" in answer.text
    assert "--allow-host" in answer.text


def test_localhost_is_accepted(client: httpx.Client, console_emulator: EmulatorProcess) -> None:
    answer = client.get("/console/models", headers={"Host": f"localhost:{console_emulator.port}"})
    assert answer.status_code == 200


def test_a_change_without_the_token_is_refused(client: httpx.Client) -> None:
    answer = client.post("/console/models", data={"name": "no-token"})
    assert answer.status_code == 403
    assert "form token is missing or stale" in answer.text


def test_a_change_with_a_token_of_another_browser_is_refused(
    client: httpx.Client, console_emulator: EmulatorProcess
) -> None:
    token = token_of(client)
    with httpx.Client(base_url=console_emulator.url) as other:  # another cookie: not its token
        other.get("/console/models")
        answer = other.post("/console/models", data={"name": "stolen-token", "csrf_token": token})
    assert answer.status_code == 403
    assert "form token is missing or stale" in answer.text


def test_a_change_from_another_origin_is_refused_even_with_the_token(
    client: httpx.Client, console_emulator: EmulatorProcess
) -> None:
    token = token_of(client)
    answer = client.post(
        "/console/models",
        data={"name": "cross-origin", "csrf_token": token},
        headers={"Origin": "http://attacker.example"},
    )
    assert answer.status_code == 403
    assert "refuses changes requested by the origin 'http://attacker.example'" in answer.text
    answer = client.post(
        "/console/models",
        data={"name": "cross-site", "csrf_token": token},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403
    assert "refuses changes requested by another site" in answer.text


def test_a_cross_site_fetch_of_a_page_is_refused(client: httpx.Client) -> None:
    answer = client.get("/console/models", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"})
    assert answer.status_code == 403


def test_the_cookie_is_http_only_and_same_site_strict(console_emulator: EmulatorProcess) -> None:
    answer = httpx.get(f"{console_emulator.url}/console/models")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


@pytest.mark.parametrize(
    "path", ["/console/static/../../server.py", "/console/static/%2e%2e/app.py", "/console/static/nope.js"]
)
def test_static_files_come_only_from_the_table(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code in (400, 404)
    assert "import" not in answer.text


def test_the_vendored_libraries_are_served(client: httpx.Client) -> None:
    for name in ("vendor/htmx-2.0.11.min.js", "vendor/uplot-1.6.32.iife.min.js", "console.js"):
        answer = client.get(f"/console/static/{name}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/javascript")


def test_an_upload_with_a_bad_name_is_refused(
    client: httpx.Client, console_emulator: EmulatorProcess
) -> None:
    token = token_of(client)
    headers = {"X-CSRF-Token": token}
    answer = client.put(
        "/console/artifacts/.hidden%20name.tar.gz", content=gzip.compress(b"x"), headers=headers
    )
    assert answer.status_code == 400
    assert "The file name '.hidden name.tar.gz' is not accepted: use letters, digits" in answer.text
    answer = client.put(
        "/console/artifacts/..%2F..%2Fevil.tar.gz", content=gzip.compress(b"x"), headers=headers
    )
    assert answer.status_code == 404  # a name is one path segment: this is no upload route at all
    assert not list(console_emulator.state_dir.parent.rglob("evil.tar.gz"))


def test_an_upload_that_is_not_gzip_is_refused(client: httpx.Client) -> None:
    token = token_of(client)
    answer = client.put(
        "/console/artifacts/model.tar.gz", content=b"plain text", headers={"X-CSRF-Token": token}
    )
    assert answer.status_code == 400
    assert "model.tar.gz is not a gzip file" in answer.text


def test_an_upload_lands_in_the_state_directory(
    client: httpx.Client, console_emulator: EmulatorProcess
) -> None:
    token = token_of(client)
    body = gzip.compress(b"not really a tar, but gzip")
    answer = client.put("/console/artifacts/guard-test.tar.gz", content=body, headers={"X-CSRF-Token": token})
    assert answer.status_code == 201, answer.text
    stored = console_emulator.state_dir / "console-artifacts" / "guard-test.tar.gz"
    assert answer.json() == {"name": "guard-test.tar.gz", "url": stored.resolve().as_uri(), "size": len(body)}
    assert stored.read_bytes() == body
    assert "guard-test.tar.gz" in client.get("/console/artifacts").text


def test_an_unknown_endpoint_shows_sagemakers_error(client: httpx.Client) -> None:
    answer = client.get("/console/endpoints/no-such-endpoint")
    assert answer.status_code == 400
    assert "ValidationException" in answer.text
    assert "Could not find endpoint" in answer.text
