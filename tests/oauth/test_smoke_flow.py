"""The whole code flow in-process: login, consent, code, token, userinfo, refresh."""

from __future__ import annotations

from hospes.oauth import pkce
from tests.browserless import authorize, query_of


def test_code_flow_with_pkce_and_nonce(client, make_account, make_credential):
    acct = make_account()
    cred = make_credential(scope="openid profile email offline_access")
    verifier = "v" * 64
    url = ("/oauth/authorize.php?response_type=code&client_id=" + cred.client_id
           + "&redirect_uri=" + cred.redirect_uri + "&scope=openid%20profile%20email%20offline_access"
           + "&state=s1&nonce=n1&code_challenge=" + pkce.s256(verifier) + "&code_challenge_method=S256")
    r = authorize(client, url, acct.email, acct.password)
    assert r.status_code == 303, r.text
    q = query_of(r.headers["location"])
    assert q["state"] == "s1" and q["iss"] == "http://127.0.0.1:8000"
    tok = client.post("/oauth/token.php", data={
        "grant_type": "authorization_code", "code": q["code"], "redirect_uri": cred.redirect_uri,
        "code_verifier": verifier}, auth=(cred.client_id, cred.client_secret))
    assert tok.status_code == 200, tok.text
    body = tok.json()
    assert body["token_type"] == "Bearer" and "id_token" in body and "refresh_token" in body
    ui = client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + body["access_token"]})
    assert ui.status_code == 200, ui.text
    assert ui.json()["email"] == acct.email
    again = client.post("/oauth/token.php", data={
        "grant_type": "authorization_code", "code": q["code"], "redirect_uri": cred.redirect_uri,
        "code_verifier": verifier}, auth=(cred.client_id, cred.client_secret))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    ui2 = client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + body["access_token"]})
    assert ui2.status_code == 401
