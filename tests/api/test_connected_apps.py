"""The connected-applications page shows, per application, the scopes and the client accounts granted; revoking
it there stops the application's next customer-API request."""

from __future__ import annotations

from typing import Any

from tests.account import post_form, soup
from tests.api import second_account, token_for


def test_the_page_shows_the_accounts_and_scopes_and_revoking_stops_the_api(
        client: Any, db: Any, make_account: Any, make_credential: Any) -> None:
    jane = make_account()
    other = second_account(db, jane.user_id, "Other Ltd")
    cred = make_credential(scope="openid services:read tickets:write", name="Hosting Dashboard")
    tok = token_for(client, jane, cred, "openid services:read tickets:write", [other])
    auth = {"authorization": "Bearer " + tok["access_token"]}
    assert client.get("/api/v1/services", headers=auth).status_code == 200

    page = client.get("/account/applications")
    [app] = soup(page.text).select("li.app")
    assert app.h2.get_text(strip=True) == "Hosting Dashboard"
    assert app.select_one(".app-accounts").get_text(strip=True) == f"Other Ltd (#{other})"
    assert app.select_one(".app-scopes").get_text(strip=True) == "openid services:read tickets:write"
    text = app.get_text(" ", strip=True)
    assert "See your products and services (read only)" in text and "Open support tickets" in text
    [listed] = client.get("/account/applications.json").json()["applications"]
    assert listed["accounts"] == [{"id": other, "name": f"Other Ltd (#{other})"}]

    r = post_form(client, page, "app")
    assert r.status_code == 303
    r = client.get("/api/v1/services", headers=auth)
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
