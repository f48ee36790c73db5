"""Opening a support ticket at /submitticket.php: a CSRF-protected form that creates a Ticket row and
shows it in /supporttickets.php; what was typed survives a validation error; nothing is created otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hospes.store.models import AuditEvent, Ticket
from tests.clientarea import assert_accessible, login, soup
from tests.conftest import Account


def tickets(db: Any) -> list[Ticket]:
    with db.read() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def form_fields(html: str) -> dict[str, str]:
    form = soup(html).find("form", attrs={"action": lambda a: bool(a) and "submitticket.php" in a})
    return {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}


@pytest.fixture
def jane(make_account: Any, client: Any) -> Account:
    acct: Account = make_account(first_name="Jane")
    login(client, acct)
    return acct


def test_open_a_ticket_creates_it_and_lists_it(client, db, jane):
    page = client.get("/submitticket.php")
    assert page.status_code == 200
    assert_accessible(page.text)
    fields = form_fields(page.text)
    r = client.post("/submitticket.php", data={**fields, "subject": "  Email is down ",
                                               "message": "Since this morning.\r\nPlease help."})
    assert r.status_code == 303
    [ticket] = tickets(db)
    assert (ticket.client_id, ticket.subject, ticket.message, ticket.status) == (
        jane.client_id, "Email is down", "Since this morning.\nPlease help.", "Open")
    assert r.headers["location"] == f"/supporttickets.php?opened={ticket.id}"
    listed = client.get(r.headers["location"])
    assert listed.status_code == 200
    notice = soup(listed.text).find(attrs={"role": "status"})
    assert notice is not None and f"#{ticket.id}" in notice.get_text() and "Email is down" in notice.get_text()
    row = soup(listed.text).find("tbody").find("tr")
    assert "Email is down" in row.get_text() and "Open" in row.get_text()
    with db.read() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.opened")).all()
    assert event.actor == f"user:{jane.user_id}" and event.target == f"client:{jane.client_id}"
    assert event.details["ticket_id"] == ticket.id


@pytest.mark.parametrize("token", [None, "", "forged-token-value-that-is-long-enough"])
def test_without_a_valid_csrf_token_nothing_is_created(client, db, jane, token):
    client.get("/submitticket.php")  # the CSRF cookie is set; the form token is what is missing
    data = {"subject": "Forged", "message": "From another site"}
    if token is not None:
        data["token"] = token
    r = client.post("/submitticket.php", data=data)
    assert r.status_code == 403
    assert "Nothing was changed" in r.text
    assert tickets(db) == []


def test_a_token_from_another_browser_is_refused(client, db, jane, app):
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as other:
        other_token = soup(other.get("/login").text).find("input", attrs={"name": "token"})["value"]
    r = client.post("/submitticket.php", data={"token": other_token, "subject": "S", "message": "M"})
    assert r.status_code == 403 and tickets(db) == []


@pytest.mark.parametrize(("subject", "message", "field", "error"), [
    ("", "A message", "subject", "Enter a subject."),
    ("   ", "A message", "subject", "Enter a subject."),
    ("S" * 256, "A message", "subject", "The subject must be at most 255 characters."),
    ("Two\nlines", "A message", "subject", "The subject must be a single line of text."),
    ("A subject", "", "message", "Enter a message."),
    ("A subject", "x" * 20001, "message", "The message must be at most 20000 characters."),
    ("A subject", "bell \x07 byte", "message", "The message contains characters that cannot be stored."),
])
def test_validation_errors_keep_what_was_typed(client, db, jane, subject, message, field, error):
    fields = form_fields(client.get("/submitticket.php").text)
    r = client.post("/submitticket.php", data={**fields, "subject": subject, "message": message})
    assert r.status_code == 400
    page = soup(r.text)
    alert = page.find(attrs={"role": "alert"})
    assert alert is not None and error in alert.get_text()
    widget = page.find(id=field)
    assert widget["aria-invalid"] == "true" and page.find(id=widget["aria-describedby"]).get_text() == error
    if "\x07" not in message and "\n" not in subject:
        assert page.find(id="subject")["value"] == subject
        assert page.find(id="message").get_text() == message
    assert_accessible(r.text)
    assert tickets(db) == []


def test_markup_typed_into_a_ticket_is_shown_as_text(client, db, jane):
    fields = form_fields(client.get("/submitticket.php").text)
    r = client.post("/submitticket.php", data={**fields, "subject": "<script>alert(1)</script>", "message": ""})
    assert r.status_code == 400 and "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;" in r.text


def test_a_ticket_cannot_be_opened_for_another_customers_account(client, db, jane, make_account):
    other = make_account()
    fields = form_fields(client.get("/submitticket.php").text)
    r = client.post(f"/submitticket.php?client={other.client_id}", data={**fields, "subject": "S", "message": "M"})
    assert r.status_code == 404
    assert tickets(db) == []


def test_not_logged_in_nothing_is_created(client, db, make_account):
    make_account()
    page = client.get("/login")
    token = soup(page.text).find("input", attrs={"name": "token"})["value"]
    r = client.post("/submitticket.php", data={"token": token, "subject": "S", "message": "M"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login?")
    assert tickets(db) == []
