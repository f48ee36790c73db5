"""Supporting a customer: what staff do for one person from the admin area's customer page.

Each operation is the rule the person's own pages use, called for them, and records its own audit entry with
the staff member as actor: ending sessions (``sessions``: each queues its back-channel logout, as the
sessions page does), revoking a connected application (``connected_apps.revoke``), turning the second factor
off (``twofactor.remove``), lifting the throttle on their login, sending a password-reset link
(``reset.link_for``; the caller sends the mail after the commit), changing the name and email
(``service.change_email``), and marking the email verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hospes import audit, mail
from hospes.accounts import connected_apps, login, reset, sessions, throttle, twofactor
from hospes.accounts.connected_apps import ConnectedApp
from hospes.accounts.mailed_links import LinkMail
from hospes.accounts.service import AccountError, change_email, person_name
from hospes.accounts.sessions import ActiveSession
from hospes.config import Settings
from hospes.store.accounts import Person, ReachedAccount, person_row, reached_accounts
from hospes.store.models import User


@dataclass(frozen=True)
class Customer:
    """One person as the admin's customer page shows them."""

    person: Person
    accounts: list[ReachedAccount]
    two_factor: bool
    locked_for: int  # seconds until a login may be tried again; 0: not throttled
    sessions: list[ActiveSession]
    apps: list[ConnectedApp]


def _user(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise AccountError("User ID Not Found")
    return user


def _login_windows(user: User) -> list[throttle.Check]:
    """The windows that hold back this person's own logins: the password's (by login name) and the second
    factor's. The per-address window is the caller's network's, not the person's, and is left alone."""
    return [(throttle.ACCOUNT, login.login_name(user.email)), (twofactor.SECOND_FACTOR, str(user.id))]


def customer(s: Session, user_id: int) -> Customer | None:
    user = s.get(User, user_id)
    if user is None:
        return None
    return Customer(person=person_row(user), accounts=reached_accounts(s, user.id),
                    two_factor=twofactor.is_enrolled(s, user.id), locked_for=throttle.peek(s, _login_windows(user)),
                    sessions=sessions.active(s, user.id, None), apps=connected_apps.list_for_user(s, user.id))


def end_sessions(s: Session, user_id: int, *, actor: str, ip: str = "") -> int:
    """Log the person out everywhere: every session ends, and each application used in one is told by
    back-channel logout. Returns how many ended."""
    user = _user(s, user_id)
    ended = sessions.end_all_for_user(s, user.id)
    audit.record(s, actor=actor, action="session.ended_all", target=f"user:{user.id}", ip=ip,
                 details={"count": ended})
    return ended


def end_session(s: Session, user_id: int, session_id: int, *, actor: str, ip: str = "") -> bool:
    """End one session of the person; False when it is not theirs, or ended already."""
    user = _user(s, user_id)
    done = sessions.sign_out(s, user.id, session_id)
    if done:
        audit.record(s, actor=actor, action="session.ended", target=f"user:{user.id}", ip=ip,
                     details={"session_id": session_id})
    return done


def revoke_app(s: Session, user_id: int, app_id: int, *, actor: str, ip: str = "") -> ConnectedApp | None:
    """Revoke one of the person's connected applications (audited by ``connected_apps.revoke``)."""
    return connected_apps.revoke(s, user_id=_user(s, user_id).id, app_id=app_id, actor=actor, ip=ip)


def reset_second_factor(s: Session, user_id: int, *, actor: str, ip: str = "") -> bool:
    """Two-factor login off, for a person who lost the device and the backup codes (after staff have checked
    who they are). Their sessions stay; the next login asks for the password alone. False when it was off."""
    user = _user(s, user_id)
    was_on = twofactor.remove(s, user.id)
    if was_on:
        audit.record(s, actor=actor, action="user.second_factor_reset", target=f"user:{user.id}", ip=ip)
    return was_on


def unlock(s: Session, user_id: int, *, actor: str, ip: str = "") -> None:
    """Lift the throttle on the person's logins (wrong passwords and wrong codes counted so far are
    forgotten): their next login is checked at once."""
    user = _user(s, user_id)
    for rule, value in _login_windows(user):
        throttle.clear(s, rule, value)
    audit.record(s, actor=actor, action="user.unlocked", target=f"user:{user.id}", ip=ip)


def send_reset_link(s: Session, settings: Settings, user_id: int, *, actor: str, ip: str = "") -> LinkMail:
    """A password-reset link for the person, recorded in the email history as the client area's is (without the
    link). The caller sends ``mail`` after the commit (``mail.send``)."""
    user = _user(s, user_id)
    if user.disabled:
        raise AccountError("This user's login is disabled: a reset link would not work.")
    made = reset.link_for(s, settings, user, ip)
    mail.record_history(s, user.id, made.mail, body=made.history_body)
    audit.record(s, actor=actor, action="user.password_reset_sent", target=f"user:{user.id}", ip=ip,
                 details={"to": user.email})
    return made


def update(s: Session, user_id: int, *, first_name: str, last_name: str, email: str, actor: str,
           ip: str = "") -> list[str]:
    """Change the person's name and email (a new address is unverified until proved). Returns the fields
    that changed; nothing is recorded when none did."""
    user = _user(s, user_id)
    first, last = person_name(first_name, "First name"), person_name(last_name, "Last name")
    changed = []
    if change_email(s, user, email):
        changed.append("email")
    if first != user.first_name:
        user.first_name = first
        changed.append("first_name")
    if last != user.last_name:
        user.last_name = last
        changed.append("last_name")
    if changed:
        audit.record(s, actor=actor, action="user.updated", target=f"user:{user.id}", ip=ip,
                     details={"fields": changed})
    return changed


def mark_email_verified(s: Session, user_id: int, *, actor: str, ip: str = "") -> bool:
    """Record that the address is the person's (staff checked it another way). False when it was already."""
    user = _user(s, user_id)
    if user.email_verified:
        return False
    user.email_verified = True
    audit.record(s, actor=actor, action="user.email_verified", target=f"user:{user.id}", ip=ip,
                 details={"email": user.email, "by": "staff"})
    return True
