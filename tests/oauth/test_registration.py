"""A self-registered client's use is recorded (at most once a day), so the purge removes only registrations
nobody uses; and a client whose redirect URI cannot be parsed is refused, never a server error."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, text, update

from hospes.clock import now, utc
from hospes.oauth import pkce
from hospes.oauth.registration import address_key
from hospes.store.models import Grant, OAuthCredential
from hospes.store.purge import purge
from tests.browserless import authorize, query_of

REDIRECT = "http://127.0.0.1/cb"


def _row(db, client_id: str) -> OAuthCredential | None:
    with db.transaction() as s:
        return s.scalar(select(OAuthCredential).where(OAuthCredential.identifier == client_id))


def _authorize(client, client_id: str, acct) -> None:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": "http://127.0.0.1:4711/cb",
              "scope": "openid", "state": "s", "code_challenge": pkce.s256("v" * 50), "code_challenge_method": "S256"}
    r = authorize(client, "/oauth/authorize.php?" + urlencode(params), acct.email, acct.password)
    assert r.status_code in (302, 303) and "code" in query_of(r.headers["location"]), r.text[:1000]


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
