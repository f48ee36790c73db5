"""Pushed authorization requests (RFC 9126) and request objects (RFC 9101) against the real server, sent by
panva's certified libraries (tests/js/par_rp.mjs: openid-client and oauth4webapi), through the login and
consent pages over HTTP; then what the server refuses: a request_uri or a request object used again."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.browserless import authorize, query_of
from tests.conftest import once_per_suite
from tests.e2e import REDIRECT_URI, add_credential, add_user, need_node, node_rp
from tests.e2e.test_client_metadata_documents import DocumentServer, Route, _hospes
from tests.tls import make_certificates

SCOPE = "openid email"


def run_rp(server: Any, cred: Any, user: Any, lib: str, mode: str, **env: str) -> tuple[dict[str, Any], str]:
    """Run the relying party; log in and consent as the person; its JSON line and the authorization URL."""
    need_node("oauth4webapi", "openid-client")
    lines, url = node_rp("par_rp.mjs", server, user.email, user.password, {
        "CLIENT_ID": cred.client_id, "CLIENT_SECRET": cred.client_secret, "REDIRECT_URI": REDIRECT_URI,
        "SCOPE": SCOPE, "LIB": lib, "MODE": mode, **env})
    return lines[-1], url


@once_per_suite
@pytest.mark.parametrize("lib", ["openid-client", "oauth4webapi"])
def test_a_pushed_request_logs_in_once(server: Any, lib: str) -> None:
    user = add_user(server, "Parker")
    cred = add_credential(server, scope=SCOPE)
    out, url = run_rp(server, cred, user, lib, "par")
    assert out["aud"] == cred.client_id and set(out["scope"].split()) == set(SCOPE.split())
    q = query_of(url)
    assert set(q) == {"client_id", "request_uri"} and q["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    # RFC 9126 §4: the request_uri was used; again it is refused, with a page (no redirect to trust).
    again = httpx.get(url, timeout=10)
    assert again.status_code == 400 and "invalid_request_uri" in again.text
    assert "location" not in again.headers


@once_per_suite
@pytest.mark.parametrize(("lib", "mode"), [("openid-client", "jar"), ("oauth4webapi", "jar"),
                                           ("oauth4webapi", "par+jar")])
def test_a_request_object_signed_by_the_clients_key_logs_in(server: Any, tmp_path: Any, lib: str, mode: str) -> None:
    key = ECKey.generate_key("P-256")
    public = tmp_path / "jwks.json"
    public.write_text(json.dumps({"keys": [{**key.as_dict(private=False), "kid": "rp-1", "use": "sig"}]}))
    user = add_user(server, "Jarvis")
    cred = add_credential(server, "--jwks", str(public), scope=SCOPE)
    private = json.dumps({**key.as_dict(private=True), "kid": "rp-1"})
    out, url = run_rp(server, cred, user, lib, mode, PRIVATE_JWK=private)
    assert out["aud"] == cred.client_id and set(out["scope"].split()) == set(SCOPE.split())
    q = query_of(url)
    assert set(q) == ({"client_id", "request_uri"} if mode == "par+jar" else {"client_id", "request"})
    # A request object is used once (its jti), and a request_uri too.
    again = httpx.get(url, timeout=10)
    refused = "invalid_request_object" if mode == "jar" else "invalid_request_uri"
    assert again.status_code == 400 and refused in again.text


@pytest.fixture
def keys_served(tmp_path: Path, database_url: str) -> Iterator[tuple[DocumentServer, Any]]:
    """An https server for the client's JWKS, and Hospes trusting its CA, fetching from 127.0.0.1."""
    ca, cert, key = make_certificates(tmp_path)
    server = DocumentServer(cert, key)
    try:
        with _hospes(database_url, tmp_path, ca, HOSPES_FETCH_ALLOW_PRIVATE="true") as srv:
            yield server, srv
    finally:
        server.close()


def test_a_request_object_is_checked_with_the_keys_at_the_clients_jwks_uri(
        keys_served: tuple[DocumentServer, Any]) -> None:
    """The jwks_uri fetched by the SSRF rules (here a test CA and HOSPES_FETCH_ALLOW_PRIVATE), and kept for its
    max-age: a second request object fetches nothing."""
    server, hospes = keys_served
    key = ECKey.generate_key("P-256")
    server.routes["/jwks.json"] = Route(json.dumps({"keys": [{**key.as_dict(private=False), "kid": "k"}]}).encode(),
                                        headers={"Cache-Control": "max-age=600"})
    user = add_user(hospes, "Uri")
    cred = add_credential(hospes, "--jwks-uri", server.url("/jwks.json"), scope=SCOPE)

    def request_object() -> str:
        now = int(time.time())
        claims = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": REDIRECT_URI,
                  "scope": SCOPE, "state": "st", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                  "code_challenge_method": "S256", "iss": cred.client_id, "aud": hospes.url, "exp": now + 60,
                  "iat": now, "jti": secrets.token_urlsafe(12)}
        return jwt.encode({"alg": "ES256", "kid": "k", "typ": "oauth-authz-req+jwt"}, claims, key)

    with httpx.Client(follow_redirects=False, timeout=30) as http:
        for _ in range(2):
            url = hospes.url + "/oauth/authorize.php?" + urlencode({"client_id": cred.client_id,
                                                                    "request": request_object()})
            back = authorize(http, url, user.email, user.password)
            assert back.status_code in (302, 303), back.text[:1000]
            assert query_of(back.headers["location"])["state"] == "st"
    assert server.hits["/jwks.json"] == 1
    # Signed by a key the client does not publish: refused.
    other = ECKey.generate_key("P-256")
    forged = jwt.encode({"alg": "ES256", "kid": "k"}, {"iss": cred.client_id, "aud": hospes.url}, other)
    r = httpx.get(hospes.url + "/oauth/authorize.php?" + urlencode({"client_id": cred.client_id, "request": forged}))
    assert r.status_code == 400 and "invalid_request_object" in r.text
    # Keys that cannot be fetched (the document is missing): refused with the reason, shown on the page.
    gone = add_credential(hospes, "--jwks-uri", server.url("/missing.json"), scope=SCOPE)
    lost = jwt.encode({"alg": "ES256", "kid": "k", "typ": "oauth-authz-req+jwt"},
                      {"iss": gone.client_id, "aud": hospes.url}, key)
    r = httpx.get(hospes.url + "/oauth/authorize.php?" + urlencode({"client_id": gone.client_id, "request": lost}))
    assert r.status_code == 400 and "invalid_request_object" in r.text and "could not be fetched" in r.text
