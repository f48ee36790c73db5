"""OpenID Connect Back-Channel Logout 1.0 against a real server: a relying party's back-channel logout URI (a
small HTTP server in the test) receives a logout token it can verify with the JWKS when the person logs out,
ends a session from the sessions page, or revokes the application; a slow or failing receiver holds nobody up
and is tried again."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from hospes.oauth import backchannel
from hospes.oauth.keys import KeyRing
from hospes.store import backchannel as store
from hospes.store.models import BackchannelLogout, User
from tests import aio
from tests.account import post_form
from tests.browserless import tokens_for

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Receiver:
    """The relying party's back-channel logout endpoint: records each logout token; answers ``status`` after
    ``delay`` seconds (the first ``failures`` requests answer 500)."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.delay = 0.0
        self.failures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                time.sleep(receiver.delay)
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(500)
                else:
                    receiver.tokens.append(parse_qs(body)["logout_token"][0])
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # a worker POSTs a batch at once

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/backchannel-logout"

    def wait(self, count: int, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.tokens) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.tokens) >= count, f"received {len(self.tokens)} logout tokens, expected {count}"
        return self.tokens[:count]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.httpd.serve_forever, daemon=True)
    thread.start()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


@pytest.fixture
def rp(make_credential: Any, receiver: Receiver) -> Any:
    return make_credential(backchannel_logout_uri=receiver.url)


def verified(server: Any, token: str, cred: Any) -> dict[str, Any]:
    """What an RP does with a logout token (§2.6): the signature by the JWKS, typ, iss, aud, events, no nonce."""
    config = httpx.get(server.url + "/.well-known/openid-configuration").json()
    keys = KeySet.import_key_set(httpx.get(config["jwks_uri"]).json())
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "logout+jwt"
    claims = dict(decoded.claims)
    assert claims["iss"] == server.url and claims["aud"] == cred.client_id
    assert claims["events"] == {EVENT: {}} and "nonce" not in claims
    assert claims["iat"] <= time.time() + 5 < claims["exp"] + 5 and claims["jti"]
    return claims


def id_token_of(http: httpx.Client, acct: Any, cred: Any) -> tuple[str, dict[str, Any]]:
    token = str(tokens_for(http, acct, cred, "openid")["id_token"])
    jwks = http.get(http.get("/.well-known/openid-configuration").json()["jwks_uri"]).json()
    return token, dict(jwt.decode(token, KeySet.import_key_set(jwks)).claims)


def person(db: Any, acct: Any) -> str:
    with db.read() as s:
        return str(s.scalar(select(User.uuid).where(User.id == acct.user_id)))


def test_discovery_says_back_channel_logout_is_supported(server: Any) -> None:
    config = httpx.get(server.url + "/.well-known/openid-configuration").json()
    assert config["backchannel_logout_supported"] is True
    assert config["backchannel_logout_session_supported"] is True


def test_rp_initiated_logout_sends_a_logout_token_with_the_sid(server, db, make_account, rp, receiver):
    acct = make_account()
    with httpx.Client(base_url=server.url, follow_redirects=False) as browser:
        id_token, claims = id_token_of(browser, acct, rp)
        r = browser.get("/oauth/logout", params={"id_token_hint": id_token})
        assert r.status_code in (200, 303), r.text
    [token] = receiver.wait(1)
    got = verified(server, token, rp)
    assert got["sid"] == claims["sid"] and got["sub"] == claims["sub"] == person(db, acct)


def test_client_area_logout_and_a_slow_receiver_holds_nobody_up(server, make_account, rp, receiver):
    acct = make_account()
    with httpx.Client(base_url=server.url, follow_redirects=False) as browser:
        _, claims = id_token_of(browser, acct, rp)
        receiver.delay = 5.0
        page = browser.get("/clientarea.php")
        started = time.monotonic()
        r = post_form(browser, page, "token")
        took = time.monotonic() - started
        assert r.status_code == 200 and "You have logged out" in r.text
    assert took < 2.0, f"logout took {took:.1f} s"
    [token] = receiver.wait(1)
    assert verified(server, token, rp)["sid"] == claims["sid"]


def test_ending_a_session_from_the_sessions_page_tells_the_client_used_in_it(server, make_account, rp, receiver,
                                                                             make_credential):
    acct = make_account()
    quiet = make_credential()  # no back-channel logout URI: told nothing
    with httpx.Client(base_url=server.url, follow_redirects=False) as laptop, \
            httpx.Client(base_url=server.url, follow_redirects=False) as phone:
        id_token_of(laptop, acct, quiet)
        _, on_phone = id_token_of(phone, acct, rp)
        page = laptop.get("/account/sessions")
        r = post_form(laptop, page, "action", action="others")
        assert r.status_code == 303
    [token] = receiver.wait(1)
    assert verified(server, token, rp)["sid"] == on_phone["sid"]
    time.sleep(1.5)
    assert len(receiver.tokens) == 1  # the laptop's session, where the client was not used, is not told


def test_revoking_the_application_sends_a_logout_token(server, make_account, rp, receiver):
    acct = make_account()
    with httpx.Client(base_url=server.url, follow_redirects=False) as browser:
        _, claims = id_token_of(browser, acct, rp)
        page = browser.get("/account/applications")
        r = post_form(browser, page, "app")
        assert r.status_code == 303
    [token] = receiver.wait(1)
    got = verified(server, token, rp)
    assert got["sid"] == claims["sid"] and got["sub"] == claims["sub"]


def test_a_failing_receiver_is_tried_again_then_given_up(db, settings, make_account, make_credential, receiver):
    acct = make_account()
    cred = make_credential(backchannel_logout_uri=receiver.url)
    keys = KeyRing.for_settings(db, settings)
    keys.ensure()
    with db.transaction() as s:
        store.add(s, [store.Listener(cred.credential_id, person(db, acct), "a-session", False)])

    def row() -> BackchannelLogout:
        with db.read() as s:
            found = s.scalars(select(BackchannelLogout)).one()
            s.expunge(found)
            return found

    async def deliver() -> int:
        async with backchannel.http_client() as http:
            return await backchannel.deliver_due(db, keys, settings.issuer, http, first_retry=0)

    receiver.failures = 1
    assert aio.run(deliver()) == 1
    first = row()
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 500")
    assert aio.run(deliver()) == 1
    assert (row().status, row().attempts) == ("delivered", 2)
    assert len(receiver.tokens) == 1

    with db.transaction() as s:
        store.add(s, [store.Listener(cred.credential_id, person(db, acct), None, False)])
    receiver.failures = 100
    for _ in range(backchannel.MAX_ATTEMPTS):
        aio.run(deliver())
    with db.read() as s:
        last = s.scalars(select(BackchannelLogout).order_by(BackchannelLogout.id.desc())).first()
        assert last is not None and (last.status, last.attempts) == ("failed", backchannel.MAX_ATTEMPTS)
    assert aio.run(deliver()) == 0  # given up: not tried again


def test_workers_delivering_at_once_send_each_token_once(db, settings, make_account, make_credential, receiver):
    acct = make_account()
    cred = make_credential(backchannel_logout_uri=receiver.url)
    keys = KeyRing.for_settings(db, settings)
    keys.ensure()
    with db.transaction() as s:
        store.add(s, [store.Listener(cred.credential_id, person(db, acct), f"session-{i}", False) for i in range(30)])
    receiver.delay = 0.2

    async def worker() -> int:
        async with backchannel.http_client() as http:
            total = 0
            while n := await backchannel.deliver_due(db, keys, settings.issuer, http):
                total += n
            return total

    async def workers() -> list[int]:
        return list(await asyncio.gather(*(worker() for _ in range(4))))

    assert sum(aio.run(workers())) == 30
    sids = [dict(jwt.decode(t, keys.verification_keys()).claims)["sid"] for t in receiver.wait(30)]
    assert sorted(sids) == sorted(f"session-{i}" for i in range(30))
    with db.read() as s:
        assert {r.status for r in s.scalars(select(BackchannelLogout))} == {"delivered"}


@pytest.mark.parametrize("session_required", [False, True])
def test_revoking_an_application_used_in_no_running_session(db, make_account, make_credential, receiver,
                                                            session_required):
    """No session of the person's holds an ID token of the application: a token with only ``sub`` (every
    session of theirs there, §2.4), unless the application requires ``sid``."""
    acct = make_account()
    cred = make_credential(backchannel_logout_uri=receiver.url,
                           backchannel_logout_session_required=session_required)
    with db.transaction() as s:
        backchannel.app_revoked(s, acct.user_id, cred.credential_id)
    with db.read() as s:
        rows = [(r.sub, r.sid) for r in s.scalars(select(BackchannelLogout))]
    assert rows == ([] if session_required else [(person(db, acct), None)])
