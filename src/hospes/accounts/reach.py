"""What a person, and an application acting for them, may see and do in each client account: one rule.

A person reaches the client accounts they own or were invited to (store/accounts.py ``reached_accounts``). In
an account they own they may see everything; in one they were invited to, what the owner allowed: WHMCS's user
permissions (https://developers.whmcs.com/api-reference/updateuserpermissions/): ``products`` for services,
``domains``, ``invoices``, ``tickets``, and, in the client area only, ``emails`` for the account's email history
and ``profile`` for the account's details. The client area applies exactly that (``person_may``).

A token (the customer API) reaches the intersection of three things: the scopes granted, the client accounts
the person chose on the consent page (the grant's ``accounts``; closed accounts never), and the person's own
permissions in each of them, read again on every request (``token_reach``). So an invited user without
``invoices`` shows an application no invoice, whatever its token says, and an owner who takes a permission away
takes it from the applications too, at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from hospes.store.accounts import CLOSED, ReachedAccount

SERVICES, DOMAINS, INVOICES, TICKETS = "services", "domains", "invoices", "tickets"
KINDS = (SERVICES, DOMAINS, INVOICES, TICKETS)
# What only the client area shows: the account's email history and its details (no scope reaches them).
EMAILS, PROFILE = "emails", "profile"
# The user permission each kind of record needs in an account the person was invited to.
PERMISSION = {SERVICES: "products", DOMAINS: "domains", INVOICES: "invoices", TICKETS: "tickets",
              EMAILS: "emails", PROFILE: "profile"}
# The scope a token needs to read, and to change, each kind (oauth/scopes.py).
READ_SCOPE = {SERVICES: "services:read", DOMAINS: "domains:read", INVOICES: "invoices:read",
              TICKETS: "tickets:read"}
WRITE_SCOPE = {TICKETS: "tickets:write"}


def person_may(account: ReachedAccount, kind: str) -> bool:
    """Whether the person may see (and, for tickets, open and answer) ``kind`` in ``account``."""
    return account.may(PERMISSION[kind])


@dataclass(frozen=True)
class Reach:
    """What one token reaches: the chosen accounts the person still reaches (and that are not closed), and the
    scopes granted."""

    accounts: tuple[ReachedAccount, ...]
    scopes: frozenset[str]

    def account(self, account_id: int) -> ReachedAccount | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    def may_read(self, account_id: int, kind: str) -> bool:
        found = self.account(account_id)
        return found is not None and READ_SCOPE[kind] in self.scopes and person_may(found, kind)

    def may_write(self, account_id: int, kind: str) -> bool:
        found = self.account(account_id)
        return (found is not None and kind in WRITE_SCOPE and WRITE_SCOPE[kind] in self.scopes
                and person_may(found, kind))

    def readable(self, kind: str) -> list[int]:
        """The ids of the accounts whose ``kind`` the token may read, in the accounts' order."""
        return [a.id for a in self.accounts if self.may_read(a.id, kind)]

    def writable(self, kind: str) -> list[int]:
        return [a.id for a in self.accounts if self.may_write(a.id, kind)]


def token_reach(scopes: Collection[str], chosen: Collection[int], reached: Sequence[ReachedAccount]) -> Reach:
    """The reach of a token granted ``scopes`` for the accounts ``chosen``, of a person who reaches ``reached``
    now."""
    return Reach(tuple(a for a in reached if a.id in chosen and a.status != CLOSED), frozenset(scopes))
