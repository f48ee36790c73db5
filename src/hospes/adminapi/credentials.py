"""API roles and API credentials (WHMCS "Manage API Credentials"): create, list, revoke, and authenticating a
request.

Secrets are 256-bit random values, shown once, stored as a salted SHA-256, compared in constant time.
Creating a role or a credential and revoking a credential each record their own audit entry.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.clock import now
from hospes.secrets import check_secret, hash_secret
from hospes.store.models import Admin, ApiCredential, ApiCredentialRole, ApiRole
from hospes.store.values import TextRefused, check_text, row_id

API_ACCESS = "API Access"


class ApiCredentialError(ValueError):
    pass


@dataclass(frozen=True)
class NewApiCredential:
    id: int
    identifier: str
    secret: str


def _stored(value: str, field: str, *, multiline: bool = False) -> None:
    try:
        check_text(value, field, multiline=multiline)
    except TextRefused as exc:
        raise ApiCredentialError(str(exc)) from None


def _role_fields(s: Session, *, name: str, actions: list[str], all_actions: bool, description: str,
                 role_id: int | None = None) -> tuple[str, list[str]]:
    """The one set of rules for a role (create and update): the name, unique, and the actions, in lower case as
    WHMCS compares them (all actions, or at least one)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ApiCredentialError("A role name of 1 to 100 characters is required.")
    _stored(name, "The role name")
    _stored(description, "The description", multiline=True)
    same = s.scalar(select(ApiRole).where(ApiRole.name == name))
    if same is not None and same.id != role_id:
        raise ApiCredentialError(f"An API role named {name} already exists.")
    if all_actions and actions:
        raise ApiCredentialError("Choose either all actions or a list of actions, not both.")
    if not all_actions and not actions:
        raise ApiCredentialError("A role needs at least one action, or all actions.")
    cleaned = []
    for a in actions:
        a = a.strip()
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,63}", a):
            raise ApiCredentialError(f"{a!r} is not an API action name.")
        cleaned.append(a.lower())
    return name, sorted(set(cleaned))


def create_role(s: Session, *, name: str, actions: list[str], all_actions: bool = False,
                description: str = "", actor: str | None = None, ip: str = "") -> int:
    name, cleaned = _role_fields(s, name=name, actions=actions, all_actions=all_actions, description=description)
    role = ApiRole(name=name, actions=cleaned, all_actions=all_actions, description=description[:5000])
    s.add(role)
    s.flush()
    audit.entry(s, actor, "api_role.created", f"api_role:{role.id}", ip=ip, name=name, all_actions=all_actions,
                actions=role.actions)
    return role.id


def _role(s: Session, role_id: int) -> ApiRole:
    role = s.get(ApiRole, role_id) if row_id(role_id) is not None else None
    if role is None:
        raise ApiCredentialError(f"No API role {role_id}.")
    return role


def find_role(s: Session, name: str) -> int:
    """The id of the role of this name (the CLI names roles by name)."""
    role = s.scalar(select(ApiRole).where(ApiRole.name == name.strip()))
    if role is None:
        raise ApiCredentialError(f"No API role named {name.strip()}.")
    return role.id


def update_role(s: Session, role_id: int, *, name: str, actions: list[str], all_actions: bool = False,
                description: str = "", actor: str | None = None, ip: str = "") -> list[str]:
    """Change a role; every credential holding it gets the new actions at its next call (the roles are read on
    each, ``authenticate``). Returns the fields that changed."""
    role = _role(s, role_id)
    name, cleaned = _role_fields(s, name=name, actions=actions, all_actions=all_actions, description=description,
                                 role_id=role.id)
    new = {"name": name, "actions": [] if all_actions else cleaned, "all_actions": all_actions,
           "description": description[:5000]}
    changed = [field for field, value in new.items() if getattr(role, field) != value]
    for field in changed:
        setattr(role, field, new[field])
    if changed:
        audit.entry(s, actor, "api_role.updated", f"api_role:{role.id}", ip=ip, name=role.name, fields=changed,
                    all_actions=role.all_actions, actions=list(role.actions))
    return changed


def role_holders(s: Session, role_id: int) -> list[str]:
    """The identifiers of the credentials that hold the role."""
    return list(s.scalars(select(ApiCredential.identifier).join(
        ApiCredentialRole, ApiCredentialRole.credential_id == ApiCredential.id)
        .where(ApiCredentialRole.role_id == role_id).order_by(ApiCredential.id)))


def delete_role(s: Session, role_id: int, *, actor: str | None = None, ip: str = "") -> str:
    """Delete a role: the credentials that held it lose its actions at once (and, holding no other role, may
    call nothing). Returns its name."""
    role = _role(s, role_id)
    holders = role_holders(s, role.id)
    s.execute(delete(ApiCredentialRole).where(ApiCredentialRole.role_id == role.id))
    s.delete(role)
    audit.entry(s, actor, "api_role.deleted", f"api_role:{role.id}", ip=ip, name=role.name, credentials=holders)
    return role.name


def create_credential(s: Session, *, admin_username: str, roles: list[str], description: str = "",
                      actor: str | None = None, ip: str = "") -> NewApiCredential:
    admin = s.scalar(select(Admin).where(Admin.username == admin_username))
    if admin is None:
        raise ApiCredentialError(f"No admin named {admin_username}.")
    roles = list(dict.fromkeys(roles))  # a role named twice is granted once (one row per credential and role)
    if not roles:
        raise ApiCredentialError("At least one API role is required.")
    role_rows = []
    for name in roles:
        role = s.scalar(select(ApiRole).where(ApiRole.name == name))
        if role is None:
            raise ApiCredentialError(f"No API role named {name}.")
        role_rows.append(role)
    if len(description) > 255:
        raise ApiCredentialError("The description must be at most 255 characters.")
    _stored(description, "The description")
    identifier = secrets.token_urlsafe(24)
    secret = secrets.token_urlsafe(32)
    cred = ApiCredential(identifier=identifier, secret_hash=hash_secret(secret), admin_id=admin.id,
                         description=description)
    s.add(cred)
    s.flush()
    for role in role_rows:
        s.add(ApiCredentialRole(credential_id=cred.id, role_id=role.id))
    audit.entry(s, actor, "api_credential.created", f"api_credential:{cred.id}", ip=ip, admin=admin.username,
                roles=list(roles), identifier=identifier)
    return NewApiCredential(cred.id, identifier, secret)


def revoke_credential(s: Session, credential_id: int, *, actor: str | None = None, ip: str = "") -> ApiCredential:
    """The credential stops working at once. Revoking a revoked credential changes nothing and records nothing."""
    cred = s.get(ApiCredential, credential_id) if row_id(credential_id) is not None else None
    if cred is None:
        raise ApiCredentialError(f"No API credential {credential_id}.")
    if cred.revoked_at is None:
        cred.revoked_at = now()
        audit.entry(s, actor, "api_credential.revoked", f"api_credential:{cred.id}", ip=ip,
                    identifier=cred.identifier)
    return cred


@dataclass(frozen=True)
class ApiRoleRow:
    id: int
    name: str
    description: str
    all_actions: bool
    actions: tuple[str, ...]  # lower case; empty with all_actions


@dataclass(frozen=True)
class ApiCredentialRow:
    """An API credential as the admin pages list it (never its secret, which is not stored)."""

    id: int
    identifier: str
    description: str
    admin: str  # the owning admin's username
    roles: tuple[str, ...]  # role names, by name
    created_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_roles(s: Session) -> list[ApiRoleRow]:
    """Every API role, by name."""
    return [ApiRoleRow(id=r.id, name=r.name, description=r.description, all_actions=r.all_actions,
                       actions=tuple(r.actions or ())) for r in s.scalars(select(ApiRole).order_by(ApiRole.name))]


def get_role(s: Session, role_id: int) -> ApiRoleRow | None:
    return next((r for r in list_roles(s) if r.id == role_id), None)


def _credential_rows(s: Session, *where: ColumnElement[bool]) -> list[ApiCredentialRow]:
    rows = s.execute(select(ApiCredential, Admin.username).join(Admin, Admin.id == ApiCredential.admin_id)
                     .where(*where).order_by(ApiCredential.id.desc())).all()
    role_names: dict[int, list[str]] = {}
    if rows:
        for cred_id, name in s.execute(select(ApiCredentialRole.credential_id, ApiRole.name)
                                       .join(ApiRole, ApiRole.id == ApiCredentialRole.role_id)
                                       .where(ApiCredentialRole.credential_id.in_([c.id for c, _ in rows]))
                                       .order_by(ApiRole.name)):
            role_names.setdefault(cred_id, []).append(name)
    return [ApiCredentialRow(id=c.id, identifier=c.identifier, description=c.description, admin=username,
                             roles=tuple(role_names.get(c.id, ())), created_at=c.created_at,
                             last_used_at=c.last_used_at, revoked_at=c.revoked_at) for c, username in rows]


def list_credentials(s: Session) -> list[ApiCredentialRow]:
    """Every API credential, revoked ones too, newest first."""
    return _credential_rows(s)


def get_credential(s: Session, credential_id: int) -> ApiCredentialRow | None:
    return next(iter(_credential_rows(s, ApiCredential.id == credential_id)), None)


def _may_use_api(admin: Admin) -> bool:
    """An admin with no permissions listed is a full admin; otherwise "API Access" is needed."""
    return not admin.permissions or API_ACCESS in admin.permissions


def api_admins(s: Session) -> list[str]:
    """The usernames of the enabled admins an API credential may belong to, by name."""
    return [a.username for a in s.scalars(select(Admin).where(Admin.disabled.is_(False)).order_by(Admin.username))
            if _may_use_api(a)]


def api_admin(s: Session, username: str) -> str | None:
    """``username`` when it names an enabled admin an API credential may belong to, else None."""
    admin = s.scalar(select(Admin).where(Admin.username == username)) if username else None
    return admin.username if admin is not None and not admin.disabled and _may_use_api(admin) else None


@dataclass(frozen=True)
class ApiCaller:
    credential_id: int
    identifier: str
    admin_id: int
    admin_username: str
    all_actions: bool
    actions: frozenset[str]

    def may(self, action: str) -> bool:
        return self.all_actions or action.lower() in self.actions


class AuthFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def authenticate(s: Session, identifier: str, secret: str) -> ApiCaller:
    """WHMCS's messages: an unknown identifier and a wrong secret are told apart (reference §5.1)."""
    cred = s.scalar(select(ApiCredential).where(ApiCredential.identifier == identifier)) if identifier else None
    ok = check_secret(secret, cred.secret_hash if cred else None)
    if cred is None or cred.revoked_at is not None:
        raise AuthFailed("Invalid or missing credentials")
    if not ok:
        raise AuthFailed("Authentication Failed")
    admin = s.get(Admin, cred.admin_id)
    if admin is None or admin.disabled:
        raise AuthFailed("Authentication Failed")
    if admin.permissions and API_ACCESS not in admin.permissions:
        # An admin without "API Access" cannot use the API at all (reference §5.1).
        raise AuthFailed("Authentication Failed")
    roles = s.scalars(select(ApiRole).join(ApiCredentialRole, ApiCredentialRole.role_id == ApiRole.id)
                      .where(ApiCredentialRole.credential_id == cred.id)).all()
    cred.last_used_at = now()
    return ApiCaller(
        credential_id=cred.id, identifier=cred.identifier, admin_id=admin.id, admin_username=admin.username,
        all_actions=any(r.all_actions for r in roles),
        actions=frozenset(a for r in roles for a in (r.actions or [])),
    )
