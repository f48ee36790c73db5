"""Back-channel logout deliveries (the ``backchannel_logouts`` outbox) and the session → client relation they
need: which clients received an ID token in a session (an authorization code redeemed with its ``sid``).

oauth/backchannel.py holds the protocol's rules; this module only reads and writes rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from hospes.clock import now, utc
from hospes.store.models import AuthorizationCode, BackchannelLogout, LoginSession, OAuthCredential, User


@dataclass(frozen=True)
class Listener:
    """A client to tell that a session ended: its credential, the person's ``sub`` and the session's ``sid``."""

    credential_id: int
    sub: str
    sid: str | None
    session_required: bool


@dataclass(frozen=True)
class Due:
    """A claimed delivery: what the logout token says, and where it goes."""

    id: int
    client_id: str
    uri: str
    alg: str
    sub: str
    sid: str | None
    jti: str
    attempts: int  # this attempt included


@dataclass(frozen=True)
class Delivery:
    """A delivery as the admin area lists it."""

    id: int
    sid: str | None
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    finished_at: datetime | None


def _listening() -> ColumnElement[bool]:
    return and_(OAuthCredential.backchannel_logout_uri.is_not(None), OAuthCredential.backchannel_logout_uri != "")


def session_listeners(s: Session, sids: Sequence[str]) -> list[Listener]:
    """The clients with a back-channel logout URI that redeemed an authorization code in one of ``sids``
    (so they hold an ID token with that ``sid``), once per client and session."""
    if not sids:
        return []
    rows = s.execute(
        select(AuthorizationCode.credential_id, User.uuid, AuthorizationCode.session_id,
               OAuthCredential.backchannel_logout_session_required)
        .join(User, User.id == AuthorizationCode.user_id)
        .join(OAuthCredential, OAuthCredential.id == AuthorizationCode.credential_id)
        .where(AuthorizationCode.session_id.in_(list(sids)), AuthorizationCode.used_at.is_not(None), _listening())
        .distinct()).all()
    return [Listener(cid, sub, sid, bool(required)) for cid, sub, sid, required in rows]


def user_sessions_with(s: Session, user_id: int, credential_id: int) -> tuple[Listener | None, list[Listener]]:
    """For revoking an application: the client as a listener without a session (None when it has no
    back-channel logout URI), and one listener per session of the person still running in which the client
    redeemed a code."""
    required = s.scalar(select(OAuthCredential.backchannel_logout_session_required)
                        .where(OAuthCredential.id == credential_id, _listening()))
    sub = s.scalar(select(User.uuid).where(User.id == user_id))
    if required is None or sub is None:
        return None, []
    t = now()
    sids = s.scalars(
        select(AuthorizationCode.session_id).distinct()
        .join(LoginSession, LoginSession.sid == AuthorizationCode.session_id)
        .where(AuthorizationCode.user_id == user_id, AuthorizationCode.credential_id == credential_id,
               AuthorizationCode.used_at.is_not(None), LoginSession.ended_at.is_(None),
               LoginSession.expires_at > t)).all()
    return (Listener(credential_id, sub, None, bool(required)),
            [Listener(credential_id, sub, sid, bool(required)) for sid in sids if sid])


def add(s: Session, listeners: Sequence[Listener]) -> None:
    """A pending delivery per listener, due now (in the caller's transaction: it is written with the logout)."""
    t = now()
    for one in listeners:
        s.add(BackchannelLogout(credential_id=one.credential_id, sub=one.sub, sid=one.sid, created_at=t,
                                next_attempt_at=t, status="pending", attempts=0, last_error=""))


def any_due(s: Session, at: datetime) -> bool:
    return s.scalar(select(BackchannelLogout.id).where(BackchannelLogout.status == "pending",
                                                       BackchannelLogout.next_attempt_at <= at).limit(1)) is not None


def claim(s: Session, *, at: datetime, lease_until: datetime, limit: int, postgresql: bool) -> list[Due]:
    """Take up to ``limit`` due deliveries: each counts an attempt and is leased until ``lease_until``, so no
    other worker or node takes it meanwhile. On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED`` (two
    nodes claiming at once take different rows); on SQLite the caller's transaction holds the writer gate."""
    query = (select(BackchannelLogout, OAuthCredential)
             .join(OAuthCredential, OAuthCredential.id == BackchannelLogout.credential_id)
             .where(BackchannelLogout.status == "pending", BackchannelLogout.next_attempt_at <= at)
             .order_by(BackchannelLogout.next_attempt_at).limit(limit))
    if postgresql:
        query = query.with_for_update(skip_locked=True, of=BackchannelLogout)
    taken = []
    for row, cred in s.execute(query).all():
        row.attempts += 1
        row.next_attempt_at = lease_until
        taken.append(Due(id=row.id, client_id=cred.identifier, uri=cred.backchannel_logout_uri or "",
                         alg=cred.id_token_signed_response_alg, sub=row.sub, sid=row.sid, jti=row.jti,
                         attempts=row.attempts))
    s.flush()
    return taken


def finish(s: Session, delivery_id: int, *, status: str, error: str = "", retry_at: datetime | None = None) -> None:
    """Record an attempt's outcome: ``delivered``, ``failed`` (given up), or ``pending`` again at ``retry_at``."""
    values: dict[str, object] = {"status": status, "last_error": error[:500]}
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    if status != "pending":
        values["finished_at"] = now()
    s.execute(update(BackchannelLogout).where(BackchannelLogout.id == delivery_id).values(**values))


def recent(s: Session, credential_id: int, limit: int = 20) -> list[Delivery]:
    """The credential's latest deliveries, newest first (the admin area)."""
    rows = s.scalars(select(BackchannelLogout).where(BackchannelLogout.credential_id == credential_id)
                     .order_by(BackchannelLogout.id.desc()).limit(limit)).all()
    return [Delivery(id=r.id, sid=r.sid, status=r.status, attempts=r.attempts, last_error=r.last_error,
                     created_at=utc(r.created_at), finished_at=utc(r.finished_at) if r.finished_at else None)
            for r in rows]
