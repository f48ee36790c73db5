"""The customer API's scopes: in the scope table with words a person reads on the consent page, read and write
told apart; a credential may hold them (public ones too) and ask for them; discovery lists them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import ValidationError

from hospes.config import CUSTOMER_API_SCOPES, Settings
from hospes.oauth import credentials
from hospes.oauth.scopes import API_SCOPES, SCOPES
from hospes.store.models import OAuthCredential
from tests.browserless import login_form

CONTRACT_SCOPES = ("services:read", "domains:read", "invoices:read", "tickets:read", "tickets:write")


def test_the_contracts_scopes_are_in_the_table_with_words_for_people() -> None:
    assert API_SCOPES == CONTRACT_SCOPES
    for name in API_SCOPES:
        text = SCOPES[name].consent_text
        assert text and ":" not in text  # words, not the scope's name
    # Reads say so; the one write says what it does.
    assert all("read only" in SCOPES[n].consent_text for n in API_SCOPES if n.endswith(":read"))
    assert "read only" not in SCOPES["tickets:write"].consent_text
    assert SCOPES["tickets:write"].api_access == "write"
    assert len({SCOPES[n].consent_text for n in API_SCOPES}) == len(API_SCOPES)


def test_the_step_up_setting_takes_the_customer_apis_scopes_only() -> None:
    assert CUSTOMER_API_SCOPES == API_SCOPES  # the settings' copy of the table's names
    assert Settings(api_step_up_scopes=" tickets:write  invoices:read ").step_up_scopes == {"tickets:write",
                                                                                          "invoices:read"}
    assert Settings().step_up_scopes == frozenset()
    for wrong in ("ticket:write", "openid", "clientarea:sso"):
        with pytest.raises(ValidationError, match="not a customer API scope"):
            Settings(api_step_up_scopes=wrong)


def test_discovery_lists_them(client: Any) -> None:
    meta = client.get("/.well-known/openid-configuration").json()
    assert set(CONTRACT_SCOPES) <= set(meta["scopes_supported"])


def test_credentials_confidential_and_public_may_hold_them(db: Any) -> None:
    with db.transaction() as s:
        made = credentials.create(s, grant_type="authorization_code", name="App",
                                  scope="openid " + " ".join(API_SCOPES), redirect_uris=["https://app.example/cb"])
        public = credentials.create(s, grant_type="authorization_code", name="SPA", scope="services:read",
                                    redirect_uris=["https://spa.example/cb"], public=True)
        assert s.get(OAuthCredential, made.credential_id).scope.split()[1:] == list(API_SCOPES)
        assert s.get(OAuthCredential, public.credential_id).scope == "services:read"


def test_an_authorization_may_ask_for_them_and_the_consent_page_says_what_they_allow(
        client: Any, make_account: Any, make_credential: Any) -> None:
    acct = make_account()
    cred = make_credential(scope="openid services:read tickets:write")
    r = client.get("/oauth/authorize.php?" + urlencode({
        "response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
        "scope": "openid services:read tickets:write", "state": "s"}))
    f = login_form(r.text, str(r.url))
    r = client.post(f.action, data={**f.fields, "username": acct.email, "password": acct.password})
    assert r.status_code == 200 and "userAuthorization" in r.text, r.text
    assert SCOPES["services:read"].consent_text in r.text
    assert SCOPES["tickets:write"].consent_text in r.text


def test_a_credential_without_them_may_not_ask(client: Any, make_credential: Any) -> None:
    cred = make_credential(scope="openid")
    r = client.get("/oauth/authorize.php?" + urlencode({
        "response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
        "scope": "openid invoices:read", "state": "s"}))
    assert r.status_code == 303 and "error=invalid_scope" in r.headers["location"]
