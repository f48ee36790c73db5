"""A single-page application in a real browser: a public client (PKCE, no secret) on its own origin gets its code,
then calls the token and userinfo endpoints with fetch() from that origin, which the browser allows only if the
server answers CORS for it. A page on another origin is refused by the browser."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import APP_NAME, Credential, authorization_url, html_server, log_in, screenshot

pytestmark = pytest.mark.browser

PAGE = (b"<!doctype html><html lang='en'><head><title>Single-page app</title></head>"
        b"<body><main><h1>Single-page app</h1><p id='status'>Loading</p></main></body></html>")

# What the application's script does once it has its code: exchange it, then ask who signed in.
EXCHANGE_AND_ASK = """
async ({tokenUrl, userinfoUrl, clientId, code, verifier, redirectUri}) => {
  const tok = await fetch(tokenUrl, {method: 'POST', body: new URLSearchParams({
    grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: clientId,
    code_verifier: verifier})});
  const tokens = await tok.json();
  const info = await fetch(userinfoUrl, {headers: {Authorization: 'Bearer ' + tokens.access_token}});
  const claims = await info.json();
  document.getElementById('status').textContent = 'Signed in as ' + claims.email;
  return {tokenStatus: tok.status, accessToken: tokens.access_token, userinfoStatus: info.status, claims};
}
"""
# The same call from a page whose origin the client did not register.
ASK_FROM_ELSEWHERE = """
async ({userinfoUrl, accessToken}) => {
  try {
    await fetch(userinfoUrl, {headers: {Authorization: 'Bearer ' + accessToken}});
    return 'read';
  } catch (e) {
    return 'blocked: ' + e.name;
  }
}
"""


@pytest.fixture
def app_origin() -> Iterator[str]:
    """The application's own web server, on http://localhost:PORT (matched exactly, port included, unlike a
    loopback IP literal): any path answers the page."""
    with html_server(lambda _target: PAGE) as port:
        yield f"http://localhost:{port}"


def test_a_single_page_app_exchanges_its_code_and_reads_userinfo_from_its_origin(page, server, customer,
                                                                                  make_credential, app_origin):
    made = make_credential(redirect_uri=app_origin + "/callback", scope="openid email", public=True,
                           name=APP_NAME)
    cred = Credential(made.client_id, "", made.redirect_uri, APP_NAME)
    flow = authorization_url(server, cred, scope="openid email")
    page.goto(flow.url)
    log_in(page, customer.email, customer.password)
    page.get_by_role("button", name="Authorise", exact=True).click()
    page.wait_for_url(lambda url: url.startswith(cred.redirect_uri + "?"))
    got = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert got["state"] == flow.state

    result = page.evaluate(EXCHANGE_AND_ASK, {
        "tokenUrl": server.url + "/oauth/token.php", "userinfoUrl": server.url + "/oauth/userinfo.php",
        "clientId": cred.client_id, "code": got["code"], "verifier": flow.verifier,
        "redirectUri": cred.redirect_uri})
    assert result["tokenStatus"] == 200 and result["userinfoStatus"] == 200
    assert result["claims"]["email"] == customer.email
    expect(page.locator("#status")).to_have_text("Signed in as " + customer.email)
    screenshot(page, "single-page-app")

    # The same application served from an origin it did not register: the browser withholds the answer.
    page.goto(app_origin.replace("localhost", "127.0.0.1") + "/elsewhere")
    assert page.evaluate(ASK_FROM_ELSEWHERE, {"userinfoUrl": server.url + "/oauth/userinfo.php",
                                              "accessToken": result["accessToken"]}) == "blocked: TypeError"
