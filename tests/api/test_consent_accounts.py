"""The consent page's account choice: a person who reaches several client accounts picks which an application
may use (checkboxes named ``account``, none ticked in advance); the choice belongs to the grant and to the
remembered consent, and a new consent replaces it. Closed accounts are not offered."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup

from hospes.accounts.service import close_client, get_client
from hospes.oauth.authorize import CHOOSE_AN_ACCOUNT
from tests.api import (
    account_boxes,
    approve,
    code_of,
    consent_page,
    latest_grant_accounts,
    second_account,
)
from tests.clientarea import invite

API = "openid services:read"


def test_several_accounts_are_offered_unticked_with_the_app_and_where_it_returns(
        client: Any, db: Any, make_account: Any, make_credential: Any) -> None:
    jane = make_account()
    other = second_account(db, jane.user_id, "Jane's Other Shop")
    cred = make_credential(scope=API, redirect_uri="https://app.example.net/callback", logo_uri="/static/logo.png")
    page = consent_page(client, jane, cred, API)
    assert page.status_code == 200
    assert account_boxes(page.text) == {str(jane.client_id): False, str(other): False}
    text = BeautifulSoup(page.text, "html.parser").get_text(" ")
    assert "Jane's Other Shop" in text
    assert "Example App" in text and "app.example.net" in text
    assert 'src="/static/logo.png"' in page.text


def test_choosing_none_of_several_shows_the_form_again_with_why(
        client: Any, db: Any, make_account: Any, make_credential: Any) -> None:
    jane = make_account()
    second_account(db, jane.user_id)
    cred = make_credential(scope=API)
    page = consent_page(client, jane, cred, API)
    again = approve(client, page, [])
    assert again.status_code == 400
    assert CHOOSE_AN_ACCOUNT in again.text and len(account_boxes(again.text)) == 2
    assert latest_grant_accounts(db, jane.user_id) is None  # no grant made
    # The form shown again works.
    assert code_of(approve(client, again, [jane.client_id]))
    assert latest_grant_accounts(db, jane.user_id) == str(jane.client_id)


def test_the_choice_is_on_the_grant_and_a_repeat_login_keeps_it_until_a_new_consent(
        client: Any, db: Any, make_account: Any, make_credential: Any) -> None:
    jane = make_account()
    other = second_account(db, jane.user_id)
    cred = make_credential(scope=API)
    code_of(approve(client, consent_page(client, jane, cred, API), [other]))
    assert latest_grant_accounts(db, jane.user_id) == str(other)
    # Again: no consent page, the same choice.
    code_of(consent_page(client, jane, cred, API))
    assert latest_grant_accounts(db, jane.user_id) == str(other)
    # A new consent (prompt=consent) replaces it, and is what is remembered from then on.
    page = consent_page(client, jane, cred, API, prompt="consent")
    code_of(approve(client, page, [jane.client_id, other]))
    assert latest_grant_accounts(db, jane.user_id) == f"{jane.client_id} {other}"
    code_of(consent_page(client, jane, cred, API))
    assert latest_grant_accounts(db, jane.user_id) == f"{jane.client_id} {other}"


def test_an_account_not_offered_cannot_be_chosen(
        client: Any, db: Any, make_account: Any, make_credential: Any) -> None:
    jane, stranger = make_account(), make_account()
    other = second_account(db, jane.user_id)
    cred = make_credential(scope=API)
    code_of(approve(client, consent_page(client, jane, cred, API), [other, stranger.client_id]))
    assert latest_grant_accounts(db, jane.user_id) == str(other)


def test_one_account_is_chosen_without_asking(client: Any, db: Any, make_account: Any,
                                              make_credential: Any) -> None:
    jane = make_account()
    cred = make_credential(scope=API)
    page = consent_page(client, jane, cred, API)
    assert account_boxes(page.text) == {}
    code_of(approve(client, page, []))
    assert latest_grant_accounts(db, jane.user_id) == str(jane.client_id)


def test_closed_accounts_are_not_offered(client: Any, db: Any, make_account: Any, make_credential: Any) -> None:
    jane = make_account()
    closed = second_account(db, jane.user_id, "Gone Ltd")
    third = second_account(db, jane.user_id, "Third Ltd")
    with db.transaction() as s:
        close_client(s, get_client(s, closed))
    cred = make_credential(scope=API)
    page = consent_page(client, jane, cred, API)
    assert account_boxes(page.text) == {str(jane.client_id): False, str(third): False}
    assert "Gone Ltd" not in page.text


def test_an_invited_persons_account_is_offered_too(client: Any, db: Any, make_account: Any,
                                                   make_credential: Any) -> None:
    owner, ivan_home = make_account(), make_account()
    ivan = invite(db, owner.client_id, ["products"])
    # Ivan logs in with his own address; make him also the owner of an account of his own.
    with db.transaction() as s:
        from hospes.store.models import UserClient
        s.add(UserClient(user_id=ivan.user_id, client_id=ivan_home.client_id, role="owner", permissions=[]))
    cred = make_credential(scope=API)
    page = consent_page(client, ivan, cred, API)
    assert set(account_boxes(page.text)) == {str(owner.client_id), str(ivan_home.client_id)}
    assert "(invited)" in page.text


def test_without_an_api_scope_there_is_no_choice_and_the_grant_has_none(
        client: Any, db: Any, make_account: Any, make_credential: Any) -> None:
    jane = make_account()
    second_account(db, jane.user_id)
    cred = make_credential(scope="openid profile")
    page = consent_page(client, jane, cred, "openid profile")
    assert account_boxes(page.text) == {}
    code_of(approve(client, page, []))
    assert latest_grant_accounts(db, jane.user_id) is None
