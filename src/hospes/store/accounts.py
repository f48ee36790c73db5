"""Client accounts and people as named rows: which accounts a user reaches, with their role and permissions;
the people of one account; an account and a person.

The client area's pages, the admin pages and the account operations read through these functions: every
caller gets the same rows and the same rule for who reaches what. An invited user's ``permissions``
(``UserClient.permissions``) say what the owner lets them do; an owner may do everything.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from hospes.store.models import ClientAccount, User, UserClient
from hospes.store.records import ServiceRow, services
from hospes.store.sql import Tx, drive, json_list, session_tx
from hospes.store.values import row_id

CLIENT_STATUSES = ("Active", "Inactive", "Closed")
CLOSED = "Closed"
OWNER = "owner"
INVITED = "invited"


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
    company: str = ""  # the company name alone ("" when none)

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


# Which client accounts a user reaches, with the owner's name for an account without a company name. Plain SQL,
# so the customer API reads it on the event loop (store/lookups.py) and the pages through their session.
# REACHED_COLUMNS are also a part of the customer API's one query (store/lookups.py), over the same joins.
REACHED_COLUMNS = "c.id, c.company_name, c.status, uc.role, uc.permissions, o.first_name, o.last_name"
REACHED_SQL = (
    f"SELECT {REACHED_COLUMNS} FROM user_clients uc JOIN client_accounts c ON c.id = uc.client_id "  # noqa: S608
    "LEFT JOIN users o ON o.id = c.owner_user_id WHERE uc.user_id = %s"
)


def reached_of(rows: Iterable[Sequence[Any]]) -> list[ReachedAccount]:
    """The accounts of rows of REACHED_COLUMNS, those the user owns first, each in id order."""
    found = []
    for cid, company, status, role, permissions, first, last in rows:
        name = company or (f"{first} {last}".strip() if first is not None else "")
        found.append(ReachedAccount(id=cid, name=name, role=role, status=status,
                                    permissions=tuple(json_list(permissions)), company=company))
    return sorted(found, key=lambda a: (not a.owner, a.id))


async def reached(tx: Tx, user_id: int) -> list[ReachedAccount]:
    """The client accounts linked to the user, those they own first, each in id order."""
    return reached_of(await tx.all(REACHED_SQL, user_id))


def reached_accounts(s: Session, user_id: int) -> list[ReachedAccount]:
    """``reached`` in the session's transaction."""
    return drive(reached(session_tx(s), user_id))


def choosable_accounts(s: Session, user_id: int) -> list[ReachedAccount]:
    """The client accounts a person may choose for an application on the consent page: those they reach that
    are not closed, in ``reached_accounts``'s order."""
    return [a for a in reached_accounts(s, user_id) if a.status != CLOSED]


def client_ids(s: Session, user_id: int) -> list[int]:
    """The ids of the client accounts the user reaches, as owner or invited."""
    return list(s.scalars(select(UserClient.client_id).where(UserClient.user_id == user_id)))


def members(s: Session, client_id: int) -> list[Member]:
    """The people who reach the account: the owner first, then by user id."""
    rows = s.execute(select(UserClient, User).join(User, User.id == UserClient.user_id)
                     .where(UserClient.client_id == client_id)).all()
    found = [Member(person=person_row(user), role=link.role, permissions=tuple(link.permissions or ()))
             for link, user in rows]
    return sorted(found, key=lambda m: (not m.owner, m.person.id))


def set_permissions(s: Session, client_id: int, user_id: int, permissions: Collection[str]) -> None:
    """What the invited user may do in the account, from now on."""
    s.execute(update(UserClient).where(UserClient.client_id == client_id, UserClient.user_id == user_id)
              .values(permissions=list(permissions)))


class ClientListing(NamedTuple):
    """One client in a search: the account and its owner (None when it has none)."""

    client: ClientAccountRow
    owner: Person | None


@dataclass(frozen=True)
class ClientSearch:
    total: int  # every match, not only this page's
    rows: list[ClientListing]


class ClientUser(NamedTuple):
    user: Person
    role: str  # owner | invited


@dataclass(frozen=True)
class ClientDetail:
    """One client with the people who reach it and its services, for the admin's client page."""

    client: ClientAccountRow
    owner: Person | None
    users: list[ClientUser]  # by user id
    services: list[ServiceRow]  # oldest first


def _client_search(query: str, status: str) -> Select:
    stmt = select(ClientAccount, User).outerjoin(User, User.id == ClientAccount.owner_user_id)
    if status in CLIENT_STATUSES:
        stmt = stmt.where(ClientAccount.status == status)
    query = query.strip().lower()
    if query:
        terms = [func.lower(col).contains(query, autoescape=True)
                 for col in (User.email, User.first_name, User.last_name, ClientAccount.company_name,
                             User.first_name + " " + User.last_name)]
        if (client_id := row_id(query)) is not None:
            terms.append(ClientAccount.id == client_id)
        stmt = stmt.where(or_(*terms))
    return stmt


def search_clients(s: Session, *, query: str = "", status: str = "", limit: int, offset: int = 0) -> ClientSearch:
    """Clients whose owner's name or email, company name or id contains ``query`` (any case), of ``status``
    when it is one of ``CLIENT_STATUSES``; newest first."""
    stmt = _client_search(query, status)
    total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = s.execute(stmt.order_by(ClientAccount.id.desc()).limit(limit).offset(offset)).all()
    return ClientSearch(total=total, rows=[ClientListing(account_row(client), person_row(owner) if owner else None)
                                           for client, owner in rows])


def client_detail(s: Session, client_id: int) -> ClientDetail | None:
    client = s.get(ClientAccount, client_id)
    if client is None:
        return None
    users = s.execute(select(User, UserClient.role).join(UserClient, UserClient.user_id == User.id)
                      .where(UserClient.client_id == client.id).order_by(User.id)).all()
    return ClientDetail(client=account_row(client), owner=person(s, client.owner_user_id),
                        users=[ClientUser(person_row(user), role) for user, role in users],
                        services=services(s, client.id))
