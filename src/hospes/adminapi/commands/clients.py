"""AddClient, GetClients, UpdateClient, CloseClient: a client account itself, made, listed, changed and closed.

Parameter names, response fields and messages follow https://developers.whmcs.com/api-reference/addclient/,
…/getclients/, …/updateclient/ and …/closeclient/. Hospes keeps a client's name and email on its owner user
(a WHMCS 8 "user"), and stores no address, phone, billing or custom-field data: such parameters are accepted
and ignored. Messages WHMCS does not document are Hospes's own, worded plainly. The rules and the audit
entries are ``hospes.accounts.service``'s, the same the admin pages and the CLI use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from hospes.accounts import service as accounts
from hospes.accounts.passwords import check_strength
from hospes.accounts.service import AccountError
from hospes.adminapi.commands import params
from hospes.adminapi.dispatch import ApiError, Call, command
from hospes.store.models import ClientAccount, User
from hospes.store.values import row_id

# Hospes's own parameter (1/0): whether the owner's email address is known to be theirs. WHMCS's AddClient
# and UpdateClient have none; the name is the OIDC claim it sets (OIDC Core §5.1), which GetClientsDetails
# already returns.
EMAIL_VERIFIED = "email_verified"


@command("AddClient")
def add_client(s: Session, call: Call) -> dict[str, Any]:
    """A client account and, unless ``owner_user_id`` names an existing user, its owner user.

    With ``owner_user_id`` the new account is owned by that user, whose name and email stand for the
    account's (Hospes keeps them on the user); firstname, lastname and email are still required, as
    in WHMCS. ``skipvalidation`` is accepted: Hospes requires none of the address fields it skips.
    ``email_verified=1`` marks the owner's address verified (an operator who has checked it).
    """
    owner_id = params.whole(call, "owner_user_id")
    if owner_id is not None and (row_id(owner_id) is None or s.get(User, owner_id) is None):
        raise ApiError("Invalid Owner User ID")
    first = (call.get("firstname") or "").strip()
    last = (call.get("lastname") or "").strip()
    email = (call.get("email") or "").strip()
    if not first:
        raise ApiError("You did not enter your first name")
    if not last:
        raise ApiError("You did not enter your last name")
    if not email:
        raise ApiError("You did not enter your email address")
    email = params.email(email, "The email address you entered was not valid")
    status = params.status(call.get("status"))
    locale = params.language(call.get("language"))
    company = call.get("companyname") or ""
    verified = params.flag(call, EMAIL_VERIFIED)
    try:
        if owner_id is not None:
            client_id = accounts.add_client_for_user(s, owner_user_id=owner_id, company=company, actor=call.actor,
                                                     ip=call.ip)
            user_id = owner_id
        else:
            if accounts.find_user_by_email(s, email) is not None:
                raise ApiError("A user already exists with that email address")
            password = call.get("password2") or ""
            if not password:
                raise ApiError("You did not enter a password")
            if (reason := check_strength(password)) is not None:
                raise ApiError(reason)
            made = accounts.add_client(s, email=email, first_name=first, last_name=last, password=password,
                                       company=company, locale=locale or "en", email_verified=bool(verified),
                                       actor=call.actor, ip=call.ip)
            client_id, user_id = made.client_id, made.user_id
            verified = None
        if status is not None or verified is not None:
            accounts.update_client(s, accounts.get_client(s, client_id), status=status, email_verified=verified,
                                   actor=call.actor, ip=call.ip)
    except AccountError as exc:
        raise ApiError(str(exc)) from None
    return {"clientid": client_id, "owner_user_id": user_id}


@command("GetClients")
def get_clients(s: Session, call: Call) -> dict[str, Any]:
    start, num = params.page(call)
    sorting = (call.get("sorting") or "ASC").strip().upper()
    if sorting not in ("ASC", "DESC"):
        raise ApiError("The sorting parameter must be ASC or DESC.")
    columns: dict[str, Any] = {
        "id": ClientAccount.id, "firstname": User.first_name, "lastname": User.last_name,
        "companyname": ClientAccount.company_name, "email": User.email, "groupid": ClientAccount.id,
        "datecreated": ClientAccount.created_at, "status": ClientAccount.status,
    }
    orderby = (call.get("orderby") or "id").strip()
    if orderby not in columns:
        raise ApiError(f"The orderby parameter must be one of {', '.join(columns)}.")
    status = params.status(call.get("status"))
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(ClientAccount.status == status)
    term = (call.get("search") or "").strip().lower()
    if len(term) > 255:
        raise ApiError("The search parameter must be at most 255 characters.")
    if term:
        fullname = func.lower(User.first_name + " " + User.last_name)
        conditions.append(or_(*(func.lower(col).startswith(term, autoescape=True)
                                for col in (User.email, User.first_name, User.last_name,
                                            ClientAccount.company_name)),
                              fullname.startswith(term, autoescape=True)))
    base = select(ClientAccount, User).outerjoin(User, User.id == ClientAccount.owner_user_id).where(*conditions)
    total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
    col = columns[orderby]
    order = [col.desc() if sorting == "DESC" else col.asc(),
             ClientAccount.id.desc() if sorting == "DESC" else ClientAccount.id.asc()]
    rows = s.execute(base.order_by(*order).offset(start).limit(num)).all()
    clients = [{
        "id": c.id, "firstname": u.first_name if u else "", "lastname": u.last_name if u else "",
        "companyname": c.company_name or "", "email": u.email if u else "", "datecreated": params.date(c.created_at),
        "groupid": 0, "status": c.status,
    } for c, u in rows]
    return {"totalresults": total, "startnumber": start, "numreturned": len(clients),
            "clients": {"client": clients}}


def _required(call: Call, name: str, missing: str) -> str | None:
    """A profile parameter UpdateClient changes when given; given empty, ``missing`` is the answer."""
    if name not in call.params:
        return None
    value = call.get(name) or ""
    if not value.strip():
        raise ApiError(missing)
    return value


@command("UpdateClient")
def update_client(s: Session, call: Call) -> dict[str, Any]:
    """Profile fields, ``status``, ``allowSingleSignOn`` and ``email_verified``; each takes effect with this
    transaction. A new ``email`` is unverified unless ``email_verified=1`` comes with it.

    Status Closed closes the account as CloseClient does (services and unpaid invoices cancelled, and a
    user whose every account is Closed loses every grant at once). Password and security-question
    parameters were moved to users in WHMCS 8.0 and are ignored here as there.
    """
    client = params.named_client(s, call, email_param="clientemail", not_found="Client ID Not Found")
    fields: dict[str, Any] = {
        "first_name": _required(call, "firstname", "You did not enter your first name"),
        "last_name": _required(call, "lastname", "You did not enter your last name"),
    }
    raw = _required(call, "email", "You did not enter your email address")
    if raw is not None:
        new_email = params.email(raw.strip(), "The email address entered is not valid")
        other = accounts.find_user_by_email(s, new_email)
        if other is not None and other.id != client.owner_user_id:
            raise ApiError("Duplicate Email Address")
        fields["email"] = new_email
    if "companyname" in call.params:
        fields["company"] = call.get("companyname") or ""
    if "language" in call.params:
        fields["locale"] = params.language(call.get("language"))
    fields["email_verified"] = params.flag(call, EMAIL_VERIFIED)
    status = params.status(call.get("status"))
    sso = params.flag(call, "allowSingleSignOn")
    if sso is None:
        sso = params.flag(call, "allow_sso")
    try:
        accounts.update_client(s, client, status=status, allow_sso=sso, actor=call.actor, ip=call.ip, **fields)
    except AccountError as exc:
        raise ApiError(str(exc)) from None
    return {"clientid": client.id}


@command("CloseClient")
def close_client(s: Session, call: Call) -> dict[str, Any]:
    """Status Closed, open services Cancelled, unpaid invoices Cancelled; the owner's tokens stop
    at once when every account the owner reaches is Closed."""
    client = params.client_by_id(s, params.whole(call, "clientid"))
    if client is None:
        raise ApiError("Client ID Not Found")
    accounts.close_client(s, client, actor=call.actor, ip=call.ip)
    return {"clientid": client.id}
