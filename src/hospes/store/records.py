"""A client account's records as named rows: services, domains, invoices, support tickets and email history.

Each list takes the account (``client_id``) and a ``Window``: an optional ``status`` to match, and
``limit``/``offset`` for paging; it comes in the order the client area shows it. Each single read
(``service``, ``domain``, ``ticket``) finds the row by its id alone and carries its ``client_id``: the
caller decides whether the person asking reaches that account (the client area answers 404 when not, so
another customer's id looks exactly like one that does not exist).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hospes.store.models import Domain, EmailMessage, Invoice, Service, Ticket, TicketReply
from hospes.store.sql import Tx, aware, drive, session_tx

# The statuses WHMCS gives a ticket that is still being worked on count as open; only Closed ends one.
CLOSED_TICKET = "Closed"
UNPAID_INVOICE = "Unpaid"


@dataclass(frozen=True)
class ServiceRow:
    id: int
    client_id: int
    product_name: str
    domain: str
    username: str
    status: str
    created_at: datetime | None


@dataclass(frozen=True)
class DomainRow:
    id: int
    client_id: int
    domain: str
    status: str
    created_at: datetime | None
    expires_on: date | None = None


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    client_id: int
    total: str
    status: str
    created_at: datetime | None
    currency: str = "USD"
    due_on: date | None = None


@dataclass(frozen=True)
class TicketRow:
    id: int
    client_id: int
    subject: str
    message: str
    status: str
    created_at: datetime | None


@dataclass(frozen=True)
class ReplyRow:
    id: int
    ticket_id: int
    user_id: int | None  # who wrote it (None once that person is deleted)
    message: str
    created_at: datetime


@dataclass(frozen=True)
class EmailRow:
    id: int
    client_id: int
    to_address: str
    subject: str
    body: str
    sent_at: datetime


@dataclass(frozen=True)
class AccountCounts:
    """What the client area's home page counts."""

    services: int
    domains: int
    unpaid_invoices: int
    open_tickets: int


def _email_row(m: EmailMessage) -> EmailRow:
    return EmailRow(id=m.id, client_id=m.client_id, to_address=m.to_address, subject=m.subject, body=m.body,
                    sent_at=m.sent_at)


def _count(s: Session, model: Any, client_id: int, *where: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(model).where(model.client_id == client_id, *where)) or 0)


def counts(s: Session, client_id: int) -> AccountCounts:
    return AccountCounts(
        services=_count(s, Service, client_id),
        domains=_count(s, Domain, client_id),
        unpaid_invoices=_count(s, Invoice, client_id, Invoice.status == UNPAID_INVOICE),
        open_tickets=_count(s, Ticket, client_id, Ticket.status != CLOSED_TICKET),
    )


@dataclass(frozen=True)
class Window:
    """Which rows of a list: those of ``status`` (any when None), at most ``limit`` (all when None), after
    skipping ``offset``."""

    status: str | None = None
    limit: int | None = None
    offset: int = 0


EVERY = Window()


Accounts = int | Collection[int]


# The lists and single reads of services, domains, invoices and tickets, in plain SQL (store/sql.py): the
# client area runs them in its session, the customer API on the event loop (store/lookups.py ``reading``).
# Per kind: the table, its columns in the row's order, and the list's order.
SERVICES, DOMAINS, INVOICES, TICKETS = "services", "domains", "invoices", "tickets"
_TABLES: dict[str, tuple[str, str, str]] = {
    SERVICES: ("services", "id, client_id, product_name, domain, username, status, created_at", "id"),
    DOMAINS: ("domains", "id, client_id, domain, status, created_at, expires_on", "domain, id"),
    INVOICES: ("invoices", "id, client_id, total, status, created_at, currency, due_on", "id DESC"),
    TICKETS: ("tickets", "id, client_id, subject, message, status, created_at", "id DESC"),
}
# SQLite wants a LIMIT before an OFFSET; "all rows" is this many.
_ALL = 2**31 - 1


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def table_of(kind: str) -> tuple[str, str, str]:
    """The kind's table, its columns in the row's order, and its list's order (SQL text)."""
    return _TABLES[kind]


def row_of(kind: str, row: Sequence[Any]) -> Any:
    """The named row of ``kind`` for a row of its columns (``table_of``)."""
    if kind == SERVICES:
        rid, cid, product, dom, username, status, created = row
        return ServiceRow(rid, cid, product, dom, username, status, aware(created))
    if kind == DOMAINS:
        rid, cid, dom, status, created, expires = row
        return DomainRow(rid, cid, dom, status, aware(created), _day(expires))
    if kind == INVOICES:
        rid, cid, total, status, created, currency, due = row
        return InvoiceRow(rid, cid, total, status, aware(created), currency, _day(due))
    rid, cid, subject, message, status, created = row
    return TicketRow(rid, cid, subject, message, status, aware(created))


@lru_cache(maxsize=128)
def _list_sql(kind: str, accounts: int, by_status: bool) -> str:
    table, columns, order = _TABLES[kind]
    where = "client_id IN (" + ", ".join(["%s"] * accounts) + ")" + (" AND status = %s" if by_status else "")
    return f"SELECT {columns} FROM {table} WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s"  # noqa: S608


async def listed(tx: Tx, kind: str, client_ids: Collection[int], window: Window = EVERY) -> list[Any]:
    """The rows of ``kind`` of the accounts ``client_ids``, in the kind's order, within ``window``."""
    ids = sorted(set(client_ids))
    if not ids:
        return []
    params: list[Any] = [*ids]
    if window.status is not None:
        params.append(window.status)
    params += [window.limit if window.limit is not None else _ALL, window.offset]
    rows = await tx.all(_list_sql(kind, len(ids), window.status is not None), *params)
    return [row_of(kind, row) for row in rows]


async def record(tx: Tx, kind: str, record_id: int) -> Any:
    """One row of ``kind`` by its id, whichever account holds it; None when there is none."""
    table, columns, _ = _TABLES[kind]
    row = await tx.one(f"SELECT {columns} FROM {table} WHERE id = %s", record_id)  # noqa: S608 (constant)
    return row_of(kind, row) if row is not None else None


def _ids(client_id: Accounts) -> Collection[int]:
    return (client_id,) if isinstance(client_id, int) else client_id


def services(s: Session, client_id: Accounts, window: Window = EVERY) -> list[ServiceRow]:
    """The account's (or accounts') services, oldest first."""
    return drive(listed(session_tx(s), SERVICES, _ids(client_id), window))


def domains(s: Session, client_id: Accounts, window: Window = EVERY) -> list[DomainRow]:
    """The account's domains, by name."""
    return drive(listed(session_tx(s), DOMAINS, _ids(client_id), window))


def invoices(s: Session, client_id: Accounts, window: Window = EVERY) -> list[InvoiceRow]:
    """The account's invoices, newest first."""
    return drive(listed(session_tx(s), INVOICES, _ids(client_id), window))


def tickets(s: Session, client_id: Accounts, window: Window = EVERY) -> list[TicketRow]:
    """The account's support tickets, newest first."""
    return drive(listed(session_tx(s), TICKETS, _ids(client_id), window))


def emails(s: Session, client_id: int, window: Window = EVERY) -> list[EmailRow]:
    """The mails sent to the account, newest first (they have no status: ``window.status`` must be None)."""
    stmt = (select(EmailMessage).where(EmailMessage.client_id == client_id)
            .order_by(EmailMessage.sent_at.desc(), EmailMessage.id.desc()).offset(window.offset))
    if window.limit is not None:
        stmt = stmt.limit(window.limit)
    return [_email_row(m) for m in s.scalars(stmt)]


def service(s: Session, service_id: int) -> ServiceRow | None:
    """One service by its id, whichever account holds it."""
    return drive(record(session_tx(s), SERVICES, service_id))  # type: ignore[no-any-return]


def domain(s: Session, domain_id: int) -> DomainRow | None:
    return drive(record(session_tx(s), DOMAINS, domain_id))  # type: ignore[no-any-return]


def invoice(s: Session, invoice_id: int) -> InvoiceRow | None:
    return drive(record(session_tx(s), INVOICES, invoice_id))  # type: ignore[no-any-return]


def ticket(s: Session, ticket_id: int) -> TicketRow | None:
    return drive(record(session_tx(s), TICKETS, ticket_id))  # type: ignore[no-any-return]


async def replies(tx: Tx, ticket_id: int) -> list[ReplyRow]:
    """A ticket's replies, oldest first."""
    rows = await tx.all("SELECT id, ticket_id, user_id, message, created_at FROM ticket_replies "
                        "WHERE ticket_id = %s ORDER BY id", ticket_id)
    return [ReplyRow(rid, tid, uid, message, aware(created) or datetime.min)
            for rid, tid, uid, message, created in rows]


def insert_reply(s: Session, ticket_id: int, *, user_id: int, message: str, status: str, at: datetime) -> ReplyRow:
    """A reply to the ticket, which takes ``status``; returns the reply."""
    reply = TicketReply(ticket_id=ticket_id, user_id=user_id, message=message, created_at=at)
    s.add(reply)
    found = s.get(Ticket, ticket_id)
    if found is not None:
        found.status = status
    s.flush()
    return ReplyRow(reply.id, ticket_id, user_id, message, at)


def insert_ticket(s: Session, client_id: int, *, subject: str, message: str) -> int:
    """A new Open ticket on the account; returns its id."""
    t = Ticket(client_id=client_id, subject=subject, message=message, status="Open")
    s.add(t)
    s.flush()
    return t.id
