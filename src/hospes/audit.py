"""The audit log: who did what, when, from where. Never a secret.

Each operation that changes something (``accounts.service``, ``oauth.credentials``, ``adminapi.credentials``,
``accounts.connected_apps`` …) records its own entry, in the same transaction as the change, so a change and
its audit row land together or not at all, and the CLI, the admin API and the admin area, which call the same
operations, write the same entry. Those operations take the ``actor`` (and the ``ip`` where there is one).

Customers' events are entries too, beside the staff's: logins (``user.login``, ``user.login_failed``,
``user.login_throttled``, ``user.second_factor_ok``, ``user.second_factor_failed``; accounts/login.py), consents
(``consent.granted``, oauth/authorize.py), revocations (``connected_app.revoked``, ``token.revoked``), token
grants, refreshes and exchanges (``token.granted``, ``token.refreshed``, ``token.exchanged``: one per grant at the
token endpoint, never per userinfo call; written in the grant's own unit of work, oauth/issuance.py) and single
sign-on (``sso.redeemed``). ``ACTIONS`` lists them for the admin area's filter.

Each entry carries the id of the request that made it (hospes/logs.py; None from the CLI) and, for an event
about an OAuth client, that client's identifier (``client_id``), both filterable. The purge deletes entries
older than HOSPES_AUDIT_RETENTION_DAYS (store/purge.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hospes import logs
from hospes.clock import now
from hospes.store.audit import AuditRow
from hospes.store.models import AuditEvent

# The customers' events, for the admin area's list of event types beside those already in the log.
CUSTOMER_ACTIONS = ("user.login", "user.login_failed", "user.login_throttled", "user.second_factor_ok",
                    "user.second_factor_failed", "consent.granted", "connected_app.revoked", "token.granted",
                    "token.refreshed", "token.exchanged", "token.revoked", "sso.redeemed")

# Field names whose values are never written, whatever the caller passes.
_SECRET_WORDS = ("secret", "password", "token", "accesskey", "access_key", "hash", "code_verifier")


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if any(w in key.lower() for w in _SECRET_WORDS):
            continue
        if isinstance(value, dict):
            value = _scrub(value)
        elif isinstance(value, str) and len(value) > 500:
            value = value[:500] + "…"
        clean[key] = value
    return clean


def record(s: Session, *, actor: str, action: str, target: str = "", ip: str = "",
           details: dict[str, Any] | None = None, client_id: str | None = None) -> None:
    s.add(AuditEvent(**row(actor=actor, action=action, target=target, ip=ip, details=details,
                           client_id=client_id)._asdict()))


def row(*, actor: str, action: str, target: str = "", ip: str = "", details: dict[str, Any] | None = None,
        client_id: str | None = None, request_id: str | None = None) -> AuditRow:
    """An entry, bounded and scrubbed, for ``record`` or a unit of work's plain SQL (store/audit.py). The request
    id is the current request's unless given (a unit on SQLite's writer thread runs outside the request's
    context, so its caller passes the id it read)."""
    return AuditRow(at=now(), actor=actor[:255], action=action[:64], target=target[:255], ip_address=ip[:64],
                    details=_scrub(details or {}), request_id=request_id or logs.request_id(),
                    client_id=client_id[:255] if client_id else None)


def entry(s: Session, actor: str | None, action: str, target: str, *, ip: str = "", **details: Any) -> None:
    """An operation's own entry. With ``actor`` None nothing is written: the caller records one entry for a
    larger change itself (an application-link sync creates and deletes credentials), or seeds data in a test."""
    if actor is not None:
        record(s, actor=actor, action=action, target=target, ip=ip, details=details)


def search(s: Session, *, actor: str | None = None, action: str | None = None, target: str | None = None,
           customer: str | None = None, client: str | None = None, request_id: str | None = None,
           since: datetime | None = None, until: datetime | None = None, limit: int = 200,
           offset: int = 0) -> list[AuditEvent]:
    """Entries newest first. ``actor``/``target``: part of either; ``customer``: a person's id (``user:N`` as actor
    or target); ``client``: an OAuth client's identifier, exactly; ``request_id``: exactly."""
    q = select(AuditEvent)
    if actor:
        q = q.where(AuditEvent.actor.contains(actor, autoescape=True))
    if action:
        q = q.where(AuditEvent.action == action)
    if target:
        q = q.where(AuditEvent.target.contains(target, autoescape=True))
    if customer:
        who = f"user:{customer}"
        q = q.where(or_(AuditEvent.actor == who, AuditEvent.target == who))
    if client:
        q = q.where(AuditEvent.client_id == client)
    if request_id:
        q = q.where(AuditEvent.request_id == request_id)
    if since:
        q = q.where(AuditEvent.at >= since)
    if until:
        q = q.where(AuditEvent.at <= until)
    return list(s.scalars(q.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)))


def actions(s: Session) -> list[str]:
    """The event types to filter by: those in the log, and the customers' (which may not have happened yet)."""
    found = set(s.scalars(select(AuditEvent.action).distinct()))
    return sorted(found | set(CUSTOMER_ACTIONS))
