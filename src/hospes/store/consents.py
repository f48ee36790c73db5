"""Consents: a person's standing approval of a set of scopes for one application (OAuth credential).

The authorization endpoint asks whether one covers a request and records new approvals; the connected-
applications pages list them and withdraw them; deleting a credential withdraws its own. One function per
operation, each used by every caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.store.models import Consent


class ConsentRow(NamedTuple):
    id: int
    scopes: tuple[str, ...]
    expires_at: datetime
    # The client accounts chosen for the customer API's scopes; None when none was asked for yet.
    accounts: tuple[int, ...] | None = None


def covering(s: Session, user_id: int, credential_id: int, scopes: Sequence[str]) -> ConsentRow | None:
    """The person's unexpired consent for the application when it includes every one of ``scopes``."""
    row = s.execute(select(Consent.id, Consent.scopes, Consent.expires_at, Consent.accounts)
                    .where(Consent.user_id == user_id, Consent.credential_id == credential_id)).first()
    if row is None or utc(row.expires_at) <= now() or not set(scopes) <= set(row.scopes or []):
        return None
    accounts = tuple(int(a) for a in row.accounts) if row.accounts is not None else None
    return ConsentRow(row.id, tuple(row.scopes or ()), utc(row.expires_at), accounts)


def mark_used(s: Session, consent_id: int) -> None:
    s.execute(update(Consent).where(Consent.id == consent_id).values(last_used_at=now()))


def record(s: Session, user_id: int, credential_id: int, scopes: Sequence[str], ttl: int,
           accounts: Sequence[int] | None = None) -> None:
    """Approve ``scopes`` for the application (added to what was approved before), for ``ttl`` seconds; with
    ``accounts`` (the client accounts chosen for the customer API), that choice replaces the one before."""
    t = now()
    expires = t + timedelta(seconds=ttl)
    chosen = list(accounts) if accounts is not None else None
    consent = s.scalar(select(Consent).where(Consent.user_id == user_id, Consent.credential_id == credential_id))
    if consent is None:
        s.add(Consent(user_id=user_id, credential_id=credential_id, scopes=list(scopes), accounts=chosen,
                      created_at=t, updated_at=t, last_used_at=t, expires_at=expires))
        return
    if chosen is not None:
        consent.accounts = chosen
    consent.scopes = list(dict.fromkeys([*(consent.scopes or []), *scopes]))
    consent.updated_at = t
    consent.last_used_at = t
    consent.expires_at = expires


def withdraw(s: Session, user_id: int, credential_id: int) -> None:
    s.execute(delete(Consent).where(Consent.user_id == user_id, Consent.credential_id == credential_id))


def withdraw_all(s: Session, credential_id: int) -> None:
    """Every consent given to the application (its credential is deleted)."""
    s.execute(delete(Consent).where(Consent.credential_id == credential_id))
