"""examples/resource_server: the resource server an operator copies, run as its own process against a real
Hospes, checking JWT access tokens (RFC 9068) offline with the JWKS it fetched from Hospes over HTTP.

The tokens are signed by oauth/access_jwt.py with the key ring read from the server's own database, so they
carry the kids the server publishes."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from hospes.config import load_settings
from hospes.oauth.access_jwt import AccessTokenClaims, payload, sign
from hospes.oauth.keys import KeyRing, sign_jwt
from hospes.store.db import Database
from tests.conftest import Server
from tests.examples import example_resource_server

REFETCH_AFTER = 3  # the example's --jwks-refetch-after here (30 s by default)
SUB = str(uuid.uuid4())


@pytest.fixture
def server_env() -> dict[str, str]:
    # The access log shows each JWKS fetch; keys read on every use, so a rotation is served at once.
    return {"HOSPES_ACCESS_LOG": "true", "HOSPES_KEY_RELOAD_SECONDS": "0"}


@dataclass
class Resource:
    url: str
    identifier: str
    log: Path


@pytest.fixture
def keys(server: Server, database_url: str, tmp_path: Path) -> Iterator[KeyRing]:
    """The server's key ring, from its database and its secret key (var/secret_key, written at its start)."""
    s = load_settings(database_url=database_url, var_dir=str(tmp_path / "var"))
    db = Database(s.sqlalchemy_url, s.db_timeout)
    ring = KeyRing.for_settings(db, s)
    ring.refresh()
    yield ring
    db.dispose()


@pytest.fixture
def resource(server: Server, tmp_path: Path) -> Iterator[Resource]:
    log = tmp_path / "resource.log"
    with example_resource_server(server.url, log, "--route", "/api/notes=notes:read", "--route",
                                 "/api/admin=notes:admin", "--require-acr", "2",
                                 "--jwks-refetch-after", str(REFETCH_AFTER)) as url:
        yield Resource(url, url + "/api", log)


def good(server: Server, resource: Resource, **changes: object) -> AccessTokenClaims:
    t = int(time.time())
    claims = AccessTokenClaims(issuer=server.url, audience=resource.identifier, subject=SUB, client_id="app-1",
                               scope="openid notes:read", issued_at=t, expires_at=t + 300, jwt_id=str(uuid.uuid4()),
                               auth_time=t - 10, acr="2", amr=("pwd", "otp"))
    return replace(claims, **changes)  # type: ignore[arg-type]


def call(resource: Resource, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(resource.url + path, headers=headers, timeout=10)


def challenge(resource: Resource, *params: str) -> str:
    metadata = f"{resource.url}/.well-known/oauth-protected-resource/api"
    return "Bearer " + ", ".join([*params, f'resource_metadata="{metadata}"'])


def b64(value: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def jwks_fetches(server: Server) -> int:
    jwks_path = httpx.URL(httpx.get(server.url + "/.well-known/openid-configuration").json()["jwks_uri"]).path
    return server.log.read_text().count(f'"GET {jwks_path}"')


def test_a_good_access_token_reaches_the_route(server, keys, resource):
    r = call(resource, "/api/notes", sign(keys, good(server, resource)))
    assert r.status_code == 200, r.text
    assert r.json() == {"path": "/api/notes", "sub": SUB, "client_id": "app-1", "scope": "openid notes:read",
                        "acr": "2"}
    # An audience list holding the identifier, and an ES256 signature (Hospes signs with both algorithms).
    claims = {**payload(good(server, resource)), "aud": ["https://other.example", resource.identifier]}
    assert call(resource, "/api/notes", sign_jwt(keys, claims, typ="at+jwt", alg="ES256")).status_code == 200


def test_the_resource_publishes_its_metadata(server, resource):
    # RFC 9728 §3.1: the well-known suffix inserted before the identifier's path.
    r = httpx.get(resource.url + "/.well-known/oauth-protected-resource/api", timeout=10)
    assert r.json() == {"resource": resource.identifier, "authorization_servers": [server.url],
                        "scopes_supported": ["notes:admin", "notes:read"], "bearer_methods_supported": ["header"]}


def test_a_request_without_a_token_is_challenged_without_an_error_code(resource):
    for r in (call(resource, "/api/notes", None), httpx.get(resource.url + "/api/notes", timeout=10,
                                                               headers={"Authorization": "Basic YTpi"})):
        assert r.status_code == 401 and r.headers["www-authenticate"] == challenge(resource)  # RFC 6750 §3.1


def test_tokens_not_valid_here_are_invalid_token(server, keys, resource):
    t = int(time.time())
    good_token = sign(keys, good(server, resource))
    head, body, signature = good_token.split(".")
    stranger = RSAKey.generate_key(2048, parameters={"kid": keys.signing_key("RS256").kid}, private=True)
    bad = {
        "another audience": sign(keys, good(server, resource, audience="https://other.example/api")),
        "another issuer": sign(keys, good(server, resource, issuer="https://evil.example")),
        "expired": sign(keys, good(server, resource, issued_at=t - 600, expires_at=t - 120)),
        "issued in the future": sign(keys, good(server, resource, issued_at=t + 600, expires_at=t + 900)),
        # RFC 9068 §4: an ID token (typ JWT), signed by the same key, is not an access token.
        "an ID token": sign_jwt(keys, payload(good(server, resource)), typ="JWT"),
        "a changed signature": f"{head}.{body}.{signature[:-6]}{'A' if signature[-6] != 'A' else 'B'}{signature[-5:]}",
        "signed by another key under a published kid": jwt.encode(
            {"alg": "RS256", "kid": stranger.kid, "typ": "at+jwt"}, payload(good(server, resource)), stranger),
        "unsigned": f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{body}.",  # RFC 7519 §6
        "not a JWT": "opaque-token-value",
    }
    for name, token in bad.items():
        r = call(resource, "/api/notes", token)
        assert r.status_code == 401, name
        assert r.json()["error"] == "invalid_token", name
        header = r.headers["www-authenticate"]
        assert header.startswith('Bearer error="invalid_token", error_description="'), name
        assert header.endswith(f'resource_metadata="{resource.url}/.well-known/oauth-protected-resource/api"'), name
    assert call(resource, "/api/notes", good_token).status_code == 200


def test_a_token_without_the_routes_scope_is_insufficient_scope(server, keys, resource):
    r = call(resource, "/api/admin", sign(keys, good(server, resource)))
    assert r.status_code == 403
    assert r.headers["www-authenticate"] == challenge(
        resource, 'error="insufficient_scope"', 'error_description="This needs the scope notes:admin."',
        'scope="notes:admin"')
    admin = sign(keys, good(server, resource, scope="notes:admin"))
    assert call(resource, "/api/admin", admin).status_code == 200


def test_a_password_only_login_is_asked_to_step_up(server, keys, resource):
    # RFC 9470 §3: the resource requires acr 2 (a second factor); acr 1 or none is not enough.
    for acr in ("1", "0", None):
        r = call(resource, "/api/notes", sign(keys, good(server, resource, acr=acr, amr=("pwd",))))
        assert r.status_code == 401, acr
        assert r.headers["www-authenticate"] == challenge(
            resource, 'error="insufficient_user_authentication"', 'error_description="A stronger login is needed."',
            'acr_values="2"')


def test_a_new_kid_is_fetched_and_made_up_kids_do_not_flood_hospes(server, keys, resource):
    assert call(resource, "/api/notes", sign(keys, good(server, resource))).status_code == 200
    fetched = jwks_fetches(server)
    assert fetched == 1
    old_kid = keys.signing_key("RS256").kid

    # A flood of tokens under kids nobody published: at most one fetch per REFETCH_AFTER seconds.
    intruder = RSAKey.generate_key(2048, private=True)
    started = time.monotonic()
    for n in range(30):
        token = jwt.encode({"alg": "RS256", "kid": f"made-up-{n}", "typ": "at+jwt"},
                           payload(good(server, resource)), intruder)
        r = call(resource, "/api/notes", token)
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    windows = int((time.monotonic() - started) // REFETCH_AFTER) + 1
    assert jwks_fetches(server) - fetched <= windows < 30

    # Hospes rotates its keys: the first token under the new kid makes the resource read the JWKS again.
    assert server.cli("keys", "rotate", "--now").returncode == 0
    keys.refresh()
    assert keys.signing_key("RS256").kid != old_kid
    time.sleep(REFETCH_AFTER)
    before = jwks_fetches(server)
    r = call(resource, "/api/notes", sign(keys, good(server, resource)))
    assert r.status_code == 200, r.text
    assert jwks_fetches(server) == before + 1
