"""Logging in: a password (customers and staff), then, for a customer with two-factor login on, a code.

Every login form (the OAuth login page, the client area's /login, the admin area's) goes through one
sequence, so a rule about logging in is written once:

1. the attempt is admitted by the throttle (it takes its place in its windows, or is refused before its
   password is looked at: ``throttle.admit``) and the account is read, in one transaction;
2. the password is hashed outside any transaction (on SQLite a write transaction would hold the
   database's only write lock for the length of an Argon2 run);
3. one transaction finishes: a failure leaves its places as failures; a success gives them back,
   upgrades a hash made with older parameters, ends the browser's old session (no session fixation) and
   starts a new one.

A refused attempt is answered the same whatever its password, and without hashing it. A browser that
logged in to this account before holds a device value (kept by the web layer in a signed cookie): its
attempts count against that device alone, so a flood of guesses from elsewhere (or from behind the same
address) does not lock its owner out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes import audit, metrics
from hospes.accounts import admin_sessions, sessions, throttle, twofactor
from hospes.accounts.assurance import PASSWORD, TWO_FACTOR, Assurance
from hospes.accounts.passwords import rehashed, verify_password
from hospes.accounts.service import find_user_by_email
from hospes.i18n import N_, _
from hospes.secrets import new_token
from hospes.store.db import Database
from hospes.store.models import Admin, User

# Failed admin logins count apart from the customers' windows.
ADMIN_ACCOUNT = throttle.Rule("admin-account", limit=5, window=900)
ADMIN_ADDRESS = throttle.Rule("admin-address", limit=30, window=900)
ADMIN_DEVICE = throttle.Rule("admin-device", limit=5, window=900)

INCORRECT = N_("Login Details Incorrect. Please try again.")


def throttled_message(wait: int) -> str:
    return _("Too many failed login attempts. Please try again in %(wait)s.") % {"wait": throttle.minutes(wait)}


def wrong_codes_message(wait: int) -> str:
    return _("Too many wrong codes. Please wait %(wait)s and try again.") % {"wait": throttle.minutes(wait)}


@dataclass(frozen=True)
class Attempt:
    """What a login form sent, and from where. ``device``: the device value this browser holds for this
    login name, already checked by the caller (its signature and that it names this login)."""

    login: str
    password: str
    ip: str
    user_agent: str = ""
    old_session: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class Throttled:
    wait: int  # seconds


@dataclass(frozen=True)
class Wrong:
    """A wrong login name or password, a disabled account, or a wrong code: the person is not told which."""


@dataclass(frozen=True)
class SecondFactorDue:
    """The password was right and two-factor login is on: no session until the code."""

    user_id: int
    device: str


@dataclass(frozen=True)
class LoggedIn:
    token: str  # the new session's cookie value
    device: str  # the device value this browser may keep for this login
    session: sessions.CurrentSession | None = None  # customers' sessions; None for staff
    then: Any = None  # what ``then`` returned, in the transaction that started the session


@dataclass(frozen=True)
class Expired:
    """The code page's user is gone or disabled: start again from the password."""


Then = Callable[[Session, sessions.CurrentSession], Any]


class _Login(Protocol):
    id: int
    password_hash: str
    disabled: bool


@dataclass(frozen=True)
class _Directory:
    """Who logs in through a form, and the windows their attempts count against."""

    account: throttle.Rule
    address: throttle.Rule
    device: throttle.Rule
    find: Callable[[Session, str], _Login | None]
    model: type[User] | type[Admin]
    # Audit entries: (session, attempt, the account's id if it exists, it exists but is disabled); (session,
    # attempt) for a refused attempt. Never the password; a customer's typed login name only when it is an
    # account's (a mistyped name may be a password typed in the wrong field).
    failed: Callable[[Session, Attempt, int | None, bool], None]
    throttled: Callable[[Session, Attempt], None]


def _reason(disabled: bool, what: str) -> dict[str, str]:
    return {"reason": "disabled" if disabled else f"wrong {what}"}


def _customer_failed(s: Session, attempt: Attempt, account_id: int | None, disabled: bool) -> None:
    who = f"user:{account_id}" if account_id is not None else "anonymous"
    audit.record(s, actor=who, action="user.login_failed", target=who if account_id is not None else "",
                 ip=attempt.ip, details=_reason(disabled, "email or password"))


def _customer_throttled(s: Session, attempt: Attempt) -> None:
    found = find_user_by_email(s, attempt.login)
    who = f"user:{found.id}" if found is not None else "anonymous"
    audit.record(s, actor=who, action="user.login_throttled", target=who if found is not None else "",
                 ip=attempt.ip, details={"step": "password"})


def _admin_failed(s: Session, attempt: Attempt, account_id: int | None, disabled: bool) -> None:
    audit.record(s, actor=f"admin:{attempt.login}", action="admin.login_failed", ip=attempt.ip,
                 details=_reason(disabled, "username or password"))


def _admin_throttled(s: Session, attempt: Attempt) -> None:
    audit.record(s, actor=f"admin:{attempt.login}", action="admin.login_throttled", ip=attempt.ip)


def _find_admin(s: Session, username: str) -> Admin | None:
    return s.scalar(select(Admin).where(Admin.username == username)) if username else None


CUSTOMERS = _Directory(account=throttle.ACCOUNT, address=throttle.ADDRESS, device=throttle.DEVICE,
                       find=find_user_by_email, model=User, failed=_customer_failed, throttled=_customer_throttled)
STAFF = _Directory(account=ADMIN_ACCOUNT, address=ADMIN_ADDRESS, device=ADMIN_DEVICE, find=_find_admin,
                   model=Admin, failed=_admin_failed, throttled=_admin_throttled)


def login_name(value: str) -> str:
    """The name a throttle window and a device value are kept under: trimmed, lower case."""
    return value.strip().lower()


PasswordOutcome = Throttled | Wrong | SecondFactorDue | LoggedIn


def _password(db: Database, d: _Directory, attempt: Attempt,
              finish: Callable[[Session, Any], SecondFactorDue | LoggedIn]) -> PasswordOutcome:
    name = login_name(attempt.login)
    checks: list[throttle.Check] = ([(d.device, attempt.device)] if attempt.device
                                    else [(d.account, name or "-"), (d.address, attempt.ip or "-")])
    with db.transaction() as s:
        admission = throttle.admit(s, checks)
        if admission.refused:
            d.throttled(s, attempt)
            return Throttled(admission.wait)
        found = d.find(s, attempt.login)
        account_id, stored = (found.id, found.password_hash) if found is not None else (None, None)
    ok = verify_password(attempt.password, stored)
    new_hash = rehashed(attempt.password, stored) if ok and stored else None
    with db.transaction() as s:
        row = cast("_Login | None", s.get(d.model, account_id) if account_id is not None else None)
        # The hash must still be the one just verified (a reset meanwhile makes the old password useless).
        if not ok or row is None or row.disabled or row.password_hash != stored:
            d.failed(s, attempt, account_id, ok and row is not None and row.disabled)
            return Wrong()
        throttle.release(s, admission)
        throttle.clear(s, d.account, name)
        if attempt.device:
            throttle.clear(s, d.device, attempt.device)
        if new_hash is not None:
            row.password_hash = new_hash  # made with older Argon2 parameters: upgraded now
        return finish(s, row)


def customer(db: Database, session_ttl: int, attempt: Attempt, then: Then | None = None) -> PasswordOutcome:
    """A customer's password. ``then(db_session, new_session)`` runs in the transaction that starts the
    session (the authorization request's next step), so a login costs one commit, not two."""

    def finish(s: Session, user: User) -> SecondFactorDue | LoggedIn:
        if twofactor.is_enrolled(s, user.id):
            return SecondFactorDue(user_id=user.id, device=new_token())
        return _start(s, user, session_ttl, attempt, PASSWORD, then)

    out = _password(db, CUSTOMERS, attempt, finish)
    metrics.login("customer", "password", out)
    return out


def second_factor(db: Database, session_ttl: int, keys: twofactor.Keys, user_id: int, code: str,
                  attempt: Attempt, then: Then | None = None) -> Throttled | Wrong | Expired | LoggedIn:
    """The code after a right password (``attempt`` carries the address, the browser and its old session)."""
    out = _second_factor(db, session_ttl, keys, user_id, code, attempt, then)
    metrics.login("customer", "second_factor", out)
    return out


def _second_factor(db: Database, session_ttl: int, keys: twofactor.Keys, user_id: int, code: str,
                   attempt: Attempt, then: Then | None) -> Throttled | Wrong | Expired | LoggedIn:
    with db.transaction() as s:
        user = s.get(User, user_id)
        if user is None or user.disabled:
            return Expired()
        checked = twofactor.check(s, keys, user_id, code)
        who = f"user:{user_id}"
        if checked.wait:
            audit.record(s, actor=who, action="user.login_throttled", target=who, ip=attempt.ip,
                         details={"step": "second_factor"})
            return Throttled(checked.wait)
        if not checked.ok:
            audit.record(s, actor=who, action="user.second_factor_failed", target=who, ip=attempt.ip)
            return Wrong()
        return _start(s, user, session_ttl, attempt, TWO_FACTOR, then)


def _start(s: Session, user: User, ttl: int, attempt: Attempt, assurance: Assurance, then: Then | None) -> LoggedIn:
    sessions.end(s, attempt.old_session)
    token, current = sessions.start(s, user=user, ttl=ttl, assurance=assurance, ip=attempt.ip,
                                    user_agent=attempt.user_agent)
    who = f"user:{user.id}"
    audit.record(s, actor=who, action="user.second_factor_ok" if assurance == TWO_FACTOR else "user.login",
                 target=who, ip=attempt.ip, details={"acr": assurance.acr})
    return LoggedIn(token=token, device=new_token(), session=current,
                    then=then(s, current) if then is not None else None)


def admin(db: Database, session_ttl: int, attempt: Attempt) -> Throttled | Wrong | LoggedIn:
    """A member of staff's username and password; audited whether it succeeds or fails."""

    def finish(s: Session, row: Admin) -> LoggedIn:
        admin_sessions.end(s, attempt.old_session)
        token = admin_sessions.start(s, admin=row, ttl=session_ttl, ip=attempt.ip, user_agent=attempt.user_agent)
        audit.record(s, actor=f"admin:{row.username}", action="admin.login", target=f"admin:{row.id}", ip=attempt.ip)
        return LoggedIn(token=token, device=new_token())

    out = _password(db, STAFF, attempt, finish)
    assert not isinstance(out, SecondFactorDue)
    metrics.login("admin", "password", out)
    return out
