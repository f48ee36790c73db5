"""Connected applications: what a user has approved (their ``Consent`` rows), and revoking one.

Revoking removes the consent and revokes every grant of that user and application (``store.grants.revoke_grant_in``), so
the application's access and refresh tokens stop working at once and its next login asks for consent
again. The client area (the user's own list), its JSON twin, and the admin area (a client's users) all use
these functions; each revoke, and each refused attempt on someone else's application, is audited here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.clock import utc
from hospes.oauth import backchannel
from hospes.oauth.scopes import SCOPES
from hospes.store import consents
from hospes.store.accounts import reached_accounts
from hospes.store.grants import revoke_grant_in
from hospes.store.models import AccessToken, Consent, Grant, OAuthCredential, User, UserClient


@dataclass(frozen=True)
class ConnectedApp:
    id: int  # the consent's id: what the revoke button names
    user_id: int
    credential_id: int
    client_id: str
    name: str
    logo_uri: str
    scopes: tuple[str, ...]
    permissions: tuple[str, ...]  # what the consent page said, one line per scope
    first_approved: datetime
    last_used: datetime | None
    # The client accounts the person chose for it (the customer API's scopes), as (id, label); empty when none
    # was asked for.
    accounts: tuple[tuple[int, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "clientId": self.client_id, "name": self.name, "logoUri": self.logo_uri or None,
            "scopes": list(self.scopes), "permissions": list(self.permissions),
            "accounts": [{"id": i, "name": label} for i, label in self.accounts],
            "firstApproved": self.first_approved.isoformat(),
            "lastUsed": self.last_used.isoformat() if self.last_used else None,
        }


def _latest(*values: datetime | None) -> datetime | None:
    present = [utc(v) for v in values if v is not None]
    return max(present) if present else None


def _apps(s: Session, *where: Any) -> list[ConnectedApp]:
    rows = s.execute(select(Consent, OAuthCredential).join(OAuthCredential, OAuthCredential.id == Consent.credential_id)
                     .where(*where)).all()
    if not rows:
        return []
    # Last used: the consent's own mark (set at each authorization) or the newest token issued (refreshes).
    newest = {(u, c): t for u, c, t in s.execute(
        select(AccessToken.user_id, AccessToken.credential_id, func.max(AccessToken.issued_at))
        .where(AccessToken.user_id.in_(sorted({c.user_id for c, _ in rows})),
               AccessToken.credential_id.in_(sorted({c.credential_id for c, _ in rows})))
        .group_by(AccessToken.user_id, AccessToken.credential_id)).all()}
    # The accounts chosen, named as the person sees them (those they still reach).
    labels = {user_id: {a.id: a.label for a in reached_accounts(s, user_id)}
              for user_id in sorted({c.user_id for c, _ in rows if c.accounts})}
    apps = [
        ConnectedApp(
            id=consent.id, user_id=consent.user_id, credential_id=cred.id, client_id=cred.identifier,
            name=cred.name or cred.identifier, logo_uri=cred.logo_uri or "", scopes=tuple(consent.scopes or ()),
            permissions=tuple(SCOPES[n].consent_text for n in consent.scopes or () if n in SCOPES),
            first_approved=utc(consent.created_at),
            last_used=_latest(consent.last_used_at, newest.get((consent.user_id, cred.id))),
            accounts=tuple((int(i), labels[consent.user_id][int(i)]) for i in consent.accounts or ()
                           if int(i) in labels.get(consent.user_id, {})),
        )
        for consent, cred in rows
    ]
    return sorted(apps, key=lambda a: (a.name.lower(), a.id))


def list_for_user(s: Session, user_id: int) -> list[ConnectedApp]:
    """Every application the user has approved, by name."""
    return _apps(s, Consent.user_id == user_id)


def revoked_name(s: Session, user_id: int, credential_id: int) -> str | None:
    """The name (its identifier when it has none) of an application this user approved and no longer has
    connected, for the page that says it was revoked; None for any other credential, so the page never tells
    the name of someone else's application, or of one the user never approved."""
    cred = s.get(OAuthCredential, credential_id)
    if cred is None or s.scalar(select(Consent.id).where(Consent.user_id == user_id,
                                                         Consent.credential_id == credential_id)) is not None:
        return None
    approved = s.scalar(select(Grant.id).where(Grant.user_id == user_id, Grant.credential_id == credential_id,
                                               Grant.revoked_at.is_not(None)).limit(1))
    return (cred.name or cred.identifier) if approved is not None else None


def list_for_client(s: Session, client_id: int) -> list[tuple[User, list[ConnectedApp]]]:
    """For the admin area: each user of a client account, with the applications they approved."""
    users = s.scalars(select(User).join(UserClient, UserClient.user_id == User.id)
                      .where(UserClient.client_id == client_id).order_by(User.id)).all()
    return [(user, list_for_user(s, user.id)) for user in users]


def revoke_access(s: Session, user_id: int, credential_id: int) -> int:
    """Remove the user's consent for the application and revoke every grant (and so every token) of theirs
    for it. Returns how many grants were revoked."""
    # Back-channel logout: the application is told in this transaction's outbox (oauth/backchannel.py).
    backchannel.app_revoked(s, user_id, credential_id)
    consents.withdraw(s, user_id, credential_id)
    grant_ids = s.scalars(select(Grant.id).where(Grant.user_id == user_id, Grant.credential_id == credential_id,
                                                 Grant.revoked_at.is_(None))).all()
    for grant_id in grant_ids:
        revoke_grant_in(s, grant_id)
    return len(grant_ids)


def revoke(s: Session, *, user_id: int, app_id: int, actor: str, ip: str = "") -> ConnectedApp | None:
    """Revoke the connected application ``app_id`` of ``user_id``. An id that is not one of that user's
    (another user's, or none at all) changes nothing, is audited as refused, and returns None."""
    found = next(iter(_apps(s, Consent.id == app_id, Consent.user_id == user_id)), None)
    if found is None:
        audit.record(s, actor=actor, action="connected_app.revoke_refused", target=f"consent:{app_id}", ip=ip,
                     details={"user_id": user_id, "reason": "not an application of this user"})
        return None
    revoked = revoke_access(s, user_id, found.credential_id)
    audit.record(s, actor=actor, action="connected_app.revoked", target=f"oauth_credential:{found.credential_id}",
                 ip=ip, details={"user_id": user_id, "client_id": found.client_id, "name": found.name,
                                 "scopes": list(found.scopes), "grants_revoked": revoked},
                 client_id=found.client_id)
    return found
