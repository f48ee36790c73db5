"""A client account's records: services, domains, invoices, support tickets and email history, as named rows.

Each list takes the account (``client_id``), an optional ``status`` to match, and ``limit``/``offset`` for
paging, and comes in the order the client area shows it. Each single read (``service``, ``domain``,
``ticket``) finds the row by its id alone and carries its ``client_id``: the caller decides whether the
person asking reaches that account (the client area answers 404 when not, so another customer's id looks
exactly like one that does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.store.models import Domain, EmailMessage, Invoice, Service, Ticket

# The statuses WHMCS gives a ticket that is still being worked on count as open; only Closed ends one.
CLOSED_TICKET = "Closed"
UNPAID_INVOICE = "Unpaid"
SUBJECT_MAX = 255
MESSAGE_MAX = 20_000


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


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    client_id: int
    total: str
    status: str
    created_at: datetime | None


@dataclass(frozen=True)
class TicketRow:
    id: int
    client_id: int
    subject: str
    message: str
    status: str
    created_at: datetime | None


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
    return DomainRow(id=d.id, client_id=d.client_id, domain=d.domain, status=d.status, created_at=d.created_at)


def _invoice_row(i: Invoice) -> InvoiceRow:
    return InvoiceRow(id=i.id, client_id=i.client_id, total=i.total, status=i.status, created_at=i.created_at)


def _ticket_row(t: Ticket) -> TicketRow:
    return TicketRow(id=t.id, client_id=t.client_id, subject=t.subject, message=t.message, status=t.status,
                     created_at=t.created_at)


def _email_row(m: EmailMessage) -> EmailRow:
    return EmailRow(id=m.id, client_id=m.client_id, to_address=m.to_address, subject=m.subject, body=m.body,
                    sent_at=m.sent_at)


def _page(stmt: Select, model: Any, status: str | None, limit: int | None, offset: int) -> Select:
    if status is not None:
        stmt = stmt.where(model.status == status)
    if offset:
        stmt = stmt.offset(offset)
    return stmt.limit(limit) if limit is not None else stmt


def _count(s: Session, model: Any, client_id: int, *where: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(model).where(model.client_id == client_id, *where)) or 0)


def counts(s: Session, client_id: int) -> AccountCounts:
    return AccountCounts(
        services=_count(s, Service, client_id),
        domains=_count(s, Domain, client_id),
        unpaid_invoices=_count(s, Invoice, client_id, Invoice.status == UNPAID_INVOICE),
        open_tickets=_count(s, Ticket, client_id, Ticket.status != CLOSED_TICKET),
    )


def services(s: Session, client_id: int, *, status: str | None = None, limit: int | None = None,
             offset: int = 0) -> list[ServiceRow]:
    """The account's services, oldest first."""
    stmt = select(Service).where(Service.client_id == client_id).order_by(Service.id)
    return [_service_row(sv) for sv in s.scalars(_page(stmt, Service, status, limit, offset))]


def service(s: Session, service_id: int) -> ServiceRow | None:
    sv = s.get(Service, service_id)
    return _service_row(sv) if sv is not None else None


def domains(s: Session, client_id: int, *, status: str | None = None, limit: int | None = None,
            offset: int = 0) -> list[DomainRow]:
    """The account's domains, by name."""
    stmt = select(Domain).where(Domain.client_id == client_id).order_by(Domain.domain)
    return [_domain_row(d) for d in s.scalars(_page(stmt, Domain, status, limit, offset))]


def domain(s: Session, domain_id: int) -> DomainRow | None:
    d = s.get(Domain, domain_id)
    return _domain_row(d) if d is not None else None


def invoices(s: Session, client_id: int, *, status: str | None = None, limit: int | None = None,
             offset: int = 0) -> list[InvoiceRow]:
    """The account's invoices, newest first."""
    stmt = select(Invoice).where(Invoice.client_id == client_id).order_by(Invoice.id.desc())
    return [_invoice_row(i) for i in s.scalars(_page(stmt, Invoice, status, limit, offset))]


def tickets(s: Session, client_id: int, *, status: str | None = None, limit: int | None = None,
            offset: int = 0) -> list[TicketRow]:
    """The account's support tickets, newest first."""
    stmt = select(Ticket).where(Ticket.client_id == client_id).order_by(Ticket.id.desc())
    return [_ticket_row(t) for t in s.scalars(_page(stmt, Ticket, status, limit, offset))]


def ticket(s: Session, ticket_id: int) -> TicketRow | None:
    t = s.get(Ticket, ticket_id)
    return _ticket_row(t) if t is not None else None


def emails(s: Session, client_id: int, *, limit: int | None = None, offset: int = 0) -> list[EmailRow]:
    """The mails sent to the account, newest first."""
    stmt = (select(EmailMessage).where(EmailMessage.client_id == client_id)
            .order_by(EmailMessage.sent_at.desc(), EmailMessage.id.desc()))
    return [_email_row(m) for m in s.scalars(_page(stmt, EmailMessage, None, limit, offset))]


def check_ticket(subject: str, message: str) -> tuple[str, str, dict[str, str]]:
    """The ticket's subject and message as stored, and an error per field (``subject``, ``message``) that
    needs fixing."""
    subject = subject.strip()
    # One line for the subject; the message keeps line breaks and tabs, and nothing else below space.
    message = message.replace("\r\n", "\n").replace("\r", "\n").strip()
    problems: dict[str, str] = {}
    if not subject:
        problems["subject"] = "Enter a subject."
    elif len(subject) > SUBJECT_MAX:
        problems["subject"] = f"The subject must be at most {SUBJECT_MAX} characters."
    elif any(ord(c) < 32 or c == "\x7f" for c in subject):
        problems["subject"] = "The subject must be a single line of text."
    if not message:
        problems["message"] = "Enter a message."
    elif len(message) > MESSAGE_MAX:
        problems["message"] = f"The message must be at most {MESSAGE_MAX} characters."
    elif any((ord(c) < 32 and c not in "\n\t") or c == "\x7f" for c in message):
        problems["message"] = "The message contains characters that cannot be stored."
    return subject, message, problems


def open_ticket(s: Session, client_id: int, *, subject: str, message: str, actor: str, ip: str = "") -> int:
    """A new Open ticket on the account, with the subject and message ``check_ticket`` returned (the caller
    shows its problems first); records ``ticket.opened``. Returns its id."""
    t = Ticket(client_id=client_id, subject=subject, message=message, status="Open")
    s.add(t)
    s.flush()
    audit.entry(s, actor, "ticket.opened", f"client:{client_id}", ip=ip, ticket_id=t.id, subject=subject)
    return t.id
