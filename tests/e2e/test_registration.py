"""Dynamic client registration (RFC 7591) and its management (RFC 7592), end to end: the real server over HTTP,
clients that register themselves and then log a person in with Authlib, the way an MCP client or a native app
connects with no pre-registration."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.browserless import form_with, login_form, query_of
from tests.conftest import Server, start_server, stop_server
from tests.e2e import User, add_user, cli_json, discover

NATIVE_REDIRECT = "http://127.0.0.1/callback"
WEB_REDIRECT = "https://app.example.org/oauth/callback"


@contextmanager
def _start(database_url: str, tmp_path: Path, **env: str) -> Iterator[Server]:
    srv = start_server(database_url, tmp_path, {"PYTHONUNBUFFERED": "1", **env})
    try:
        yield srv
    finally:
        stop_server(srv)


@pytest.fixture
def open_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    with _start(database_url, tmp_path) as srv:
        yield srv


def register(server: Server, metadata: Any, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + "/oauth/register", json=metadata, headers=headers, timeout=30)


def sign_in(oauth: OAuth2Client, meta: dict[str, Any], user: User, redirect_uri: str) -> tuple[dict[str, Any], str]:
    """The person logs in and consents; the client exchanges the code. Returns (token, the consent page)."""
    verifier = secrets.token_urlsafe(48)
    url, state = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                redirect_uri=redirect_uri)
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        r = browser.get(url)
        assert 'name="password"' in r.text, r.text[:2000]
        f = login_form(r.text, str(r.url))
        r = browser.post(f.action, data={**f.fields, "username": user.email, "password": user.password})
        assert "userAuthorization" in r.text, r.text[:2000]
        consent_page = r.text
        f = form_with(r.text, str(r.url), "request_hash")
        data = {k: v for k, v in f.fields.items() if k != "logout"}
        r = browser.post(f.action, data={**data, "userAuthorization": "yes"})
    assert r.status_code in (302, 303), r.text[:2000]
    location = r.headers["location"]
    assert location.startswith(redirect_uri + "?"), location
    assert query_of(location)["state"] == state
    token = oauth.fetch_token(meta["token_endpoint"], authorization_response=location, state=state,
                              code_verifier=verifier, redirect_uri=redirect_uri)
    return dict(token), consent_page


def userinfo(meta: dict[str, Any], access_token: str) -> httpx.Response:
    return httpx.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=30)


def test_a_public_native_client_registers_and_signs_a_person_in_on_any_loopback_port(open_server: Server) -> None:
    meta = discover(open_server)
    assert meta["registration_endpoint"] == open_server.url + "/oauth/register"
    r = register(open_server, {"redirect_uris": [NATIVE_REDIRECT], "client_name": "Desk Assistant",
                               "token_endpoint_auth_method": "none", "application_type": "native",
                               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                               "software_id": "ignored", "unknown_field": {"x": 1}})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    info = r.json()
    assert "client_secret" not in info and "client_secret_expires_at" not in info
    assert info["token_endpoint_auth_method"] == "none"
    assert info["redirect_uris"] == [NATIVE_REDIRECT] and info["client_name"] == "Desk Assistant"
    assert info["registration_client_uri"] == f"{open_server.url}/oauth/register/{info['client_id']}"
    assert info["registration_access_token"] and isinstance(info["client_id_issued_at"], int)
    assert "unknown_field" not in info and "software_id" not in info

    user = add_user(open_server)
    # RFC 8252 §7.3: the app listens on whatever port it got; the registered URI has none.
    redirect = "http://127.0.0.1:53219/callback"
    oauth = OAuth2Client(client_id=info["client_id"], token_endpoint_auth_method="none", scope="openid profile",
                         redirect_uri=redirect, code_challenge_method="S256", timeout=30)
    token, consent = sign_in(oauth, meta, user, redirect)
    assert "has not verified" in consent and "application on this computer" in consent
    assert "refresh_token" in token  # it registered the refresh_token grant
    assert userinfo(meta, token["access_token"]).status_code == 200
    # A public client must use PKCE (RFC 9700 §2.1.1): without a code_challenge the request is refused.
    plain = OAuth2Client(client_id=info["client_id"], scope="openid", redirect_uri=redirect, timeout=30)
    url, _ = plain.create_authorization_url(meta["authorization_endpoint"])
    r = httpx.get(url, timeout=30)
    assert r.status_code in (302, 303) and query_of(r.headers["location"])["error"] == "invalid_request"


@pytest.mark.parametrize("method", [None, "client_secret_basic", "client_secret_post"])
def test_a_confidential_clients_secret_works_at_the_token_endpoint(open_server: Server, method: str | None) -> None:
    meta = discover(open_server)
    body: dict[str, Any] = {"redirect_uris": [WEB_REDIRECT], "client_name": "Billing Dashboard",
                            "scope": "openid email services:read"}
    if method:
        body["token_endpoint_auth_method"] = method
    r = register(open_server, body)
    assert r.status_code == 201, r.text
    info = r.json()
    # RFC 7591 §2: omitted, the method is client_secret_basic; the secret is returned once and never expires.
    assert info["token_endpoint_auth_method"] == (method or "client_secret_basic")
    assert info["client_secret"] and info["client_secret_expires_at"] == 0
    assert info["grant_types"] == ["authorization_code"] and info["response_types"] == ["code"]
    assert info["scope"] == "openid email services:read"

    user = add_user(open_server)
    oauth = OAuth2Client(client_id=info["client_id"], client_secret=info["client_secret"],
                         token_endpoint_auth_method=info["token_endpoint_auth_method"], scope="openid email",
                         redirect_uri=WEB_REDIRECT, code_challenge_method="S256", timeout=30)
    token, consent = sign_in(oauth, meta, user, WEB_REDIRECT)
    assert "has not verified" in consent and "app.example.org" in consent
    assert "refresh_token" not in token  # it did not register the refresh_token grant
    assert userinfo(meta, token["access_token"]).json()["email"] == user.email

    # The secret is what authenticates: a wrong one is refused.
    r = httpx.post(meta["token_endpoint"], data={"grant_type": "authorization_code", "code": "x",
                                                  "redirect_uri": WEB_REDIRECT},
                   auth=(info["client_id"], "not-the-secret"), timeout=30)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


BAD_METADATA: list[tuple[Any, str]] = [
    ({}, "invalid_redirect_uri"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({"redirect_uris": "https://a.example/cb"}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://app.example.org/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://app.example.org/cb#frag"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://*.example.org/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["javascript:alert(1)"], "application_type": "native"}, "invalid_redirect_uri"),
    ({"redirect_uris": ["com.example.app:/cb"]}, "invalid_redirect_uri"),  # a web client
    ({"redirect_uris": [WEB_REDIRECT], "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "grant_types": ["refresh_token"]}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "response_types": ["token"]}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []},
      "jwks_uri": "https://app.example.org/jwks"}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
      "jwks_uri": "http://app.example.org/jwks"}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "token_endpoint_auth_method": "tls_client_auth"}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "application_type": "desktop"}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "scope": "openid clientarea:sso"}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "scope": "openid unheard:of"}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "client_name": 7}, "invalid_client_metadata"),
    ({"redirect_uris": [WEB_REDIRECT], "logo_uri": "javascript:alert(1)"}, "invalid_client_metadata"),
    (["not", "an", "object"], "invalid_client_metadata"),
]


def test_bad_metadata_is_refused_with_the_rfc_7591_error(open_server: Server) -> None:
    for body, error in BAD_METADATA:
        r = register(open_server, body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"] == error, (body, r.text)
        assert r.headers["content-type"].startswith("application/json")


def test_a_body_that_is_not_json_is_refused(open_server: Server) -> None:
    for content, ctype in [(b"{nope", "application/json"), (b"redirect_uris=x", "application/x-www-form-urlencoded"),
                           (b"[" * 50000, "application/json")]:
        r = httpx.post(open_server.url + "/oauth/register", content=content, headers={"content-type": ctype},
                       timeout=30)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_client_metadata"


def test_management_reads_replaces_and_deletes_ones_own_registration(open_server: Server) -> None:
    meta = discover(open_server)
    info = register(open_server, {"redirect_uris": [WEB_REDIRECT], "client_name": "First Name"}).json()
    other = register(open_server, {"redirect_uris": [WEB_REDIRECT], "client_name": "Someone Else"}).json()
    uri, token = info["registration_client_uri"], info["registration_access_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    r = httpx.get(uri, headers=bearer, timeout=30)
    assert r.status_code == 200, r.text
    read = r.json()
    assert read["client_id"] == info["client_id"] and read["client_name"] == "First Name"
    assert "client_secret" not in read and read["redirect_uris"] == [WEB_REDIRECT]
    # Another client's token, no token, a made-up client: 401 (RFC 7592 §2.1).
    for headers, url in [({"Authorization": f"Bearer {other['registration_access_token']}"}, uri), ({}, uri),
                         (bearer, open_server.url + "/oauth/register/NOPE.123")]:
        r = httpx.get(url, headers=headers, timeout=30)
        assert r.status_code == 401 and r.json()["error"] == "invalid_token", r.text
        assert r.headers["www-authenticate"].startswith("Bearer")

    # PUT replaces the whole registration (RFC 7592 §2.2); client_id must be sent, a client_secret must match.
    new = {"client_id": info["client_id"], "redirect_uris": [WEB_REDIRECT, "https://app.example.org/second"],
           "client_name": "Second Name", "grant_types": ["authorization_code", "refresh_token"]}
    r = httpx.put(uri, json={**new, "client_secret": "wrong"}, headers=bearer, timeout=30)
    assert r.status_code == 400, r.text
    r = httpx.put(uri, json={k: v for k, v in new.items() if k != "client_id"}, headers=bearer, timeout=30)
    assert r.status_code == 400, r.text
    r = httpx.put(uri, json={**new, "client_secret": info["client_secret"]}, headers=bearer, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["client_name"] == "Second Name" and len(r.json()["redirect_uris"]) == 2
    assert httpx.get(uri, headers=bearer, timeout=30).json()["grant_types"] == ["authorization_code", "refresh_token"]

    # The replaced registration is what the flow uses: the new redirect URI works, the secret still does.
    user = add_user(open_server)
    second = "https://app.example.org/second"
    oauth = OAuth2Client(client_id=info["client_id"], client_secret=info["client_secret"], scope="openid",
                         redirect_uri=second, code_challenge_method="S256", timeout=30)
    token, consent = sign_in(oauth, meta, user, second)
    assert "Second Name" in consent and "refresh_token" in token

    # DELETE (RFC 7592 §2.3): 204, the client and its grants gone.
    r = httpx.delete(uri, headers=bearer, timeout=30)
    assert r.status_code == 204, r.text
    assert httpx.get(uri, headers=bearer, timeout=30).status_code == 401
    assert userinfo(meta, token["access_token"]).status_code == 401
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    r = httpx.post(meta["token_endpoint"], data=refresh,
                   auth=(info["client_id"], info["client_secret"]), timeout=30)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # The other registration is untouched.
    assert httpx.get(other["registration_client_uri"], timeout=30,
                     headers={"Authorization": f"Bearer {other['registration_access_token']}"}).status_code == 200


def test_a_parallel_burst_from_one_address_gets_exactly_the_limit(database_url: str, tmp_path: Path) -> None:
    with _start(database_url, tmp_path, HOSPES_REGISTRATION_LIMIT="10") as server:
        body = {"redirect_uris": [NATIVE_REDIRECT], "token_endpoint_auth_method": "none"}
        with ThreadPoolExecutor(30) as pool:
            statuses = list(pool.map(lambda _: register(server, body).status_code, range(30)))
        assert statuses.count(201) == 10, statuses
        assert statuses.count(429) == 20, statuses
        r = register(server, body)
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert r.json()["error"] == "temporarily_unavailable"


def test_token_mode_needs_a_valid_initial_access_token(database_url: str, tmp_path: Path) -> None:
    with _start(database_url, tmp_path, HOSPES_REGISTRATION="token") as server:
        assert discover(server)["registration_endpoint"] == server.url + "/oauth/register"
        body = {"redirect_uris": [NATIVE_REDIRECT], "token_endpoint_auth_method": "none"}
        r = register(server, body)
        assert r.status_code == 401 and r.json()["error"] == "invalid_token"
        assert r.headers["www-authenticate"] == "Bearer"  # RFC 6750 §3.1: no token, no error code
        r = register(server, body, token="made-up")
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert r.json()["error"] == "invalid_token"
        made = cli_json(server, "registration-tokens", "create", "--uses", "2", "--expires-in", "600")
        assert made["uses"] == 2 and made["expiresAt"]
        assert register(server, body, token=made["token"]).status_code == 201
        assert register(server, body, token=made["token"]).status_code == 201
        assert register(server, body, token=made["token"]).status_code == 401  # used up
        unlimited = cli_json(server, "registration-tokens", "create")["token"]
        assert all(register(server, body, token=unlimited).status_code == 201 for _ in range(3))
        bad = server.cli("registration-tokens", "create", "--uses", "0")
        assert bad.returncode == 1 and bad.stderr.startswith("error:") and len(bad.stderr.splitlines()) == 1


def test_off_mode_has_no_endpoint(database_url: str, tmp_path: Path) -> None:
    with _start(database_url, tmp_path, HOSPES_REGISTRATION="off") as server:
        assert "registration_endpoint" not in discover(server)
        r = register(server, {"redirect_uris": [NATIVE_REDIRECT]})
        assert r.status_code == 404
        assert httpx.get(server.url + "/oauth/register/X.1", timeout=30).status_code == 404


def test_a_bad_registration_setting_stops_the_start(database_url: str, tmp_path: Path) -> None:
    for value, var in [("sometimes", "HOSPES_REGISTRATION"), ("0", "HOSPES_REGISTRATION_LIMIT"),
                       ("0", "HOSPES_REGISTRATION_UNUSED_DAYS")]:
        with pytest.raises(RuntimeError) as failed:
            start_server(database_url, tmp_path, {var: value})
        assert var in str(failed.value)


# -- fuzzing ----------------------------------------------------------------------------------------

FIELDS = ["redirect_uris", "client_name", "logo_uri", "client_uri", "scope", "grant_types", "response_types",
          "token_endpoint_auth_method", "application_type", "contacts", "jwks", "jwks_uri", "software_id",
          "client_id"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70), st.floats(),
                    st.text(max_size=40),
                    st.sampled_from([NATIVE_REDIRECT, WEB_REDIRECT, "none", "client_secret_post", "native", "web",
                                     "authorization_code", "refresh_token", "code", "openid", "\x00", "http://[::1",
                                     "private_key_jwt", "client_secret_jwt", "https://app.example.org/jwks"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=10)
payloads = st.one_of(values, st.dictionaries(st.sampled_from(FIELDS), values, max_size=len(FIELDS)),
                     st.fixed_dictionaries({"redirect_uris": st.lists(st.one_of(st.text(max_size=60), values),
                                                                      min_size=1, max_size=3)},
                                           optional={k: values for k in FIELDS[1:]}))


def test_registration_payload_fuzz_gets_201_or_400_never_a_server_error(database_url: str, tmp_path: Path) -> None:
    with _start(database_url, tmp_path, HOSPES_REGISTRATION_LIMIT="100000") as server:
        seen: set[int] = set()

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(payloads)
        def check(payload: Any) -> None:
            raw = json.dumps(payload, allow_nan=True)
            r = httpx.post(server.url + "/oauth/register", content=raw,
                           headers={"content-type": "application/json"}, timeout=30)
            assert r.status_code in (201, 400), (r.status_code, raw, r.text[:500])
            body = r.json()
            if r.status_code == 400:
                assert body["error"] in ("invalid_client_metadata", "invalid_redirect_uri"), body
            seen.add(r.status_code)

        check()
        assert 400 in seen
