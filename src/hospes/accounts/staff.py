"""Admins (staff) after they are made (``service.add_admin``): the list, disable and enable, permissions, and a
password reset by another admin. The CLI (``hospes admins ...``) and the admin area's Admins page call these;
each change records its own audit entry.

One rule guards them all: there is always at least one enabled full administrator, so nobody can lock the
staff out of the admin area by disabling or demoting the last one. A disabled admin's sessions end at once,
and a password reset ends every session the admin had (whoever held the old password is out).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.accounts import login, throttle
from hospes.accounts.passwords import check_strength, hash_password
from hospes.accounts.service import ADMIN_PERMISSIONS, AccountError
from hospes.clock import utc
from hospes.store import sessions as stored
from hospes.store.models import Admin

# A temporary password: 16 characters from an alphabet without look-alikes (about 90 bits), read aloud or
# copied once; the admin picks their own afterwards with `hospes admins reset-password --password-stdin`.
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
TEMPORARY_LENGTH = 16


class AdminRow(NamedTuple):
    id: int
    username: str
    email: str
    permissions: tuple[str, ...]  # empty: a full administrator
    disabled: bool
    created_at: datetime | None

    @property
    def full(self) -> bool:
        return not self.permissions


def _row(a: Admin) -> AdminRow:
    return AdminRow(a.id, a.username, a.email, tuple(a.permissions or ()), bool(a.disabled),
                    utc(a.created_at) if a.created_at else None)


def every(s: Session) -> list[AdminRow]:
    """Every admin, by username."""
    return [_row(a) for a in s.scalars(select(Admin).order_by(Admin.username))]


def get(s: Session, admin_id: int) -> AdminRow | None:
    found = s.get(Admin, admin_id)
    return _row(found) if found is not None else None


def find(s: Session, username: str) -> Admin:
    """The admin of this username, or AccountError (the CLI names admins by username)."""
    found = s.scalar(select(Admin).where(Admin.username == username.strip()))
    if found is None:
        raise AccountError(f"There is no admin named {username.strip()!r}.")
    return found


def _load(s: Session, admin_id: int) -> Admin:
    found = s.get(Admin, admin_id)
    if found is None:
        raise AccountError("Admin ID Not Found")
    return found


def _other_full_admins(s: Session, admin: Admin) -> int:
    """Enabled full administrators other than ``admin``. Read under the write lock (SQLite) or with every
    enabled admin's row locked, in id order (PostgreSQL), so of two admins demoting each other at once the
    second waits for the first and then sees its change: both cannot succeed."""
    rows = s.execute(select(Admin.id, Admin.permissions).where(Admin.disabled.is_(False))
                     .order_by(Admin.id).with_for_update()).all()
    return sum(1 for row_id, permissions in rows if row_id != admin.id and not permissions)


def _keep_a_full_admin(s: Session, admin: Admin, *, disabled: bool, permissions: list[str]) -> None:
    was_full = not admin.disabled and not admin.permissions
    stays_full = not disabled and not permissions
    if was_full and not stays_full and _other_full_admins(s, admin) == 0:
        raise AccountError(f"{admin.username} is the last enabled full administrator: make another admin a full "
                           "administrator first.")


def set_disabled(s: Session, admin_id: int, disabled: bool, *, actor: str | None, ip: str = "") -> bool:
    """Disable (every session of theirs ends) or enable an admin. False when it was so already."""
    admin = _load(s, admin_id)
    if bool(admin.disabled) == disabled:
        return False
    _keep_a_full_admin(s, admin, disabled=disabled, permissions=list(admin.permissions or []))
    admin.disabled = disabled
    ended = stored.end_for_admin(s, admin.id) if disabled else 0
    audit.entry(s, actor, "admin.disabled" if disabled else "admin.enabled", f"admin:{admin.id}", ip=ip,
                username=admin.username, **({"sessions_ended": ended} if disabled else {}))
    return True


def set_permissions(s: Session, admin_id: int, permissions: list[str], *, actor: str | None, ip: str = "") -> bool:
    """Replace an admin's permissions (none: a full administrator). False when nothing changed. An admin's
    row is read on every request (accounts/admin_sessions.py): the change counts at their next click."""
    admin = _load(s, admin_id)
    for p in permissions:
        if p not in ADMIN_PERMISSIONS:
            raise AccountError(f"Unknown permission {p!r}; known: {', '.join(ADMIN_PERMISSIONS)}.")
    wanted = sorted(set(permissions))
    if wanted == sorted(admin.permissions or []):
        return False
    _keep_a_full_admin(s, admin, disabled=bool(admin.disabled), permissions=wanted)
    before = sorted(admin.permissions or [])
    admin.permissions = wanted
    audit.entry(s, actor, "admin.permissions_changed", f"admin:{admin.id}", ip=ip, username=admin.username,
                before=before or ["full administrator"], after=wanted or ["full administrator"])
    return True


def temporary_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(TEMPORARY_LENGTH))


def reset_password(s: Session, admin_id: int, *, password: str | None = None, actor: str | None,
                   ip: str = "") -> str:
    """Give an admin a new password: ``password`` when given (its strength checked), else a temporary one.
    Every session of theirs ends and their login is no longer throttled. Returns the password, for the caller
    to show once; only its hash is kept."""
    admin = _load(s, admin_id)
    new = password if password is not None else temporary_password()
    if (reason := check_strength(new)) is not None:
        raise AccountError(reason)
    admin.password_hash = hash_password(new)
    ended = stored.end_for_admin(s, admin.id)
    throttle.clear(s, login.ADMIN_ACCOUNT, login.login_name(admin.username))
    audit.entry(s, actor, "admin.password_reset", f"admin:{admin.id}", ip=ip, username=admin.username,
                temporary=password is None, sessions_ended=ended)
    return new
