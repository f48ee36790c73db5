"""A person in a real browser answering a device (RFC 8628): the link the device shows, the login, the code typed
as people type it, the consent page with the code to check, and the device's poll that then gets its tokens."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_serious, cli_json, describe, log_in, screenshot

pytestmark = pytest.mark.browser

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
NAME = "TV dashboard"


def test_a_person_types_the_code_logs_in_and_allows_the_device(page, server, customer):
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", GRANT, "--scope", "openid email",
                    "--name", NAME)
    auth = (made["clientIdentifier"], made["clientSecret"])
    started = httpx.post(f"{server.url}/oauth/device_authorization", data={"scope": "openid email"}, auth=auth,
                         timeout=10).json()

    page.goto(started["verification_uri"])
    log_in(page, customer.email, customer.password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Connect a device")
    screenshot(page, "device-code")
    assert not (found := axe_serious(page)), describe(found)
    page.get_by_label("Code").fill(started["user_code"].lower().replace("-", " "))
    page.get_by_role("button", name="Continue", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Authorise {NAME} to access your account")
    expect(page.locator("#user-code")).to_have_text(started["user_code"])
    screenshot(page, "device-consent")
    assert not (found := axe_serious(page)), describe(found)
    page.get_by_role("button", name="Authorise", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your device is connected")

    r = httpx.post(f"{server.url}/oauth/token.php", auth=auth, timeout=10,
                   data={"grant_type": GRANT, "device_code": started["device_code"]})
    assert r.status_code == 200, r.text
    assert {"access_token", "id_token"} <= set(r.json())


def test_a_wrong_code_says_so_and_keeps_the_form(page, server, customer):
    page.goto(f"{server.url}/device")
    log_in(page, customer.email, customer.password)
    page.get_by_label("Code").fill("BBBB-BBBB")
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not valid")
    expect(page.get_by_label("Code")).to_have_value("BBBB-BBBB")
    assert not (found := axe_serious(page)), describe(found)
