"""Operations on accounts, shared by the CLI, the admin API and the admin pages.

Each operation that changes something records its own audit entry (``actor``, and ``ip`` where there is one),
so every caller leaves the same trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.accounts import mailed_links
from hospes.accounts.member_permissions import USER_PERMISSIONS
from hospes.accounts.passwords import check_strength, hash_password
from hospes.store.accounts import CLIENT_STATUSES
from hospes.store.grants import revoke_grant_in
from hospes.store.models import (
    Admin,
    ClientAccount,
    Domain,
    Grant,
    Invoice,
    PasswordReset,
    Server,
    Service,
    User,
    UserClient,
)
from hospes.store.values import TextRefused, check_text, forbidden_character, row_id

SERVICE_STATUSES = ("Pending", "Active", "Suspended", "Terminated", "Cancelled", "Fraud", "Completed")
# WHMCS's domain and invoice statuses (https://docs.whmcs.com/Domain_Statuses, https://docs.whmcs.com/Invoices)
# that fit the status column.
DOMAIN_STATUSES = ("Pending", "Pending Transfer", "Active", "Grace", "Redemption", "Expired", "Cancelled", "Fraud",
                   "Transferred Away")
INVOICE_STATUSES = ("Draft", "Unpaid", "Paid", "Cancelled", "Refunded", "Collections", "Payment Pending")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")  # ISO 4217 alphabetic code
# The services closing an account cancels; the others (Terminated, Cancelled, Fraud, Completed) have ended.
OPEN_SERVICE_STATUSES = ("Pending", "Active", "Suspended")
# The order in which ``update_client`` names the fields it changed (and its audit entry lists them).
CLIENT_FIELDS = ("status", "allowSingleSignOn", "companyname", "email", "email_verified", "firstname", "language",
                 "lastname")
# WHMCS's admin permissions (https://docs.whmcs.com/Administrator_Roles), and one of Hospes's own: "Manage
# Single Sign-On", for what can sign a person in (single_sign_on credentials: whoever holds one's secret can
# log in to the client area as the service's owner), which WHMCS folds into "Configure OpenID Connect".
MANAGE_SSO = "Manage Single Sign-On"
ADMIN_PERMISSIONS = ("Configure OpenID Connect", "API Access", "Manage Clients", "Configure Application Links",
                     MANAGE_SSO)
# A deliberately plain check: one @, no spaces, a dot in the domain. Real proof is a verification mail.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """Bad input for an account operation; the message is fit to show."""


def normalize_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email) or forbidden_character(email) is not None:
        raise AccountError(f"{email!r} is not a valid email address.")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def _text(value: str | None, field: str, limit: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise AccountError(f"{field} is required.")
    if len(value) > limit:
        raise AccountError(f"{field} must be at most {limit} characters.")
    try:
        return check_text(value, field)
    except TextRefused as exc:
        raise AccountError(str(exc)) from None


def find_user_by_email(s: Session, email: str) -> User | None:
    try:
        email = normalize_email(email)
    except AccountError:
        return None
    return s.scalar(select(User).where(func.lower(User.email) == email.lower()))


@dataclass(frozen=True)
class NewClient:
    client_id: int
    user_id: int


def add_client(
    s: Session, *, email: str, first_name: str, last_name: str, password: str,
    company: str = "", locale: str = "en", email_verified: bool = False, actor: str | None = None, ip: str = "",
) -> NewClient:
    """A client account with its owner user (https://developers.whmcs.com/api-reference/addclient/)."""
    email = normalize_email(email)
    first_name = _text(first_name, "First name", 100, required=True)
    last_name = _text(last_name, "Last name", 100, required=True)
    company = _text(company, "Company name", 255)
    locale = _text(locale, "Locale", 16) or "en"
    if (reason := check_strength(password)) is not None:
        raise AccountError(reason)
    if find_user_by_email(s, email) is not None:
        raise AccountError(f"A user with the email address {email} already exists.")
    user = User(email=email, first_name=first_name, last_name=last_name, locale=locale,
                email_verified=email_verified, password_hash=hash_password(password))
    s.add(user)
    s.flush()
    client = ClientAccount(company_name=company, owner_user_id=user.id)
    s.add(client)
    s.flush()
    s.add(UserClient(user_id=user.id, client_id=client.id, role="owner", permissions=["sso", "productsso"]))
    audit.entry(s, actor, "client.created", f"client:{client.id}", ip=ip, email=email, owner_user_id=user.id,
                companyname=company)
    return NewClient(client_id=client.id, user_id=user.id)


def add_service(
    s: Session, *, client_id: int, product: str, domain: str = "", username: str = "", status: str = "Active",
    server_id: int | None = None, actor: str | None = None, ip: str = "",
) -> int:
    if row_id(client_id) is None or s.get(ClientAccount, client_id) is None:
        raise AccountError(f"Client ID {client_id} not found.")
    if server_id is not None and (row_id(server_id) is None or s.get(Server, server_id) is None):
        raise AccountError(f"Server ID {server_id} not found.")
    if status not in SERVICE_STATUSES:
        raise AccountError(f"Status must be one of {', '.join(SERVICE_STATUSES)}.")
    service = Service(
        client_id=client_id, product_name=_text(product, "Product name", 255, required=True),
        domain=_text(domain, "Domain", 255), username=_text(username, "Username", 255), status=status,
        server_id=server_id,
    )
    s.add(service)
    s.flush()
    audit.entry(s, actor, "service.created", f"service:{service.id}", ip=ip, client_id=client_id,
                product=service.product_name)
    return service.id


def _account(s: Session, client_id: int) -> ClientAccount:
    found = s.get(ClientAccount, client_id) if row_id(client_id) is not None else None
    if found is None:
        raise AccountError(f"Client ID {client_id} not found.")
    return found


def add_domain(
    s: Session, *, client_id: int, domain: str, status: str = "Active", expires_on: date | None = None,
    actor: str | None = None, ip: str = "",
) -> int:
    """A domain of a client account (what a registrar module would record)."""
    _account(s, client_id)
    try:  # an internationalised name is kept in its ASCII form (RFC 5891)
        name = domain.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        name = ""
    if not _DOMAIN.match(name):
        raise AccountError(f"{domain!r} is not a domain name.")
    if status not in DOMAIN_STATUSES:
        raise AccountError(f"Status must be one of {', '.join(DOMAIN_STATUSES)}.")
    row = Domain(client_id=client_id, domain=name, status=status, expires_on=expires_on)
    s.add(row)
    s.flush()
    audit.entry(s, actor, "domain.created", f"domain:{row.id}", ip=ip, client_id=client_id, domain=name)
    return row.id


def add_invoice(
    s: Session, *, client_id: int, total: str, currency: str = "USD", status: str = "Unpaid",
    due_on: date | None = None, actor: str | None = None, ip: str = "",
) -> int:
    """An invoice of a client account; ``total`` is a decimal amount, kept with two places."""
    _account(s, client_id)
    try:
        amount = Decimal(total.strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise AccountError(f"{total!r} is not an amount (a number such as 12.50).")
    if amount != amount.quantize(Decimal("0.01")):
        raise AccountError(f"{total!r} has more than two decimal places.")
    currency = currency.strip().upper()
    if not _CURRENCY.match(currency):
        raise AccountError(f"{currency!r} is not a currency code (three letters, such as USD).")
    if status not in INVOICE_STATUSES:
        raise AccountError(f"Status must be one of {', '.join(INVOICE_STATUSES)}.")
    row = Invoice(client_id=client_id, total=f"{amount:.2f}", currency=currency, status=status, due_on=due_on)
    s.add(row)
    s.flush()
    audit.entry(s, actor, "invoice.created", f"invoice:{row.id}", ip=ip, client_id=client_id, total=row.total,
                currency=currency, status=status)
    return row.id


def invite_user(
    s: Session, *, client_id: int, email: str, first_name: str, last_name: str, password: str,
    permissions: list[str], actor: str | None = None, ip: str = "",
) -> int:
    """Let a person reach a client account as an invited user with ``permissions``; returns their user id.

    An address that already belongs to a user links that user (whose name and password stay as they are);
    otherwise a user is made with the name and password given."""
    _account(s, client_id)
    for p in permissions:
        if p not in USER_PERMISSIONS:
            raise AccountError(f"Unknown permission {p!r}; known: {', '.join(USER_PERMISSIONS)}.")
    user = find_user_by_email(s, email)
    if user is None:
        email = normalize_email(email)
        first = _text(first_name, "First name", 100, required=True)
        last = _text(last_name, "Last name", 100, required=True)
        if (reason := check_strength(password)) is not None:
            raise AccountError(reason)
        user = User(email=email, first_name=first, last_name=last, password_hash=hash_password(password))
        s.add(user)
        s.flush()
    elif s.get(UserClient, (user.id, client_id)) is not None:
        raise AccountError(f"{user.email} already reaches client {client_id}.")
    held = sorted(set(permissions), key=USER_PERMISSIONS.index)
    s.add(UserClient(user_id=user.id, client_id=client_id, role="invited", permissions=held))
    s.flush()
    audit.entry(s, actor, "user.invited", f"user:{user.id}", ip=ip, client_id=client_id, email=user.email,
                permissions=held)
    return user.id


def add_admin(s: Session, *, username: str, email: str, password: str, permissions: list[str],
              actor: str | None = None, ip: str = "") -> int:
    username = _text(username, "Username", 64, required=True)
    if not re.fullmatch(r"[A-Za-z0-9._@-]+", username):
        raise AccountError("Username may hold only letters, digits and . _ @ -")
    email = normalize_email(email)
    for p in permissions:
        if p not in ADMIN_PERMISSIONS:
            raise AccountError(f"Unknown permission {p!r}; known: {', '.join(ADMIN_PERMISSIONS)}.")
    if (reason := check_strength(password)) is not None:
        raise AccountError(reason)
    if s.scalar(select(Admin).where(Admin.username == username)) is not None:
        raise AccountError(f"An admin named {username} already exists.")
    admin = Admin(username=username, email=email, password_hash=hash_password(password),
                  permissions=sorted(set(permissions)))
    s.add(admin)
    s.flush()
    audit.entry(s, actor, "admin.created", f"admin:{admin.id}", ip=ip, username=username,
                permissions=admin.permissions)
    return admin.id


def get_client(s: Session, client_id: int) -> ClientAccount:
    client = s.get(ClientAccount, client_id)
    if client is None:
        raise AccountError("Client ID Not Found")
    return client


def update_client(
    s: Session, client: ClientAccount, *, status: str | None = None, allow_sso: bool | None = None,
    company: str | None = None, first_name: str | None = None, last_name: str | None = None,
    email: str | None = None, locale: str | None = None, email_verified: bool | None = None,
    actor: str | None = None, ip: str = "",
) -> list[str]:
    """Change a client account and its owner's profile; returns the names of the fields that changed, in
    ``CLIENT_FIELDS``' order, and records them as one ``client.updated`` entry.

    Status Closed closes the account as ``close_client`` does (after every other field has passed its checks).
    """
    changed: list[str] = []
    if status is not None and status not in CLIENT_STATUSES:
        raise AccountError(f"Status must be one of {', '.join(CLIENT_STATUSES)}.")
    if allow_sso is not None and allow_sso != client.allow_sso:
        client.allow_sso = allow_sso
        changed.append("allowSingleSignOn")
    if company is not None:
        value = _text(company, "Company name", 255)
        if value != client.company_name:
            client.company_name = value
            changed.append("companyname")
    owner = s.get(User, client.owner_user_id) if client.owner_user_id else None
    if owner is not None:
        if first_name is not None:
            value = person_name(first_name, "First name")
            if value != owner.first_name:
                owner.first_name = value
                changed.append("firstname")
        if last_name is not None:
            value = person_name(last_name, "Last name")
            if value != owner.last_name:
                owner.last_name = value
                changed.append("lastname")
        if locale is not None:
            value = _text(locale, "Locale", 16) or "en"
            if value != owner.locale:
                owner.locale = value
                changed.append("language")
        if email is not None and change_email(s, owner, email):
            changed.append("email")
        # After the address: "email_verified" with a new email vouches for the new one.
        if email_verified is not None and email_verified != owner.email_verified:
            owner.email_verified = email_verified
            changed.append("email_verified")
    if status is not None and status != client.status:
        if status == "Closed":
            close_client(s, client, actor=actor, ip=ip)
        else:
            client.status = status
        changed.append("status")
    changed.sort(key=CLIENT_FIELDS.index)
    if changed:
        details: dict[str, object] = {"fields": changed}
        if "status" in changed:
            details["status"] = client.status
        if "allowSingleSignOn" in changed:
            details["allowSingleSignOn"] = 1 if client.allow_sso else 0
        audit.entry(s, actor, "client.updated", f"client:{client.id}", ip=ip, **details)
    return changed


def change_email(s: Session, user: User, email: str) -> bool:
    """The one rule for a person's new address (the admin API, the admin area): valid, nobody else's, and not
    verified until proved. True when it changed."""
    value = normalize_email(email)
    if value.lower() == user.email.lower():
        return False
    other = find_user_by_email(s, value)
    if other is not None and other.id != user.id:
        raise AccountError("A user already exists with that email address")
    user.email = value
    user.email_verified = False
    # A reset link sent to the old address must not open the account, nor (accounts/reset.py) vouch for the new
    # one. Verification links carry their address and are void by themselves.
    mailed_links.use_up_unused(s, PasswordReset, user.id)
    return True


def person_name(value: str, field: str) -> str:
    """A first or last name, as every operation stores it."""
    return _text(value, field, 100, required=True)


def close_client(s: Session, client: ClientAccount, *, actor: str | None = None, ip: str = "") -> None:
    """Close the account as WHMCS's CloseClient does (https://developers.whmcs.com/api-reference/closeclient/):
    status Closed, its open services Cancelled, its unpaid invoices Cancelled. Closing a Closed account again
    is harmless.

    The OAuth core then refuses to log in a user whose every account is Closed; the grants of such users are
    revoked here, so their access and refresh tokens stop at once.
    """
    previous = client.status
    services = list(s.scalars(select(Service).where(Service.client_id == client.id,
                                                    Service.status.in_(OPEN_SERVICE_STATUSES))
                              .order_by(Service.id)))
    for service in services:
        service.status = "Cancelled"
    invoices = list(s.scalars(select(Invoice).where(Invoice.client_id == client.id, Invoice.status == "Unpaid")
                              .order_by(Invoice.id)))
    for invoice in invoices:
        invoice.status = "Cancelled"
    client.status = "Closed"
    s.flush()
    revoked = 0
    for user_id in s.scalars(select(UserClient.user_id).where(UserClient.client_id == client.id)).all():
        statuses = s.scalars(select(ClientAccount.status).join(UserClient, UserClient.client_id == ClientAccount.id)
                             .where(UserClient.user_id == user_id)).all()
        if all(st == "Closed" for st in statuses):
            for grant_id in s.scalars(select(Grant.id).where(Grant.user_id == user_id,
                                                             Grant.revoked_at.is_(None))).all():
                revoke_grant_in(s, grant_id)
                revoked += 1
    audit.entry(s, actor, "client.closed", f"client:{client.id}", ip=ip, previous_status=previous,
                services_cancelled=[sv.id for sv in services], invoices_cancelled=[iv.id for iv in invoices],
                grants_revoked=revoked)


def add_client_for_user(s: Session, *, owner_user_id: int, company: str = "", actor: str | None = None,
                        ip: str = "") -> int:
    """A further client account owned by an existing user (AddClient with ``owner_user_id``)."""
    owner = s.get(User, owner_user_id)
    if owner is None:
        raise AccountError("Invalid Owner User ID")
    client = ClientAccount(company_name=_text(company, "Company name", 255), owner_user_id=owner_user_id)
    s.add(client)
    s.flush()
    s.add(UserClient(user_id=owner_user_id, client_id=client.id, role="owner", permissions=["productsso"]))
    audit.entry(s, actor, "client.created", f"client:{client.id}", ip=ip, email=owner.email,
                owner_user_id=owner_user_id, companyname=client.company_name)
    return client.id


def add_server(s: Session, *, name: str, module: str, hostname: str = "", config: dict[str, str] | None = None,
               actor: str | None = None, ip: str = "") -> int:
    """A server that a provisioning module manages (application links go to it)."""
    server = Server(name=_text(name, "Server name", 255, required=True), hostname=_text(hostname, "Hostname", 255),
                    module=_text(module, "Module", 64, required=True), config=dict(config or {}))
    s.add(server)
    s.flush()
    audit.entry(s, actor, "server.created", f"server:{server.id}", ip=ip, name=server.name, module=server.module)
    return server.id
