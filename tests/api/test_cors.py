"""A browser application calls the customer API from the origin of one of its registered redirect URIs (CORS,
https://fetch.spec.whatwg.org/#http-cors-protocol): preflights from such an origin are answered, answers name
the origin only for the token's own client, and other origins are never named."""

from __future__ import annotations

from typing import Any

from tests.api import token_for

SPA = "https://spa.example.com"
OTHER = "https://other.example.com"


def test_a_preflight_from_a_registered_origin_is_answered(client: Any, make_credential: Any) -> None:
    make_credential(redirect_uri=SPA + "/callback", scope="services:read")
    r = client.options("/api/v1/services", headers={"origin": SPA, "access-control-request-method": "GET",
                                                     "access-control-request-headers": "authorization"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == SPA
    assert "GET" in r.headers["access-control-allow-methods"] and "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = client.options("/api/v1/services", headers={"origin": OTHER, "access-control-request-method": "GET"})
    assert r.status_code == 204 and "access-control-allow-origin" not in r.headers


def test_answers_name_the_origin_of_the_tokens_own_client_only(client: Any, make_account: Any,
                                                               make_credential: Any) -> None:
    jane = make_account()
    spa = make_credential(redirect_uri=SPA + "/callback", scope="services:read")
    make_credential(redirect_uri=OTHER + "/callback", scope="services:read")
    tok = token_for(client, jane, spa, "services:read")["access_token"]
    auth = {"authorization": f"Bearer {tok}"}
    r = client.get("/api/v1/services", headers={**auth, "origin": SPA})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == SPA
    assert "WWW-Authenticate" in r.headers["access-control-expose-headers"]
    assert "Origin" in r.headers["vary"]
    # Another client's origin is not this token's: the browser will not let that page read the answer.
    r = client.get("/api/v1/services", headers={**auth, "origin": OTHER})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    # A refusal is readable from a registered origin (its challenge tells the application what to do).
    r = client.get("/api/v1/invoices", headers={**auth, "origin": SPA})
    assert r.status_code == 403 and r.headers["access-control-allow-origin"] == SPA
    r = client.get("/api/v1/services", headers={"origin": "https://evil.example"})
    assert r.status_code == 401 and "access-control-allow-origin" not in r.headers
