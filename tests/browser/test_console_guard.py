"""The console behind the emulator's front door, over plain HTTP against a real emulator process: the
login link, the session's CSRF header on every change, the pages' own security headers, static files
only from their table, and the upload's checks. (The Host and Origin checks of every route, the
console's included, are the security middleware's, tested with it.)"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.browser.conftest import LOGIN
from tests.emulator_fixtures import EmulatorProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def client(console_emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    """A browser-like client logged in through the console's link."""
    with httpx.Client(base_url=console_emulator.url, timeout=30, follow_redirects=True) as opened:
        assert opened.get(LOGIN).status_code == 200
        yield opened


def csrf_of(client: httpx.Client) -> str:
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
        "/console/buckets",
        "/console/repositories",
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


def test_the_console_needs_its_login_link(console_emulator: EmulatorProcess) -> None:
    answer = httpx.get(f"{console_emulator.url}/console/models")
    assert answer.status_code == 403
    assert "needs its login link" in answer.text


def test_every_page_carries_the_sessions_csrf_token_for_htmx(client: httpx.Client) -> None:
    page = client.get("/console/endpoints").text
    token = csrf_of(client)
    assert f"""hx-headers='{{"X-Dockyard-CSRF": "{token}"}}'""" in page


def test_a_change_without_the_csrf_header_is_refused(client: httpx.Client) -> None:
    answer = client.post("/console/models", data={"name": "no-token"})
    assert answer.status_code == 403
    assert "lacks its CSRF token" in answer.text


def test_a_form_refused_by_sagemaker_comes_back_with_its_message(client: httpx.Client) -> None:
    headers = {"X-Dockyard-CSRF": csrf_of(client), "HX-Request": "true"}
    answer = client.post("/console/models", data={"name": "bad_name!", "image": "x"}, headers=headers)
    assert answer.status_code == 200  # htmx swaps only 2xx answers in
    assert "Value &#39;bad_name!&#39; at &#39;modelName&#39; failed to satisfy constraint" in answer.text
    plain = client.post(
        "/console/models", data={"name": "bad_name!"}, headers={"X-Dockyard-CSRF": csrf_of(client)}
    )
    assert plain.status_code == 400


@pytest.mark.parametrize(
    "path", ["/console/static/../../server.py", "/console/static/%2e%2e/app.py", "/console/static/nope.js"]
)
def test_static_files_come_only_from_the_table(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code in (400, 403, 404)
    assert "import" not in answer.text


def test_the_vendored_libraries_are_served(client: httpx.Client) -> None:
    for name in ("vendor/htmx-2.0.11.min.js", "vendor/uplot-1.6.32.iife.min.js", "console.js"):
        answer = client.get(f"/console/static/{name}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/javascript")


def test_an_upload_with_a_bad_name_is_refused(
    client: httpx.Client, console_emulator: EmulatorProcess
) -> None:
    headers = {"X-Dockyard-CSRF": csrf_of(client)}
    body = gzip.compress(b"x")
    answer = client.put("/console/artifacts/.hidden%20name.tar.gz", content=body, headers=headers)
    assert answer.status_code == 400
    assert "The file name '.hidden name.tar.gz' is not accepted: use letters, digits" in answer.text
    answer = client.put("/console/artifacts/..%2F..%2Fevil.tar.gz", content=body, headers=headers)
    assert answer.status_code == 404  # a name is one path segment: this is no upload route at all
    assert not list(console_emulator.state_dir.parent.rglob("evil.tar.gz"))


def test_an_upload_that_is_not_gzip_is_refused(client: httpx.Client) -> None:
    headers = {"X-Dockyard-CSRF": csrf_of(client)}
    answer = client.put("/console/artifacts/model.tar.gz", content=b"plain text", headers=headers)
    assert answer.status_code == 400
    assert "model.tar.gz is not a gzip file" in answer.text


def test_an_upload_lands_in_the_local_s3(client: httpx.Client, console_emulator: EmulatorProcess) -> None:
    headers = {"X-Dockyard-CSRF": csrf_of(client)}
    body = gzip.compress(b"not really a tar, but gzip")
    answer = client.put("/console/artifacts/guard-test.tar.gz", content=body, headers=headers)
    assert answer.status_code == 201, answer.text
    bucket = "dockyard-123456789012-us-east-1"  # where `dockyard deploy` puts model data
    key = "console-uploads/guard-test.tar.gz"
    assert answer.json() == {"name": "guard-test.tar.gz", "url": f"s3://{bucket}/{key}", "size": len(body)}
    s3 = console_emulator.client("s3")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert f"s3://{bucket}/{key}" in client.get("/console/artifacts").text
    assert key in client.get(f"/console/buckets/{bucket}").text


def test_an_unknown_endpoint_shows_sagemakers_error(client: httpx.Client) -> None:
    answer = client.get("/console/endpoints/no-such-endpoint")
    assert answer.status_code == 400
    assert "ValidationException" in answer.text
    assert "Could not find endpoint" in answer.text
