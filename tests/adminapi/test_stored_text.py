"""Text a person or an API stores holds no control characters: each input refuses them with a message naming the
field (WHMCS's envelope for the API, a form error on the pages, one line from the CLI), and the XML answer is
well-formed whatever an older row holds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import select, update

from hospes.store.models import ClientAccount, OAuthCredential, Ticket, User
from tests.admin import OIDC, admin_session, post
from tests.adminapi import Api, api_cred_fixture, api_fixture  # noqa: F401
from tests.clientarea import login
from tests.conftest import PASSWORD

# C0 (not tab or newline), DEL, C1, and what XML 1.0 cannot carry.
CONTROLS = ["\x01", "\x0b", "\x1f", "\x7f", "\x85", "\x9f", "\ufffe", "\uffff"]
CREATE = {"grantType": "authorization_code", "scope": "openid", "name": "App",
          "redirectUri": "https://rp.example.com/cb"}


def names(db: Any) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(OAuthCredential.name).order_by(OAuthCredential.id)))


@pytest.mark.parametrize("c", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_oauth_credential_commands_refuse_control_characters(api, db, c):
    code = f"U+{ord(c):04X}"
    assert api.error("CreateOAuthCredential", {**CREATE, "name": f"A{c}pp"}) == (
        f"The name must not contain control characters ({code}).")
    if c not in "\ufffe\uffff":
        # Multi-line text keeps tab and newlines, and nothing else below space.
        assert api.error("CreateOAuthCredential", {**CREATE, "description": f"line\n\tli{c}ne"}) == (
            f"The description must not contain control characters ({code}).")
    made = api.ok("CreateOAuthCredential", {**CREATE, "description": "line one\n\tline two"})
    assert api.error("UpdateOAuthCredential", {"credentialId": made["credentialId"], "name": f"x{c}y"}) == (
        f"The name must not contain control characters ({code}).")
    assert api.error("CreateOAuthCredential", {**CREATE, "redirectUri": f"https://rp.example.com/c{c}b"})
    assert names(db) == ["App"]


@pytest.mark.parametrize("c", ["\x01", "\x85", "\ufffe"], ids=lambda c: f"U+{ord(c):04X}")
def test_client_commands_refuse_control_characters(api, db, c):
    new = {"firstname": "Jane", "lastname": "Doe", "email": "jane@example.com", "password2": PASSWORD}
    assert "First name must not contain control characters" in api.error("AddClient", {**new, "firstname": f"J{c}o"})
    assert "Company name must not contain control characters" in api.error(
        "AddClient", {**new, "companyname": f"Ac{c}me"})
    assert api.error("AddClient", {**new, "email": f"ja{c}ne@example.com"}) == (
        "The email address you entered was not valid")
    client_id = api.ok("AddClient", new)["clientid"]
    assert "Last name must not contain control characters" in api.error(
        "UpdateClient", {"clientid": client_id, "lastname": f"D{c}e"})
    with db.read() as s:
        user = s.scalar(select(User).where(User.email == "jane@example.com"))
        assert (user.first_name, user.last_name) == ("Jane", "Doe")
        assert s.get(ClientAccount, client_id).company_name == ""


def test_list_oauth_credentials_xml_is_well_formed_for_any_stored_text(api, db):
    """Rows stored before input refused control characters (written here past the rule) still give XML that
    parses; what XML cannot carry is shown as U+FFFD, tab and line breaks are kept."""
    made = api.ok("CreateOAuthCredential", CREATE)
    stored = "a\x01b\x0bc\ufffed\x00e\x85f&<g>"
    with db.transaction() as s:
        s.execute(update(OAuthCredential).where(OAuthCredential.id == made["credentialId"])
                  .values(name=stored.replace("\x00", ""), description="one\r\ntwo\tthree\x1f"))
    root = api.xml("ListOAuthCredentials")
    client = root.find("clients")
    assert client is not None
    assert client.findtext("name") == "a\ufffdb\ufffdc\ufffdd" + "e\x85f&<g>"
    assert client.findtext("description") == "one\r\ntwo\tthree\ufffd"
    # Every stored text as the JSON answer has it, exactly.
    assert api.ok("ListOAuthCredentials")["clients"][0]["name"] == stored.replace("\x00", "")


@pytest.mark.parametrize("value", ["\x01", "\x0b", "\ufffe", "\ud800", "\x00", "\uffff", "\x85"])
def test_the_xml_envelope_parses_with_any_text(value):
    from hospes.adminapi.envelope import render

    body, _ = render({"result": "error", "message": f"x{value}y", "list": [{"k": f"{value}"}]}, "xml")
    root = ET.fromstring(body)
    assert root.findtext("message") is not None and root.findtext("message").startswith("x")


def test_admin_page_shows_the_refusal_on_the_form(client, db):
    admin_session(client, db, permissions=OIDC)
    r = post(client, "/admin/oauth/new", [("name", "My\x01App"), ("redirect_uri", "https://rp.example.com/cb"),
                                          ("scope", "openid"), ("op", "save")])
    assert r.status_code == 400
    assert "The name must not contain control characters (U+0001)." in r.text
    assert names(db) == []


def test_a_ticket_subject_with_a_c1_control_is_a_form_error(client, db, make_account):
    login(client, make_account())
    page = client.get("/submitticket.php")
    token = page.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    r = client.post("/submitticket.php", data={"token": token, "subject": "He\x85lp", "message": "Hello"})
    assert r.status_code == 400 and "single line of text" in r.text
    r = client.post("/submitticket.php", data={"token": token, "subject": "Help", "message": "H\x9fi"})
    assert r.status_code == 400 and "cannot be stored" in r.text
    with db.read() as s:
        assert s.scalar(select(Ticket.id)) is None
