"""HOSPES_LOG_FORMAT=json on the real server process: a whole flow (a failed and a right login, consent, the
code exchange, a refresh, userinfo, introspection, revocation, a password reset by its mailed link, an admin
API call minting a single sign-on token and its redemption) leaves a log in which every line is JSON, every
request has its line with the id its answer carried in X-Request-ID, and no secret the flow used appears: no
password, client or API secret, code, PKCE verifier, access, refresh or ID token, reset link or SSO token.
The audit entries those requests made carry the same request ids."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from hospes import audit
from tests.adminapi import make_api_credential
from tests.browserless import authorize, query_of
from tests.e2e import REDIRECT_URI, add_credential, add_user, discover, rp
from tests.mailbox import text as mail_text

NEW_PASSWORD = "a much better passphrase " + secrets.token_hex(4)
WRONG_PASSWORD = "wrong passphrase " + secrets.token_hex(4)
TRUSTED_ID = "nginx-req_0123456789abcdef"


@pytest.fixture
def server_env(smtp: tuple[Any, int]) -> dict[str, str]:
    return {"HOSPES_LOG_FORMAT": "json", "HOSPES_SMTP_URL": f"smtp://127.0.0.1:{smtp[1]}",
            "HOSPES_TRUSTED_PROXIES": "127.0.0.1/32"}


def _csrf(page: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_a_whole_flow_logs_json_lines_with_request_ids_and_no_secret(server, db, smtp):
    user = add_user(server)
    cred = add_credential(server)
    api = make_api_credential(db)
    meta = discover(server)
    answered: list[httpx.Response] = []

    def keep(r: httpx.Response) -> None:
        answered.append(r)

    hooks = {"response": [keep]}
    used: list[str] = [user.password, NEW_PASSWORD, WRONG_PASSWORD, cred.client_secret, api.secret]
    with httpx.Client(base_url=server.url, timeout=10, event_hooks=hooks) as browser, \
            rp(cred, event_hooks=hooks) as oauth:
        # A wrong password first: a failed login, audited, its password nowhere.
        page = browser.get("/login")
        browser.post("/login", data={"token": _csrf(page.text), "username": user.email, "password": WRONG_PASSWORD})
        # Login, consent, code (Authlib builds the request with PKCE and a nonce).
        verifier = secrets.token_urlsafe(48)
        url, state = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                    nonce=secrets.token_urlsafe(16))
        r = authorize(browser, url, user.email, user.password)
        location = r.headers["location"]
        assert location.startswith(REDIRECT_URI + "?"), location
        code = query_of(location)["code"]
        token = oauth.fetch_token(meta["token_endpoint"], authorization_response=location, state=state,
                                  code_verifier=verifier)
        refreshed = oauth.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
        info = oauth.get(meta["userinfo_endpoint"])
        assert info.status_code == 200 and info.json()["email"] == user.email
        introspected = browser.post(meta["introspection_endpoint"], data={"token": refreshed["access_token"]},
                                    auth=(cred.client_id, cred.client_secret))
        assert introspected.json()["active"] is True
        revoked = oauth.revoke_token(meta["revocation_endpoint"], token=refreshed["refresh_token"],
                                     token_type_hint="refresh_token")
        assert revoked.status_code == 200
        used += [code, verifier, token["access_token"], token["refresh_token"], token["id_token"],
                 refreshed["access_token"], refreshed["refresh_token"], refreshed["id_token"]]

        # A password reset by the link in its mail.
        page = browser.get("/password/reset")
        assert browser.post("/password/reset", data={"token": _csrf(page.text), "email": user.email}).status_code == 200
        body = mail_text(smtp[0].wait(1)[0])
        link = re.search(re.escape(server.url) + r"/password/reset/([A-Za-z0-9_-]+)", body)
        assert link, body
        used.append(link.group(1))
        page = browser.get(link.group(0))
        done = browser.post(link.group(0), data={"token": _csrf(page.text), "new_password": NEW_PASSWORD,
                                                 "new_password_confirm": NEW_PASSWORD})
        assert "Your password has been changed" in done.text

        # The admin API mints a single sign-on token; the browser redeems it.
        minted = browser.post("/includes/api.php", data={
            "action": "CreateSsoToken", "identifier": api.identifier, "secret": api.secret, "responsetype": "json",
            "client_id": str(user.client_id)}).json()
        assert minted["result"] == "success", minted
        used.append(query_of(minted["redirect_url"])["access_token"])
        landed = browser.get(minted["redirect_url"])
        assert landed.status_code in (302, 303)

        # A trusted proxy's well-formed X-Request-ID is kept; an ill-formed one is replaced.
        kept = browser.get("/healthz", headers={"X-Request-ID": TRUSTED_ID})
        assert kept.headers["x-request-id"] == TRUSTED_ID
        replaced = browser.get("/healthz", headers={"X-Request-ID": "bad id\" {with} spaces"})
        assert re.fullmatch(r"[0-9a-f]{16}", replaced.headers["x-request-id"])

    server.process.terminate()
    server.process.wait(30)
    text = server.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    for secret in used:
        assert secret and secret not in text, f"a secret of the flow is in the log: {secret[:6]}…"

    access = {line["request_id"]: line for line in lines if line["logger"] == "hospes.access"}
    assert len(answered) >= 15
    for r in answered:
        rid = r.headers["x-request-id"]
        line = access.get(rid)
        assert line is not None, (r.request.method, r.request.url.path, rid)
        assert line["method"] == r.request.method and line["status"] == r.status_code
        assert line["path"] == r.request.url.path or line["path"].endswith("<secret>"), line
        assert "?" not in line["path"] and line["client_ip"] == "127.0.0.1" and line["duration_ms"] >= 0
        assert line["bytes"] == len(r.content) and "user_agent" in line
    # The token endpoint's line names the client; a reset link's path is cut at its secret.
    token_lines = [line for line in lines if line.get("path") == urlsplit(meta["token_endpoint"]).path]
    assert token_lines and all(line["client_id"] == cred.client_id for line in token_lines)
    assert any(line.get("path") == "/password/reset/<secret>" for line in lines)

    # The audit entries carry the id of the request that made them.
    ids = {r.headers["x-request-id"]: r for r in answered}
    with db.read() as s:
        entries = audit.search(s, limit=1000)
    by_action: dict[str, list[Any]] = {}
    for e in entries:
        by_action.setdefault(e.action, []).append(e)
    for action in ("user.login_failed", "user.login", "consent.granted", "token.granted", "token.refreshed",
                   "token.revoked", "user.password_reset", "sso.token_minted", "sso.redeemed"):
        assert action in by_action, (action, sorted(by_action))
        for e in by_action[action]:
            assert e.request_id in ids, (action, e.request_id)
    grant_request = ids[by_action["token.granted"][0].request_id].request
    assert grant_request.url.path == urlsplit(meta["token_endpoint"]).path
    assert by_action["token.granted"][0].client_id == cred.client_id
    for e in entries:
        flat = json.dumps([e.actor, e.target, e.details])
        assert not any(secret in flat for secret in used), e.action
