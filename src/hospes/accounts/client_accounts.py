"""Client accounts as people reach them: which accounts a user reaches, with their role and permissions; the
people of one account; an account and a person as named rows.

The client area's pages and the admin pages read through these functions, and so will anything else that
shows a customer their accounts: every caller gets the same rows and the same rule for who reaches what.
An invited user's ``permissions`` (``UserClient.permissions``) say what the owner lets them do; an owner may
do everything.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.store.models import ClientAccount, User, UserClient

OWNER = "owner"
INVITED = "invited"
# The user-level permission an account owner may take away ("Allow Single Sign-On"); sso/tokens.py checks
# it when a token is redeemed.
SSO_PERMISSION = "sso"


@dataclass(frozen=True)
class Person:
    """A user (a person who logs in), without anything secret."""

    id: int
    email: str
    first_name: str
    last_name: str
    locale: str
    email_verified: bool
    disabled: bool

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class ClientAccountRow:
    """A client account (WHMCS "client")."""

    id: int
    company_name: str
    status: str  # Active | Inactive | Closed
    allow_sso: bool
    owner_user_id: int | None


@dataclass(frozen=True)
class ReachedAccount:
    """A client account as one user reaches it: as its owner or invited, with the permissions given."""

    id: int
    name: str  # the company name, else the owner's name; "" when neither
    role: str  # owner | invited
    status: str
    permissions: tuple[str, ...]

    @property
    def owner(self) -> bool:
        return self.role == OWNER

    @property
    def label(self) -> str:
        return f"{self.name or 'Client'} (#{self.id})"

    def may(self, permission: str) -> bool:
        """Whether the user holds ``permission`` in this account (an owner holds every one)."""
        return self.owner or permission in self.permissions


@dataclass(frozen=True)
class Member:
    """One person who reaches a client account, and as what."""

    person: Person
    role: str
    permissions: tuple[str, ...]

    @property
    def owner(self) -> bool:
        return self.role == OWNER

    def may(self, permission: str) -> bool:
        return self.owner or permission in self.permissions


def person_row(user: User) -> Person:
    return Person(id=user.id, email=user.email, first_name=user.first_name, last_name=user.last_name,
                  locale=user.locale, email_verified=user.email_verified, disabled=user.disabled)


def account_row(client: ClientAccount) -> ClientAccountRow:
    return ClientAccountRow(id=client.id, company_name=client.company_name, status=client.status,
                            allow_sso=client.allow_sso, owner_user_id=client.owner_user_id)


def person(s: Session, user_id: int | None) -> Person | None:
    user = s.get(User, user_id) if user_id else None
    return person_row(user) if user is not None else None


def client_account(s: Session, client_id: int) -> ClientAccountRow | None:
    client = s.get(ClientAccount, client_id)
    return account_row(client) if client is not None else None


def reached_accounts(s: Session, user_id: int) -> list[ReachedAccount]:
    """The client accounts linked to the user, those they own first, each in id order."""
    rows = s.execute(select(UserClient, ClientAccount).join(ClientAccount, ClientAccount.id == UserClient.client_id)
                     .where(UserClient.user_id == user_id)).all()
    owner_ids = {client.owner_user_id for _, client in rows if client.owner_user_id}
    owners = {u.id: u for u in s.scalars(select(User).where(User.id.in_(owner_ids)))} if owner_ids else {}
    found = []
    for link, client in rows:
        owner = owners.get(client.owner_user_id or 0)
        name = client.company_name or (f"{owner.first_name} {owner.last_name}".strip() if owner else "")
        found.append(ReachedAccount(id=client.id, name=name, role=link.role, status=client.status,
                                    permissions=tuple(link.permissions or ())))
    return sorted(found, key=lambda a: (not a.owner, a.id))


def _links(s: Session, client_id: int) -> list[tuple[UserClient, User]]:
    """The account's links with their users: the owner first, then by user id."""
    rows = s.execute(select(UserClient, User).join(User, User.id == UserClient.user_id)
                     .where(UserClient.client_id == client_id)).all()
    return sorted(((link, user) for link, user in rows), key=lambda r: (r[0].role != OWNER, r[1].id))


def members(s: Session, client_id: int) -> list[Member]:
    """The people who reach the account: the owner first, then by user id."""
    return [Member(person=person_row(user), role=link.role, permissions=tuple(link.permissions or ()))
            for link, user in _links(s, client_id)]


def set_sso_permissions(s: Session, client_id: int, *, shown: Collection[int], allowed: Collection[int],
                        actor: str, ip: str = "") -> list[int]:
    """Give the SSO permission to the invited users in ``allowed`` and take it from the others in ``shown``
    (someone invited since the page was shown keeps what they have; an owner always may). Records one
    ``user.permissions_updated`` entry per user whose permission changed; returns their ids."""
    changed = []
    for link, user in _links(s, client_id):
        if link.role == OWNER or user.id not in shown:
            continue
        allow = user.id in allowed
        held = list(link.permissions or [])
        if allow == (SSO_PERMISSION in held):
            continue
        # A new list, so the JSON column is seen as changed.
        link.permissions = held + [SSO_PERMISSION] if allow else [p for p in held if p != SSO_PERMISSION]
        audit.entry(s, actor, "user.permissions_updated", f"user:{user.id}", ip=ip, client_id=client_id,
                    permission=SSO_PERMISSION, allowed=allow)
        changed.append(user.id)
    return changed
