"""Connected applications in a real browser: after a completed flow the customer finds the application in the
client area with what it may do, presses "Revoke access", and the application's tokens stop working at once."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    APP_NAME,
    SCOPE,
    account_settings,
    at_callback,
    authorization_url,
    exchange,
    log_in,
    screenshot,
    userinfo,
)

pytestmark = pytest.mark.browser


def test_revoking_a_connected_application_stops_its_tokens(page, server, rp, customer, credential):
    flow = authorization_url(server, credential, scope=SCOPE + " offline_access", prompt="consent")
    page.goto(flow.url)
    log_in(page, customer.email, customer.password)
    page.get_by_role("button", name="Authorise", exact=True).click()
    tokens = exchange(server, credential, flow, at_callback(page, rp)["code"])
    assert tokens.get("refresh_token"), tokens
    assert userinfo(server, tokens["access_token"]).status_code == 200

    # The customer, still logged in from the flow, opens the client area and its connected applications.
    page.goto(server.url + "/clientarea.php")
    account_settings(page).get_by_role("link", name="Connected applications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Connected applications")
    app = page.locator("li.app").filter(has=page.get_by_role("heading", name=APP_NAME))
    expect(app).to_have_count(1)
    expect(app.locator("ul.permissions li")).to_contain_text(
        ["Confirm who you are", "See your name and language", "See your email address"])
    expect(app.locator("dl")).to_contain_text("First approved")
    expect(app.locator("dl")).to_contain_text("Last used")
    screenshot(page, "connected-applications")

    app.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_role("status")).to_have_text(f"{APP_NAME} no longer has access to your account.")
    expect(page.locator("li.app")).to_have_count(0)
    expect(page.get_by_text("No applications are connected to your account.")).to_be_visible()

    # The application's next calls fail.
    assert userinfo(server, tokens["access_token"]).status_code == 401
    r = httpx.post(f"{server.url}/oauth/token.php", auth=(credential.client_id, credential.client_secret),
                   data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
