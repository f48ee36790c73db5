"""Accessibility: axe-core, injected into the pages a customer meets, finds no serious or critical violation;
and the whole code flow (log in, consent) works from the keyboard alone, with a visible focus."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    account_settings,
    at_callback,
    authorization_url,
    axe_serious,
    describe,
    log_in,
)

pytestmark = pytest.mark.browser


def test_axe_finds_no_serious_violation_on_login_consent_and_connected_applications(page, server, rp, customer,
                                                                                   credential):
    found: dict[str, list] = {}

    def check(name: str) -> None:
        found[name] = axe_serious(page)

    flow = authorization_url(server, credential)
    page.goto(flow.url)
    check("login")
    log_in(page, customer.email, "wrong password")
    expect(page.get_by_role("alert")).to_be_visible()
    check("login with an error")
    log_in(page, customer.email, customer.password)
    expect(page.get_by_role("button", name="Authorise", exact=True)).to_be_visible()
    check("consent")
    page.get_by_role("button", name="Authorise", exact=True).click()
    at_callback(page, rp)

    page.goto(server.url + "/clientarea.php")
    account_settings(page).get_by_role("link", name="Connected applications").click()
    expect(page.locator("li.app")).to_have_count(1)
    check("connected applications")
    account_settings(page).get_by_role("link", name="Security settings").click()
    check("security settings")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    expect(page.locator("#totp-secret")).to_be_visible()
    check("two-factor setup")
    account_settings(page).get_by_role("link", name="Sessions").click()
    check("sessions")
    account_settings(page).get_by_role("link", name="Change password").click()
    check("change password")
    page.goto(server.url + "/password/reset")
    check("password reset")

    bad = {name: v for name, v in found.items() if v}
    assert not bad, "\n".join(f"== {name}\n{describe(v)}" for name, v in bad.items())


def focused(page) -> dict:
    return page.evaluate("""() => {
        const e = document.activeElement, s = getComputedStyle(e);
        return {tag: e.tagName.toLowerCase(), id: e.id, text: (e.innerText || '').trim(),
                outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0};
    }""")


def tab_to(page, want, limit: int = 25) -> dict:
    """Press Tab until the focused element is the one wanted; it must show where the focus is."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if want(now):
            assert now["outline"], f"no visible focus on {now}"
            return now
    raise AssertionError(f"Tab never reached the element; the focus ended on {focused(page)}")


def test_the_code_flow_works_from_the_keyboard_alone(page, server, rp, customer, credential):
    flow = authorization_url(server, credential)
    page.goto(flow.url)
    # The email field has autofocus; start from the top of the page all the same, as after a reload.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    tab_to(page, lambda f: f["id"] == "username")
    page.keyboard.type(customer.email)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(customer.password)
    page.keyboard.press("Enter")

    expect(page.get_by_role("button", name="Authorise", exact=True)).to_be_visible()
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Authorise")
    page.keyboard.press("Enter")
    got = at_callback(page, rp)
    assert got["code"] and got["state"] == flow.state
