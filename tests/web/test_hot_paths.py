"""The endpoints answered before the router (web/oauth_endpoints.py: HotPaths) keep every HTTP rule of the
rest of the site: security headers, methods, HEAD, and an access log that never carries a token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.oauth.test_introspect_revoke import cred, issued, tokens  # noqa: F401 - fixtures

SECURITY = ("x-content-type-options", "referrer-policy", "x-frame-options", "content-security-policy")


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/oauth/openid-configuration.php",
                                  "/oauth/certs.php", "/oauth/jwks"])
def test_public_documents_carry_security_and_cache_headers(client, path):
    r = client.get(path)
    assert r.status_code == 200
    for name in SECURITY:
        assert name in r.headers, name
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.headers["access-control-allow-origin"] == "*"
    assert int(r.headers["content-length"]) == len(r.content)


def test_under_an_issuer_path_the_endpoints_live_below_it(database_url, db, tmp_path):
    from starlette.testclient import TestClient

    from hospes.app import create_app
    from hospes.config import load_settings

    settings = load_settings(database_url=database_url, var_dir=str(tmp_path / "var"),
                             secret_key="test-secret-key-" + "x" * 32, issuer="http://127.0.0.1:8000/portal")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as c:
        doc = c.get("/portal/.well-known/openid-configuration")
        assert doc.status_code == 200
        assert doc.json()["token_endpoint"] == "http://127.0.0.1:8000/portal/oauth/token.php"
        assert c.get("/portal/oauth/jwks").status_code == 200
        bad = c.post("/portal/oauth/token.php", data={"grant_type": "password"})
        assert bad.status_code == 400 and bad.json()["error"] == "unsupported_grant_type"
        # Outside the issuer's path there is nothing.
        assert c.get("/.well-known/openid-configuration").status_code == 404


def test_head_gives_the_headers_without_the_body(client):
    full = client.get("/.well-known/openid-configuration")
    head = client.head("/.well-known/openid-configuration")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == full.headers["content-length"]


@pytest.mark.parametrize("path", ["/oauth/token.php", "/oauth/userinfo.php", "/oauth/introspect",
                                  "/.well-known/openid-configuration"])
def test_other_methods_get_405_with_allow(client, path):
    r = client.put(path, content=b"x")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]
    assert r.headers["cache-control"] == "no-store"
    assert "x-content-type-options" in r.headers


def test_token_answers_are_never_cached_and_carry_security_headers(client, cred, issued):  # noqa: F811
    r = client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + issued["access_token"]})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store" and r.headers["pragma"] == "no-cache"
    for name in SECURITY:
        assert name in r.headers, name
    bad = client.post("/oauth/token.php", data={"grant_type": "refresh_token", "refresh_token": "nope"},
                      auth=(cred.client_id, cred.client_secret))
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    assert bad.headers["cache-control"] == "no-store"


def test_an_oversized_body_is_refused_with_413(client, cred):  # noqa: F811
    r = client.post("/oauth/introspect", content=b"token=" + b"a" * 70_000,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    auth=(cred.client_id, cred.client_secret))
    assert r.status_code == 413
    assert r.json()["error"] == "invalid_request"


# -- the access log, on the real server -----------------------------------------------------------------


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"HOSPES_ACCESS_LOG": "true"}


def test_access_log_names_requests_but_never_their_query(server: Any):
    secret = "sekrit-token-value-1234567890"
    httpx.get(server.url + "/oauth/userinfo.php?access_token=" + secret)
    httpx.get(server.url + "/login?next=" + secret)
    httpx.get(server.url + "/.well-known/openid-configuration")
    server.process.terminate()
    server.process.wait(10)
    log = server.log.read_text()
    assert '"GET /oauth/userinfo.php" 401' in log
    assert '"GET /.well-known/openid-configuration" 200' in log
    assert '"GET /login"' in log
    assert secret not in log


def test_a_failing_handler_is_a_json_500_without_details(app, client, issued, monkeypatch, caplog):  # noqa: F811
    # Nothing in Starlette wraps the hot paths: HotPaths itself turns a crash into the protocol's error form.
    async def broken(*_: Any) -> None:
        raise RuntimeError("database went away: secret detail")

    monkeypatch.setattr(app.state.web.provider.lookups, "userinfo", broken)
    r = client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + issued["access_token"]})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert all(h in r.headers for h in SECURITY)
    assert r.json()["error"] == "server_error"
    assert "secret detail" not in r.text and "Traceback" not in r.text
    # The failure is logged for the operator, without the token.
    assert "GET /oauth/userinfo.php failed" in caplog.text
    assert issued["access_token"] not in caplog.text
