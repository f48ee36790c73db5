"""The device authorization grant (RFC 8628) in-process: the device authorization endpoint, the device page driven
over HTTP as a person uses it, and the token endpoint's answers while the device polls, on both databases."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from hospes.clock import now
from hospes.config import ConfigError, load_settings
from hospes.oauth import device
from hospes.store.models import DeviceCode
from tests.browserless import device_page
from tests.conftest import Cred

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ISSUER = "http://127.0.0.1:8000"


@pytest.fixture
def device_client(make_credential: Any) -> Any:
    """A credential whose grant types include the device code grant."""

    def make(scope: str = "openid profile email offline_access",
             grant_types: tuple[str, ...] = ("authorization_code", GRANT), **kw: Any) -> Cred:
        return make_credential(scope=scope, grant_type=list(grant_types), **kw)

    return make


def start(client: Any, cred: Cred, scope: str = "openid email offline_access", **extra: str) -> Any:
    return client.post("/oauth/device_authorization", data={"scope": scope, **extra},
                       auth=(cred.client_id, cred.client_secret))


def poll(client: Any, cred: Cred, device_code: str) -> Any:
    return client.post("/oauth/token.php", data={"grant_type": GRANT, "device_code": device_code},
                       auth=(cred.client_id, cred.client_secret))


def later(db: Any, device_code_id: int | None = None, **values: Any) -> None:
    """Move a stored request's times (the device waited, or the request expired)."""
    with db.transaction() as s:
        stmt = update(DeviceCode)
        if device_code_id is not None:
            stmt = stmt.where(DeviceCode.id == device_code_id)
        s.execute(stmt.values(**values))


def test_the_device_polls_the_person_approves_and_the_device_gets_its_tokens(client, db, make_account,
                                                                            device_client):
    acct = make_account()
    cred = device_client()
    r = start(client, cred)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    # RFC 8628 §3.2: every field, the code XXXX-XXXX from the unambiguous alphabet, the page at {issuer}/device.
    assert set(body) == {"device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in",
                         "interval"}
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", body["user_code"])
    assert len(body["device_code"]) >= 43  # 256 bits, base64url
    assert body["verification_uri"] == ISSUER + "/device"
    assert body["verification_uri_complete"] == f"{ISSUER}/device?user_code={body['user_code']}"
    assert body["expires_in"] == 600 and body["interval"] == 5

    pending = poll(client, cred, body["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    # RFC 8628 §3.5: polling again before the interval is over slows the device down, for good.
    fast = poll(client, cred, body["device_code"])
    assert fast.status_code == 400 and fast.json()["error"] == "slow_down"
    with db.read() as s:
        assert s.query(DeviceCode).one().poll_interval == 10

    done = device_page(client, body["verification_uri_complete"], acct.email, acct.password)
    assert done.status_code == 200 and "Your device is connected" in done.text, done.text

    tokens = poll(client, cred, body["device_code"])
    assert tokens.status_code == 200, tokens.text
    got = tokens.json()
    assert got["token_type"] == "Bearer" and {"access_token", "refresh_token", "id_token"} <= set(got)
    assert set(got["scope"].split()) == {"openid", "email", "offline_access"}
    info = client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + got["access_token"]})
    assert info.status_code == 200 and info.json()["email"] == acct.email
    # The refresh token works like any other.
    refreshed = client.post("/oauth/token.php", data={"grant_type": "refresh_token",
                                                       "refresh_token": got["refresh_token"]},
                            auth=(cred.client_id, cred.client_secret))
    assert refreshed.status_code == 200, refreshed.text
    # Single use: the device code gives tokens once.
    again = poll(client, cred, body["device_code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_person_who_denies_sends_access_denied(client, db, make_account, device_client):
    acct = make_account()
    cred = device_client()
    body = start(client, cred).json()
    done = device_page(client, f"{ISSUER}/device?user_code={body['user_code']}", acct.email, acct.password,
                       consent="no")
    assert "Access denied" in done.text, done.text
    r = poll(client, cred, body["device_code"])
    assert r.status_code == 400 and r.json()["error"] == "access_denied"


def test_an_expired_request_answers_expired_token_and_cannot_be_approved(client, db, make_account, device_client):
    acct = make_account()
    cred = device_client()
    body = start(client, cred).json()
    later(db, expires_at=now() - timedelta(seconds=1))
    r = poll(client, cred, body["device_code"])
    assert r.status_code == 400 and r.json()["error"] == "expired_token"
    page = device_page(client, f"{ISSUER}/device?user_code={body['user_code']}", acct.email, acct.password)
    assert page.status_code == 400 and device.EXPIRED in page.text


def test_the_page_takes_the_code_in_any_case_with_or_without_the_dash_and_spaces(client, make_account, device_client):
    acct = make_account()
    cred = device_client()
    code = start(client, cred).json()["user_code"]
    typed = " " + code.replace("-", "").lower()[:3] + " " + code.replace("-", "").lower()[3:] + " "
    done = device_page(client, f"{ISSUER}/device?user_code={typed}", acct.email, acct.password)
    assert "Your device is connected" in done.text, done.text


def test_the_page_says_when_a_code_is_unknown_or_already_used(client, make_account, device_client):
    acct = make_account()
    cred = device_client()
    unknown = device_page(client, f"{ISSUER}/device?user_code=BBBB-BBBB", acct.email, acct.password)
    assert unknown.status_code == 400 and device.UNKNOWN in unknown.text
    not_a_code = device_page(client, f"{ISSUER}/device?user_code=AAAA-0000", acct.email, acct.password)
    assert not_a_code.status_code == 400 and device.UNKNOWN in not_a_code.text
    code = start(client, cred).json()["user_code"]
    assert "Your device is connected" in device_page(client, f"{ISSUER}/device?user_code={code}", acct.email,
                                                     acct.password).text
    used = device_page(client, f"{ISSUER}/device?user_code={code}", acct.email, acct.password)
    assert used.status_code == 400 and device.USED in used.text


def test_the_page_needs_a_login_and_its_forms_need_the_csrf_token(client, make_account, device_client):
    r = client.get("/device?user_code=BCDF-GHJK")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fdevice%3Fuser_code%3DBCDF-GHJK"
    acct = make_account()
    device_page(client, f"{ISSUER}/device", acct.email, acct.password)  # logged in now
    forged = client.post("/device", data={"user_code": "BCDF-GHJK"})
    assert forged.status_code == 403


def test_guessing_codes_is_throttled_and_a_refused_guess_tells_nothing(client, make_account, device_client):
    acct = make_account()
    cred = device_client()
    code = start(client, cred).json()["user_code"]
    device_page(client, f"{ISSUER}/device", acct.email, acct.password)
    page = client.get("/device")
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None
    for _ in range(10):
        wrong = client.post("/device", data={"token": token.group(1), "user_code": "BBBB-BBBB"})
        assert wrong.status_code == 400 and device.UNKNOWN in wrong.text
    # The eleventh from this address is refused before its code is looked up: the right code gets the same answer.
    for guess in ("BBBB-BBBB", code):
        refused = client.post("/device", data={"token": token.group(1), "user_code": guess})
        assert refused.status_code == 429 and "Too many codes" in refused.text
        assert "userAuthorization" not in refused.text


def test_the_device_authorization_endpoint_refuses_what_rfc_8628_names(client, device_client, make_credential):
    cred = device_client(scope="openid email")
    # RFC 8628 §3.2 / RFC 6749 §5.2.
    assert start(client, cred, scope="openid profile").json()["error"] == "invalid_scope"
    wrong = client.post("/oauth/device_authorization", data={"scope": "openid"}, auth=(cred.client_id, "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    code_only = make_credential()  # authorization_code alone
    r = start(client, code_only, scope="openid")
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    assert client.get("/oauth/device_authorization").json()["error"] == "invalid_request"
    r = start(client, cred, scope="openid", resource="https://nowhere.example.com/")
    assert r.json()["error"] == "invalid_target"


def test_the_token_endpoint_refuses_a_device_code_of_another_client_or_a_client_without_the_grant(
        client, device_client, make_credential):
    cred = device_client()
    other = device_client()
    body = start(client, cred).json()
    assert poll(client, other, body["device_code"]).json()["error"] == "invalid_grant"
    assert poll(client, cred, "not-a-code").json()["error"] == "invalid_grant"
    assert poll(client, make_credential(), body["device_code"]).json()["error"] == "unauthorized_client"
    missing = client.post("/oauth/token.php", data={"grant_type": GRANT}, auth=(cred.client_id, cred.client_secret))
    assert missing.json()["error"] == "invalid_request"


def test_polling_at_the_interval_is_not_slowed_down(client, db, device_client):
    cred = device_client()
    body = start(client, cred).json()
    assert poll(client, cred, body["device_code"]).json()["error"] == "authorization_pending"
    later(db, last_polled_at=now() - timedelta(seconds=5))
    assert poll(client, cred, body["device_code"]).json()["error"] == "authorization_pending"


def test_discovery_names_the_endpoint_and_the_grant(client):
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["device_authorization_endpoint"] == ISSUER + "/oauth/device_authorization"
    assert GRANT in doc["grant_types_supported"]


@pytest.mark.parametrize("ttl", [59, 1801])
def test_the_device_code_lifetime_is_bounded(ttl):
    with pytest.raises(ConfigError, match="HOSPES_DEVICE_CODE_TTL: must be from 60 to 1800"):
        load_settings(device_code_ttl=ttl, secret_key="k" * 40)


def test_user_codes():
    codes = {device.new_user_code() for _ in range(200)}
    assert len(codes) > 190 and all(re.fullmatch("[BCDFGHJKLMNPQRSTVWXZ]{8}", c) for c in codes)
    assert device.normalize(" bcdf-ghjk ") == "BCDFGHJK" == device.normalize("BC DF GH JK")
    assert device.normalize("BCDF-GHJ") is None and device.normalize("ABCD-EFGH") is None
    assert device.shown("BCDFGHJK") == "BCDF-GHJK"


def test_hospes_device_code_ttl_is_the_requests_lifetime(settings, db, device_client):
    from starlette.testclient import TestClient

    from hospes.app import create_app

    cred = device_client()
    app = create_app(settings.model_copy(update={"device_code_ttl": 120}))
    with TestClient(app, base_url=ISSUER) as client:
        started = now()
        assert start(client, cred).json()["expires_in"] == 120
    with db.read() as s:
        expires = s.query(DeviceCode).one().expires_at
    assert abs((expires.replace(tzinfo=started.tzinfo) - started).total_seconds() - 120) < 5


def test_a_device_may_ask_for_a_resource_of_the_operators(client, db, make_account, device_client):
    from hospes.oauth import resources

    with db.transaction() as s:
        resources.add(s, issuer=ISSUER, identifier="https://dns.example.com/", name="DNS API",
                      scopes=[("dns:read", "See your DNS zones")], actor=None)
    acct = make_account()
    cred = device_client(scope="openid dns:read")
    body = start(client, cred, scope="dns:read", resource="https://dns.example.com/").json()
    done = device_page(client, body["verification_uri_complete"], acct.email, acct.password)
    assert "Your device is connected" in done.text, done.text
    # RFC 8707 §2.2: another resource at the token endpoint is invalid_target; the request's own gives the tokens.
    other = client.post("/oauth/token.php", auth=(cred.client_id, cred.client_secret), data={
        "grant_type": GRANT, "device_code": body["device_code"], "resource": "https://other.example.com/"})
    assert other.json()["error"] == "invalid_target"
    tokens = poll(client, cred, body["device_code"])
    assert tokens.status_code == 200, tokens.text
    introspected = client.post("/oauth/introspect", data={"token": tokens.json()["access_token"]},
                               auth=(cred.client_id, cred.client_secret)).json()
    assert introspected["active"] and introspected["aud"] == "https://dns.example.com/"
    assert introspected["scope"] == "dns:read"


def test_a_person_with_several_accounts_chooses_which_the_device_may_use(client, db, make_account, device_client):
    from tests.api import account_boxes, approve, latest_grant_accounts, second_account

    jane = make_account()
    other = second_account(db, jane.user_id, "Jane's Other Shop")
    cred = device_client(scope="openid services:read")
    body = start(client, cred, scope="openid services:read").json()
    page = device_page(client, body["verification_uri_complete"], jane.email, jane.password, consent=None)
    # The authorization endpoint's consent page: both accounts offered, none ticked; the code to check.
    assert account_boxes(page.text) == {str(jane.client_id): False, str(other): False}
    assert body["user_code"] in page.text
    again = approve(client, page, [])
    assert again.status_code == 400 and "Choose at least one account" in again.text
    assert poll(client, cred, body["device_code"]).json()["error"] == "authorization_pending"
    done = approve(client, again, [other])
    assert "Your device is connected" in done.text, done.text
    assert latest_grant_accounts(db, jane.user_id) == str(other)
    tokens = poll(client, cred, body["device_code"])
    assert tokens.status_code == 200, tokens.text
    services = client.get("/api/v1/services", headers={"Authorization": "Bearer " + tokens.json()["access_token"]})
    assert services.status_code == 200, services.text
