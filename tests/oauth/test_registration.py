"""A self-registered client's use is recorded (at most once a day), so the purge removes only registrations
nobody uses; a client whose redirect URI cannot be parsed is refused, never a server error; and a client that
registers for JWT authentication (RFC 7523 §2.2: private_key_jwt with its keys, client_secret_jwt) gets tokens
with its assertions, its keys read and replaced through RFC 7592."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from joserfc.jwk import ECKey, OctKey
from sqlalchemy import select, text, update

from hospes.clock import now, utc
from hospes.oauth import pkce
from hospes.oauth.client_assertion import ASSERTION_TYPE
from hospes.oauth.registration import address_key
from hospes.store.models import Grant, OAuthCredential
from hospes.store.purge import purge
from tests.browserless import authorize, query_of
from tests.oauth.test_client_assertion import Client

REDIRECT = "http://127.0.0.1/cb"


def _row(db, client_id: str) -> OAuthCredential | None:
    with db.transaction() as s:
        return s.scalar(select(OAuthCredential).where(OAuthCredential.identifier == client_id))


def _authorize(client, client_id: str, acct) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": "http://127.0.0.1:4711/cb",
              "scope": "openid", "state": "s", "code_challenge": pkce.s256("v" * 50), "code_challenge_method": "S256"}
    r = authorize(client, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
    assert r.status_code in (302, 303) and "code" in query_of(r.headers["location"]), r.text[:1000]
    return query_of(r.headers["location"])["code"]


def test_an_authorization_marks_a_registration_used_and_the_purge_spares_it(client, db, make_account):
    r = client.post("/oauth/register", json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})
    assert r.status_code == 201, r.text
    client_id = r.json()["client_id"]
    unused = client.post("/oauth/register", json={"redirect_uris": [REDIRECT]}).json()["client_id"]
    row = _row(db, client_id)
    assert row is not None and row.kind == "dynamic" and row.last_used_at is None

    acct = make_account()
    _authorize(client, client_id, acct)
    row = _row(db, client_id)
    assert row is not None and row.last_used_at is not None
    first = utc(row.last_used_at)
    assert abs((first - now()).total_seconds()) < 60
    _authorize(client, client_id, acct)  # within a day: not written again
    row = _row(db, client_id)
    assert row is not None and utc(row.last_used_at) == first

    # Both registered 40 days ago; the grants of the used one gone too. Only the one never used is purged.
    with db.transaction() as s:
        s.execute(update(OAuthCredential).where(OAuthCredential.kind == "dynamic")
                  .values(created_at=now() - timedelta(days=40)))
        used = s.scalar(select(OAuthCredential.id).where(OAuthCredential.identifier == client_id))
        s.execute(Grant.__table__.delete().where(Grant.credential_id == used))
    counts = purge(db, grace=timedelta(hours=1), batch=10, unused=timedelta(days=30))
    assert counts["oauth_credentials"] == 1
    assert _row(db, unused) is None and _row(db, client_id) is not None


def test_an_unparsable_redirect_uri_is_refused(client):
    r = client.post("/oauth/register", json={"redirect_uris": ["http://[::1/cb"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_redirect_uri"


def test_a_flood_over_the_limit_is_refused_without_waiting_for_the_write_lock(client, db):
    """SQLite has one writer: a refused registration must not queue for it (the token endpoint waits there)."""
    if not db.url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    body = {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    assert [client.post("/oauth/register", json=body).status_code for _ in range(10)] == [201] * 10
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with db.transaction() as s:  # BEGIN IMMEDIATE, and the writer gate
            s.execute(text("UPDATE oauth_credentials SET name = name WHERE id = 0"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        r = client.post("/oauth/register", json=body)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        holder.join()
    assert r.status_code == 429 and r.json()["error"] == "temporarily_unavailable"
    assert elapsed < 1.0, elapsed


def test_the_per_address_limit_counts_an_ipv6_hosts_whole_64():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("testclient") == "testclient" and address_key("") == "unknown"


def test_preflight_and_marking(client, make_credential, make_account):
    """Any origin may register (no cookie is involved); an operator's own client is not marked unverified."""
    r = client.options("/oauth/register", headers={"Origin": "https://inspector.example",
                                                   "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in r.headers["access-control-allow-headers"]
    cred = make_credential(redirect_uri=REDIRECT)
    acct = make_account()
    params = {"response_type": "code", "client_id": cred.client_id, "redirect_uri": REDIRECT, "scope": "openid",
              "state": "s"}
    page = authorize(client, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password, consent=None)
    assert "userAuthorization" in page.text and "has not verified" not in page.text


# -- JWT client authentication (RFC 7591 §2, RFC 7523 §2.2) ------------------------------------------------


def db_of(client):
    return client.app.state.web.provider.db


def _register(client, **meta) -> dict:
    r = client.post("/oauth/register", json={"redirect_uris": [REDIRECT], **meta})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _refused(r, error: str = "invalid_client_metadata") -> str:
    assert r.status_code == 400, r.text
    assert r.json()["error"] == error, r.text
    return str(r.json()["error_description"])


def _exchange(client, code: str, assertion: str, **extra: str):
    return client.post("/oauth/token.php", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:4711/cb",
        "code_verifier": "v" * 50, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion, **extra})


def test_a_private_key_jwt_client_registers_its_keys_and_gets_tokens_with_assertions(client, make_account):
    key = ECKey.generate_key("P-256", parameters={"kid": "rp-1"})
    jwks = {"keys": [key.as_dict(private=False)]}
    reg = _register(client, token_endpoint_auth_method="private_key_jwt", jwks=jwks,
                    grant_types=["authorization_code", "refresh_token"])
    assert reg["token_endpoint_auth_method"] == "private_key_jwt" and reg["jwks"] == jwks
    assert "client_secret" not in reg and "client_secret_expires_at" not in reg
    rp, acct = Client(reg["client_id"], key, "ES256"), make_account()
    code = _authorize(client, rp.identifier, acct)
    # Another key's assertion, or a secret, is not this client.
    stranger = Client(rp.identifier, ECKey.generate_key("P-256", parameters={"kid": "rp-1"}), "ES256")
    assert _exchange(client, code, stranger.assertion()).json()["error"] == "invalid_client"
    r = _exchange(client, code, rp.assertion())
    assert r.status_code == 200, r.text
    assert r.json()["access_token"] and r.json()["refresh_token"]
    basic = client.post("/oauth/token.php", data={"grant_type": "refresh_token",
                                                  "refresh_token": r.json()["refresh_token"]},
                        auth=(rp.identifier, "anything"))
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    # RFC 7592: read back as registered; replaced by a jwks_uri, the inline keys are gone.
    bearer = {"Authorization": f"Bearer {reg['registration_access_token']}"}
    read = client.get(f"/oauth/register/{rp.identifier}", headers=bearer).json()
    assert read["token_endpoint_auth_method"] == "private_key_jwt" and read["jwks"] == jwks
    put = client.put(f"/oauth/register/{rp.identifier}", headers=bearer, json={
        "client_id": rp.identifier, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": "https://rp.example.com/jwks.json"})
    assert put.status_code == 200, put.text
    read = client.get(f"/oauth/register/{rp.identifier}", headers=bearer).json()
    assert read["jwks_uri"] == "https://rp.example.com/jwks.json" and "jwks" not in read
    row = _row(db_of(client), rp.identifier)
    assert row is not None and row.jwks is None and row.token_endpoint_auth_method == "private_key_jwt"


def test_a_client_secret_jwt_client_is_issued_a_secret_that_signs_its_assertions(client, make_account):
    reg = _register(client, token_endpoint_auth_method="client_secret_jwt")
    assert reg["token_endpoint_auth_method"] == "client_secret_jwt"
    secret = reg["client_secret"]
    assert len(secret) >= 86 and reg["client_secret_expires_at"] == 0  # 512 bits, for HS512 (RFC 7518 §3.2)
    rp, acct = Client(reg["client_id"], OctKey.import_key(secret.encode()), "HS256", secret), make_account()
    code = _authorize(client, rp.identifier, acct)
    # The method is enforced: the secret itself is not accepted in its place.
    plain = client.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                                  "redirect_uri": "http://127.0.0.1:4711/cb",
                                                  "code_verifier": "v" * 50}, auth=(rp.identifier, secret))
    assert plain.status_code == 401 and plain.json()["error"] == "invalid_client"
    r = _exchange(client, code, rp.assertion(alg="HS512"))
    assert r.status_code == 200, r.text
    bearer = {"Authorization": f"Bearer {reg['registration_access_token']}"}
    assert client.get(f"/oauth/register/{rp.identifier}", headers=bearer).json()[
        "token_endpoint_auth_method"] == "client_secret_jwt"


def test_jwt_registrations_are_refused_with_invalid_client_metadata(client):
    key = ECKey.generate_key("P-256")
    public = {"keys": [key.as_dict(private=False)]}
    both = client.post("/oauth/register", json={"redirect_uris": [REDIRECT], "jwks": public,
                                               "token_endpoint_auth_method": "private_key_jwt",
                                               "jwks_uri": "https://rp.example.com/jwks.json"})
    assert "not both" in _refused(both)  # RFC 7591 §2
    secret_half = {"keys": [key.as_dict(private=True)]}
    assert "d" in secret_half["keys"][0]
    private = client.post("/oauth/register", json={"redirect_uris": [REDIRECT], "jwks": secret_half,
                                                  "token_endpoint_auth_method": "private_key_jwt"})
    assert "private" in _refused(private)
    no_keys = client.post("/oauth/register", json={"redirect_uris": [REDIRECT],
                                                  "token_endpoint_auth_method": "private_key_jwt"})
    assert "jwks" in _refused(no_keys)
    for uri in ("http://rp.example.com/jwks.json", "https://rp.example.com/jwks.json#k", "not a url"):
        r = client.post("/oauth/register", json={"redirect_uris": [REDIRECT], "jwks_uri": uri,
                                                "token_endpoint_auth_method": "private_key_jwt"})
        assert "JWKS URI" in _refused(r), uri
    for bad in ("{}", [public], {"keys": []}, {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}):
        r = client.post("/oauth/register", json={"redirect_uris": [REDIRECT], "jwks": bad,
                                                "token_endpoint_auth_method": "private_key_jwt"})
        _refused(r)
    unknown = client.post("/oauth/register", json={"redirect_uris": [REDIRECT],
                                                  "token_endpoint_auth_method": "tls_client_auth"})
    assert "private_key_jwt" in _refused(unknown)


def test_a_registration_moves_between_public_secret_and_key_authentication(client):
    reg = _register(client, token_endpoint_auth_method="none")
    cid, bearer = reg["client_id"], {"Authorization": f"Bearer {reg['registration_access_token']}"}
    key = ECKey.generate_key("P-256")
    jwks = {"keys": [key.as_dict(private=False)]}

    def put(**meta):
        r = client.put(f"/oauth/register/{cid}", headers=bearer, json={"client_id": cid, "redirect_uris": [REDIRECT],
                                                                       **meta})
        assert r.status_code == 200, r.text
        return r.json()

    keyed = put(token_endpoint_auth_method="private_key_jwt", jwks=jwks)
    assert keyed["jwks"] == jwks and "client_secret" not in keyed
    row = _row(db_of(client), cid)
    assert row is not None and row.secret_hash is None and row.token_endpoint_auth_method == "private_key_jwt"
    secret = put(token_endpoint_auth_method="client_secret_basic")
    assert secret["client_secret"] and "jwks" not in secret  # RFC 7592 §2.2: omitted, the keys are gone
    sealed = put(token_endpoint_auth_method="client_secret_jwt", client_secret=secret["client_secret"])
    assert sealed["client_secret"] != secret["client_secret"]  # a new one, long enough and kept sealed
    row = _row(db_of(client), cid)
    assert row is not None and row.secret_sealed is not None
    public = put(token_endpoint_auth_method="none")
    assert "client_secret" not in public
    row = _row(db_of(client), cid)
    assert row is not None and row.secret_hash is None and row.secret_sealed is None and row.jwks is None
