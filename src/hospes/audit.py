"""The audit log: who did what, when, from where. Never a secret.

Each operation that changes something (``accounts.service``, ``oauth.credentials``, ``adminapi.credentials``,
``accounts.connected_apps`` …) records its own entry, in the same transaction as the change, so a change and
its audit row land together or not at all, and the CLI, the admin API and the admin area, which call the same
operations, write the same entry. Those operations take the ``actor`` (and the ``ip`` where there is one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes.clock import now
from hospes.store.models import AuditEvent

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
           details: dict[str, Any] | None = None) -> None:
    s.add(AuditEvent(at=now(), actor=actor[:255], action=action[:64], target=target[:255], ip_address=ip[:64],
                     details=_scrub(details or {})))


def entry(s: Session, actor: str | None, action: str, target: str, *, ip: str = "", **details: Any) -> None:
    """An operation's own entry. With ``actor`` None nothing is written: the caller records one entry for a
    larger change itself (an application-link sync creates and deletes credentials), or seeds data in a test."""
    if actor is not None:
        record(s, actor=actor, action=action, target=target, ip=ip, details=details)


def search(s: Session, *, actor: str | None = None, action: str | None = None, target: str | None = None,
           since: datetime | None = None, until: datetime | None = None, limit: int = 200,
           offset: int = 0) -> list[AuditEvent]:
    q = select(AuditEvent)
    if actor:
        q = q.where(AuditEvent.actor.contains(actor))
    if action:
        q = q.where(AuditEvent.action == action)
    if target:
        q = q.where(AuditEvent.target.contains(target))
    if since:
        q = q.where(AuditEvent.at >= since)
    if until:
        q = q.where(AuditEvent.at <= until)
    return list(s.scalars(q.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)))


def actions(s: Session) -> list[str]:
    return list(s.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
