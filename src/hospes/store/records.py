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
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hospes.store.models import Domain, EmailMessage, Invoice, Service, Ticket, TicketReply

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


def _service_row(sv: Service) -> ServiceRow:
    return ServiceRow(id=sv.id, client_id=sv.client_id, product_name=sv.product_name, domain=sv.domain,
                      username=sv.username, status=sv.status, created_at=sv.created_at)


def _domain_row(d: Domain) -> DomainRow:
    return DomainRow(id=d.id, client_id=d.client_id, domain=d.domain, status=d.status, created_at=d.created_at,
                     expires_on=d.expires_on)


def _invoice_row(i: Invoice) -> InvoiceRow:
    return InvoiceRow(id=i.id, client_id=i.client_id, total=i.total, status=i.status, created_at=i.created_at,
                      currency=i.currency, due_on=i.due_on)


def _ticket_row(t: Ticket) -> TicketRow:
    return TicketRow(id=t.id, client_id=t.client_id, subject=t.subject, message=t.message, status=t.status,
                     created_at=t.created_at)


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


def _listed(s: Session, model: Any, client_id: Accounts, window: Window, *order: Any) -> Sequence[Any]:
    """The rows of one account, or of several (a collection of ids), in ``order``."""
    owned = model.client_id == client_id if isinstance(client_id, int) else model.client_id.in_(list(client_id))
    stmt = select(model).where(owned).order_by(*order)
    if window.status is not None:
        stmt = stmt.where(model.status == window.status)
    if window.offset:
        stmt = stmt.offset(window.offset)
    if window.limit is not None:
        stmt = stmt.limit(window.limit)
    return s.scalars(stmt).all()


def services(s: Session, client_id: Accounts, window: Window = EVERY) -> list[ServiceRow]:
    """The account's (or accounts') services, oldest first."""
    return [_service_row(sv) for sv in _listed(s, Service, client_id, window, Service.id)]


def domains(s: Session, client_id: Accounts, window: Window = EVERY) -> list[DomainRow]:
    """The account's domains, by name."""
    return [_domain_row(d) for d in _listed(s, Domain, client_id, window, Domain.domain, Domain.id)]


def invoices(s: Session, client_id: Accounts, window: Window = EVERY) -> list[InvoiceRow]:
    """The account's invoices, newest first."""
    return [_invoice_row(i) for i in _listed(s, Invoice, client_id, window, Invoice.id.desc())]


def tickets(s: Session, client_id: Accounts, window: Window = EVERY) -> list[TicketRow]:
    """The account's support tickets, newest first."""
    return [_ticket_row(t) for t in _listed(s, Ticket, client_id, window, Ticket.id.desc())]


def emails(s: Session, client_id: int, window: Window = EVERY) -> list[EmailRow]:
    """The mails sent to the account, newest first (they have no status: ``window.status`` must be None)."""
    return [_email_row(m) for m in _listed(s, EmailMessage, client_id, window, EmailMessage.sent_at.desc(),
                                           EmailMessage.id.desc())]


def service(s: Session, service_id: int) -> ServiceRow | None:
    """One service by its id, whichever account holds it."""
    found = s.get(Service, service_id)
    return _service_row(found) if found is not None else None


def domain(s: Session, domain_id: int) -> DomainRow | None:
    found = s.get(Domain, domain_id)
    return _domain_row(found) if found is not None else None


def invoice(s: Session, invoice_id: int) -> InvoiceRow | None:
    found = s.get(Invoice, invoice_id)
    return _invoice_row(found) if found is not None else None


def ticket(s: Session, ticket_id: int) -> TicketRow | None:
    found = s.get(Ticket, ticket_id)
    return _ticket_row(found) if found is not None else None


def replies(s: Session, ticket_id: int) -> list[ReplyRow]:
    """A ticket's replies, oldest first."""
    return [ReplyRow(r.id, r.ticket_id, r.user_id, r.message, r.created_at)
            for r in s.scalars(select(TicketReply).where(TicketReply.ticket_id == ticket_id).order_by(TicketReply.id))]


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
