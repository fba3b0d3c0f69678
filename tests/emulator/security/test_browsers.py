"""What a web page can and cannot do: foreign Host names (DNS rebinding) and cross-origin requests are
refused before any service runs, no CORS preflight is ever allowed, and the console's own pages get in
only with their login link, a session cookie and a CSRF token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.emulator.security.echo_server import CREDENTIALS, REGION, SECRET, SecuredServer, secured

__all__ = ["secured"]


def _signed_headers(
    server: SecuredServer, path: str, host: str, service: str = "sagemaker"
) -> dict[str, str]:
    extra = {} if service == "s3" else {"X-Amz-Target": "SageMaker.ListEndpoints"}
    request = AWSRequest("GET", f"http://{host}{path}", data=b"", headers=extra)
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials("k", SECRET), service, REGION).add_auth(request)
    return {**dict(request.headers.items()), "Host": host}


def test_a_foreign_host_is_refused_with_the_flag_that_allows_it(secured: SecuredServer) -> None:
    answer = httpx.post(
        secured.url + "/",
        headers={
            "Host": "attacker.example:7474",
            "Origin": "http://attacker.example",
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.ListEndpoints",
        },
        content=b"{}",
    )
    assert answer.status_code == 403
    assert answer.json() == {
        "__type": "AccessDeniedException",
        "message": "Host 'attacker.example:7474' is not allowed: the local target answers requests for "
        "127.0.0.1, [::1], localhost, mybox.lan only, so that a web page cannot reach it through DNS "
        "rebinding. To serve this name on purpose, start the emulator with --allow-host attacker.example "
        "(or DOCKYARD_EMULATOR_ALLOW_HOSTS=attacker.example).",
    }
    assert secured.app.seen == [] or all(seen.path != "/" or seen.auth for seen in secured.app.seen)


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:7474", "127.0.0.1:1", "[::1]:7474", "mybox.lan:7474"]
)
def test_loopback_and_allowed_names_are_answered_on_any_port(secured: SecuredServer, host: str) -> None:
    answer = httpx.get(secured.url + "/", headers=_signed_headers(secured, "/", host))
    assert answer.status_code == 200, answer.text


def test_host_names_compare_without_case_or_trailing_dot(secured: SecuredServer) -> None:
    for host in ("LOCALHOST", "localhost.", "MyBox.LAN:80"):
        assert httpx.get(secured.url + "/_dockyard/status", headers={"Host": host}).status_code == 200


def test_subdomains_are_answered_for_s3_virtual_hosted_buckets_only(secured: SecuredServer) -> None:
    bucket = httpx.get(
        secured.url + "/k", headers=_signed_headers(secured, "/k", "dy-bucket.localhost:9", "s3")
    )
    assert bucket.status_code == 200, bucket.text
    assert secured.app.seen[-1].auth.service == "s3"
    deep = httpx.get(secured.url + "/", headers=_signed_headers(secured, "/", "b.s3.localhost", "s3"))
    assert deep.status_code == 200
    api = httpx.get(secured.url + "/", headers=_signed_headers(secured, "/", "x.localhost"))
    assert api.status_code == 403
    assert "Host 'x.localhost' is not allowed" in api.text
    unsigned = httpx.get(secured.url + "/", headers={"Host": "evil.mybox.lan"})
    assert unsigned.status_code == 403


def test_a_missing_host_is_refused(secured: SecuredServer) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", secured.port), timeout=10) as connection:
        connection.sendall(b"GET /_dockyard/status HTTP/1.0\r\n\r\n")
        answer = connection.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 403 ")
    assert "Host '(none)' is not allowed" in answer


def test_cross_origin_requests_are_refused_even_when_signed(secured: SecuredServer) -> None:
    host = f"127.0.0.1:{secured.port}"
    headers = _signed_headers(secured, "/", host)
    foreign = httpx.get(secured.url + "/", headers={**headers, "Origin": "http://attacker.example"})
    assert foreign.status_code == 403
    assert foreign.json()["message"] == (
        "Cross-origin request refused: a web page at 'http://attacker.example' may not call the local "
        "target. Browsers reach it only through its console at /console/; scripts use an AWS SDK or the CLI."
    )
    null = httpx.get(secured.url + "/", headers={**headers, "Origin": "null"})
    assert null.status_code == 403
    site = httpx.get(secured.url + "/", headers={**headers, "Sec-Fetch-Site": "cross-site"})
    assert site.status_code == 403
    assert "Cross-site request refused (Sec-Fetch-Site: cross-site)" in site.text
    same_site = httpx.get(secured.url + "/", headers={**headers, "Sec-Fetch-Site": "same-site"})
    assert same_site.status_code == 403
    own = httpx.get(
        secured.url + "/", headers={**headers, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
    )
    assert own.status_code == 200


def test_a_cross_origin_text_plain_post_never_reaches_invocations(secured: SecuredServer) -> None:
    before = len(secured.app.seen)
    answer = httpx.post(
        secured.url + "/endpoints/iris/invocations",
        headers={
            "Content-Type": "text/plain",
            "Origin": "http://attacker.example",
            "Sec-Fetch-Site": "cross-site",
        },
        content=b"payload",
    )
    assert answer.status_code == 403
    assert answer.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert "access-control-allow-origin" not in answer.headers
    assert len(secured.app.seen) == before


def test_cors_preflights_are_never_allowed(secured: SecuredServer) -> None:
    for path in ("/", "/endpoints/iris/invocations", "/bucket/key", "/console/"):
        answer = httpx.options(
            secured.url + path,
            headers={
                "Origin": "http://attacker.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,x-amz-target",
            },
        )
        assert answer.status_code == 403
        assert not [name for name in answer.headers if name.startswith("access-control-")]


def test_the_sdks_still_work_from_any_allowed_name(secured: SecuredServer) -> None:
    client: Any = secured.client("sagemaker")
    client.list_endpoints()
    foreign: Any = SecuredServer.client(secured, "sagemaker")
    foreign.meta.events.register("before-sign.*.*", _rename_host)
    with pytest.raises(ClientError) as caught:
        foreign.list_endpoints()
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def _rename_host(request: Any, **_: Any) -> None:
    request.headers["Host"] = "rebound.example"


# ---- the console ---------------------------------------------------------------------------------


def test_the_console_needs_its_login_link(secured: SecuredServer) -> None:
    bare = httpx.get(secured.url + "/console/")
    assert (bare.status_code, bare.text) == (
        403,
        "The console needs its login link: open the one `dockyard emulator up` printed "
        "(or run `dockyard emulator console`).",
    )
    wrong = httpx.get(secured.url + "/console/?token=guess")
    assert wrong.status_code == 403
    assert wrong.text.startswith("This console link's token is not the emulator's")
    login = httpx.get(secured.url + f"/console/endpoints?token={CREDENTIALS.console_token}&page=2")
    assert login.status_code == 303
    assert login.headers["location"] == "/console/endpoints?page=2"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie


def test_console_sessions_need_the_csrf_token_to_change_anything(secured: SecuredServer) -> None:
    login = httpx.get(secured.url + f"/console/?token={CREDENTIALS.console_token}")
    cookie = login.headers["set-cookie"].split(";")[0]
    page = httpx.get(secured.url + "/console/", headers={"Cookie": cookie})
    assert page.status_code == 200
    session = secured.app.seen[-1].console
    assert session is not None
    assert len(session.csrf_token) == 64
    no_token = httpx.post(secured.url + "/console/api/endpoints", headers={"Cookie": cookie})
    assert no_token.status_code == 403
    assert "lacks its CSRF token (the x-dockyard-csrf header" in no_token.text
    with_token = httpx.post(
        secured.url + "/console/api/endpoints",
        headers={"Cookie": cookie, "X-Dockyard-CSRF": session.csrf_token, "Origin": secured.url},
    )
    assert with_token.status_code == 200
    forged = httpx.get(secured.url + "/console/", headers={"Cookie": cookie[:-3] + "abc"})
    assert forged.status_code == 403
    cross = httpx.post(
        secured.url + "/console/api/endpoints",
        headers={
            "Cookie": cookie,
            "X-Dockyard-CSRF": session.csrf_token,
            "Origin": "http://attacker.example",
        },
    )
    assert cross.status_code == 403
