"""The client area's reads as the layer below the pages offers them: named rows, paging, a status filter, and
which accounts a person reaches with their own permissions."""

from __future__ import annotations

from typing import Any

from hospes.accounts import tickets
from hospes.accounts.member_permissions import SSO_PERMISSION
from hospes.store import accounts, records
from hospes.store.db import Database
from hospes.store.records import Window
from tests.clientarea import add_domain, add_ticket, invite


def test_lists_page_and_filter_by_status(db: Database, make_account: Any, make_service: Any) -> None:
    acct = make_account()
    other = make_account()
    ids = [make_service(acct.client_id, f"Plan {n}", status="Suspended" if n % 2 else "Active") for n in range(5)]
    make_service(other.client_id, "Not theirs")
    add_domain(db, acct.client_id, "b.example", status="Expired")
    add_domain(db, acct.client_id, "a.example")
    with db.read() as s:
        assert [sv.id for sv in records.services(s, acct.client_id)] == ids
        assert [sv.id for sv in records.services(s, acct.client_id, Window(limit=2, offset=1))] == ids[1:3]
        suspended = records.services(s, acct.client_id, Window(status="Suspended"))
        assert [sv.product_name for sv in suspended] == ["Plan 1", "Plan 3"]
        assert [d.domain for d in records.domains(s, acct.client_id)] == ["a.example", "b.example"]
        assert [d.domain for d in records.domains(s, acct.client_id, Window(status="Expired"))] == ["b.example"]
        one = records.service(s, ids[0])
        assert one is not None and one.client_id == acct.client_id and one.status == "Active"
        assert records.service(s, 2**31 - 1) is None


def test_counts_and_tickets(db: Database, make_account: Any) -> None:
    acct = make_account()
    first = add_ticket(db, acct.client_id, "First")
    add_ticket(db, acct.client_id, "Done", status="Closed")
    with db.transaction() as s:
        subject, message, problems = tickets.check_ticket("  Help  ", "Line one\r\nLine two")
        assert (subject, message, problems) == ("Help", "Line one\nLine two", {})
        opened = tickets.open_ticket(s, acct.client_id, subject=subject, message=message, actor="user:1")
    with db.read() as s:
        assert [t.subject for t in records.tickets(s, acct.client_id)] == ["Help", "Done", "First"]
        assert [t.id for t in records.tickets(s, acct.client_id, Window(status="Open"))] == [opened, first]
        assert records.counts(s, acct.client_id).open_tickets == 2
        ticket = records.ticket(s, opened)
        assert ticket is not None and ticket.message == "Line one\nLine two"


def test_reached_accounts_carry_role_and_permissions(db: Database, make_account: Any) -> None:
    owner = make_account(company="Acme Ltd")
    guest = invite(db, owner.client_id, permissions=["productsso"])
    with db.read() as s:
        [mine] = accounts.reached_accounts(s, owner.user_id)
        [theirs] = accounts.reached_accounts(s, guest.user_id)
        people = accounts.members(s, owner.client_id)
    assert mine.owner and mine.may(SSO_PERMISSION) and mine.label == f"Acme Ltd (#{owner.client_id})"
    assert theirs.role == "invited" and theirs.permissions == ("productsso",)
    assert theirs.may("productsso") and not theirs.may(SSO_PERMISSION)
    assert [m.person.id for m in people] == [owner.user_id, guest.user_id] and people[0].owner
