"""AddClient, GetClients, GetClientsDetails, UpdateClient, CloseClient, GetClientsProducts.

Parameter names, response fields and messages follow developers.whmcs.com/api-reference/<command>/.
Hospes keeps a client's name and email on its owner user (a WHMCS 8 "user"), and stores no address,
phone, billing or custom-field data: such parameters are accepted and ignored, and the fields WHMCS
always returns come back empty. Messages WHMCS does not document are Hospes's own, worded plainly.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from hospes.accounts import service as accounts
from hospes.accounts.passwords import check_strength
from hospes.accounts.service import CLIENT_STATUSES, AccountError
from hospes.adminapi.dispatch import ApiError, Call, command
from hospes.store.models import ClientAccount, Domain, Invoice, Service, Ticket, User, UserClient

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
# Database integer columns are 32-bit; a larger id cannot exist.
MAX_ID = 2**31 - 1
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000

# WHMCS names languages by their full English name; Hospes keeps a BCP 47 tag (the OIDC ``locale`` claim).
LANGUAGES = {
    "arabic": "ar", "azerbaijani": "az", "catalan": "ca", "chinese": "zh", "croatian": "hr", "czech": "cs",
    "danish": "da", "dutch": "nl", "english": "en", "estonian": "et", "farsi": "fa", "french": "fr",
    "german": "de", "hebrew": "he", "hungarian": "hu", "italian": "it", "macedonian": "mk", "norwegian": "nb",
    "portuguese-br": "pt-BR", "portuguese-pt": "pt-PT", "romanian": "ro", "russian": "ru", "spanish": "es",
    "swedish": "sv", "turkish": "tr", "ukranian": "uk",
}
LANGUAGE_NAMES = {code.lower(): name for name, code in LANGUAGES.items()}
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")

# Services and invoices CloseClient cancels (WHMCS: "cancel any invoices and set the status of all
# products to Cancelled or Terminated").
_OPEN_SERVICE_STATUSES = ("Pending", "Active", "Suspended")


# -- parameter parsing ---------------------------------------------------------------------------


def _given(call: Call, name: str) -> bool:
    return name in call.params


def _int(call: Call, name: str) -> int | None:
    """A whole-number parameter, or None when absent or empty."""
    raw = call.get(name)
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if not re.fullmatch(r"\d{1,18}", raw):
        raise ApiError(f"The {name} parameter must be a whole number.")
    return int(raw)


def _bool(call: Call, name: str) -> bool | None:
    raw = call.get(name)
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ApiError(f"The {name} parameter must be 1 or 0 (true or false).")


def _status(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    for status in CLIENT_STATUSES:
        if raw.strip().lower() == status.lower():
            return status
    raise ApiError(f"Invalid status: it must be one of {', '.join(CLIENT_STATUSES)}.")


def _language(raw: str | None) -> str | None:
    """WHMCS's full name ('english') or a BCP 47 tag ('en', 'pt-BR'); None when absent."""
    if raw is None:
        return None
    value = raw.strip()
    if not value:
        return ""
    if value.lower() in LANGUAGES:
        return LANGUAGES[value.lower()]
    if _BCP47.match(value):
        return value
    raise ApiError("Invalid language: give a language name such as english, or a tag such as en.")


def _language_out(locale: str) -> str:
    return LANGUAGE_NAMES.get((locale or "").lower(), locale or "")


def _page(call: Call) -> tuple[int, int]:
    start = _int(call, "limitstart") or 0
    num = _int(call, "limitnum")
    if num is None:
        num = DEFAULT_LIMIT
    if num < 1 or num > MAX_LIMIT:
        raise ApiError(f"The limitnum parameter must be between 1 and {MAX_LIMIT}.")
    return start, num


def _client_by_id(s: Session, client_id: int | None) -> ClientAccount | None:
    if client_id is None or client_id > MAX_ID:
        return None
    return s.get(ClientAccount, client_id)


def _client_by_email(s: Session, email: str | None) -> ClientAccount | None:
    """The client account whose owner has this email (Hospes keeps a client's email on its owner)."""
    if not email or not email.strip():
        return None
    user = accounts.find_user_by_email(s, email)
    if user is None:
        return None
    return s.scalar(select(ClientAccount).where(ClientAccount.owner_user_id == user.id)
                    .order_by(ClientAccount.id).limit(1))


def _email(value: str, invalid: str) -> str:
    try:
        return accounts.normalize_email(value)
    except AccountError:
        raise ApiError(invalid) from None


def _account_error(exc: AccountError) -> ApiError:
    return ApiError(str(exc))


# -- output --------------------------------------------------------------------------------------


def _date(value: Any) -> str:
    return value.date().isoformat() if value is not None else ""


def _details(s: Session, client: ClientAccount) -> dict[str, Any]:
    """GetClientsDetails' ``client``: every field WHMCS 8 returns, empty where Hospes stores nothing."""
    owner = s.get(User, client.owner_user_id) if client.owner_user_id else None
    first = owner.first_name if owner else ""
    last = owner.last_name if owner else ""
    users = s.execute(select(User, UserClient.role).join(UserClient, UserClient.user_id == User.id)
                      .where(UserClient.client_id == client.id).order_by(User.id)).all()
    return {
        "client_id": client.id,
        "owner_user_id": client.owner_user_id or 0,
        "userid": client.id,
        "id": client.id,
        "uuid": "",
        "firstname": first,
        "lastname": last,
        "fullname": f"{first} {last}".strip(),
        "companyname": client.company_name or "",
        "email": owner.email if owner else "",
        "address1": "", "address2": "", "city": "", "fullstate": "", "state": "", "postcode": "",
        "countrycode": "", "country": "", "phonenumber": "", "tax_id": "",
        "email_preferences": {k: "" for k in ("general", "invoice", "support", "product", "domain", "affiliate")},
        "statecode": "", "countryname": "", "phonecc": "", "phonenumberformatted": "", "telephoneNumber": "",
        "billingcid": 0,
        "notes": "",
        "currency": 0,
        "defaultgateway": "",
        "groupid": 0,
        "status": client.status,
        "credit": "0.00",
        "taxexempt": False, "latefeeoveride": False, "overideduenotices": False, "separateinvoices": False,
        "disableautocc": False, "emailoptout": False, "marketing_emails_opt_in": False, "overrideautoclose": False,
        "allowSingleSignOn": 1 if client.allow_sso else 0,
        "email_verified": bool(owner.email_verified) if owner else False,
        "language": _language_out(owner.locale) if owner else "",
        "isOptedInToMarketingEmails": False,
        "lastlogin": "",
        "currency_code": "",
        "customfields": [],
        "datecreated": _date(client.created_at),
        "users": {"user": [{"id": u.id, "name": f"{u.first_name} {u.last_name}".strip(), "email": u.email,
                            "is_owner": u.id == client.owner_user_id or role == "owner"} for u, role in users]},
    }


def _money(values: list[str]) -> str:
    total = Decimal("0")
    for v in values:
        try:
            total += Decimal(v or "0")
        except InvalidOperation:
            continue
    return f"{total:.2f}"


def _stats(s: Session, client: ClientAccount) -> dict[str, Any]:
    """The part of WHMCS's ``stats`` that Hospes's tables can answer; the rest is zero."""
    invoices = s.execute(select(Invoice.status, Invoice.total).where(Invoice.client_id == client.id)).all()

    def inv(status: str) -> tuple[int, str]:
        rows = [t for st, t in invoices if st == status]
        return len(rows), _money(rows)

    services = list(s.scalars(select(Service.status).where(Service.client_id == client.id)))
    domains = list(s.scalars(select(Domain.status).where(Domain.client_id == client.id)))
    tickets = list(s.scalars(select(Ticket.status).where(Ticket.client_id == client.id)))
    unpaid_n, unpaid_sum = inv("Unpaid")
    paid_n, paid_sum = inv("Paid")
    cancelled_n, cancelled_sum = inv("Cancelled")
    refunded_n, refunded_sum = inv("Refunded")
    collections_n, collections_sum = inv("Collections")
    draft_n, draft_sum = inv("Draft")
    active_services = sum(1 for st in services if st == "Active")
    return {
        "numdueinvoices": unpaid_n, "dueinvoicesbalance": unpaid_sum, "incredit": False, "creditbalance": "0.00",
        "grossRevenue": paid_sum, "expenses": "0.00", "income": paid_sum,
        "numoverdueinvoices": 0, "overdueinvoicesbalance": "0.00",
        "numDraftInvoices": draft_n, "draftInvoicesBalance": draft_sum,
        "numunpaidinvoices": unpaid_n, "unpaidinvoicesamount": unpaid_sum,
        "numpaidinvoices": paid_n, "paidinvoicesamount": paid_sum,
        "numcancelledinvoices": cancelled_n, "cancelledinvoicesamount": cancelled_sum,
        "numrefundedinvoices": refunded_n, "refundedinvoicesamount": refunded_sum,
        "numcollectionsinvoices": collections_n, "collectionsinvoicesamount": collections_sum,
        "numpaymentpendinginvoices": 0, "paymentpendinginvoicesamount": "0.00",
        "productsnumactivehosting": 0, "productsnumhosting": 0, "productsnumactivereseller": 0,
        "productsnumreseller": 0, "productsnumactiveservers": 0, "productsnumservers": 0,
        "productsnumactiveother": active_services, "productsnumother": len(services),
        "productsnumactive": active_services, "productsnumtotal": len(services),
        "numactivedomains": sum(1 for st in domains if st == "Active"), "numdomains": len(domains),
        "numacceptedquotes": 0, "numquotes": 0,
        "numtickets": len(tickets), "numactivetickets": sum(1 for st in tickets if st not in ("Closed",)),
        "numaffiliatesignups": 0, "isAffiliate": False,
    }


def _product(service: Service) -> dict[str, Any]:
    """One GetClientsProducts ``product``; never a password."""
    return {
        "id": service.id, "qty": 1, "clientid": service.client_id, "orderid": 0, "ordernumber": "", "pid": 0,
        "regdate": _date(service.created_at), "name": service.product_name,
        "translated_name": service.product_name, "groupname": "", "translated_groupname": "",
        "domain": service.domain or "", "dedicatedip": "", "serverid": 0, "servername": "", "serverip": "",
        "serverhostname": "", "suspensionreason": "", "firstpaymentamount": "0.00", "recurringamount": "0.00",
        "paymentmethod": "", "paymentmethodname": "", "billingcycle": "", "nextduedate": "",
        "status": service.status, "username": service.username or "", "password": "", "subscriptionid": "",
        "promoid": 0, "overideautosuspend": "", "overidesuspenduntil": "", "ns1": "", "ns2": "",
        "assignedips": "", "notes": "", "diskusage": 0, "disklimit": 0, "bwusage": 0, "bwlimit": 0,
        "lastupdate": "", "customfields": {"customfield": []}, "configoptions": {"configoption": []},
    }


# -- commands ------------------------------------------------------------------------------------


@command("AddClient")
def add_client(s: Session, call: Call) -> dict[str, Any]:
    """A client account and, unless ``owner_user_id`` names an existing user, its owner user.

    With ``owner_user_id`` the new account is owned by that user, whose name and email stand for the
    account's (Hospes keeps them on the user); firstname, lastname and email are still required, as
    in WHMCS. ``skipvalidation`` is accepted: Hospes requires none of the address fields it skips.
    """
    owner_id = _int(call, "owner_user_id")
    if owner_id is not None and (owner_id > MAX_ID or s.get(User, owner_id) is None):
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
    email = _email(email, "The email address you entered was not valid")
    status = _status(call.get("status"))
    locale = _language(call.get("language"))
    company = call.get("companyname") or ""
    try:
        if owner_id is not None:
            client_id = accounts.add_client_for_user(s, owner_user_id=owner_id, company=company)
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
                                       company=company, locale=locale or "en")
            client_id, user_id = made.client_id, made.user_id
        client = accounts.get_client(s, client_id)
        if status == "Closed":
            accounts.close_client(s, client)
        elif status is not None:
            accounts.update_client(s, client, status=status)
    except AccountError as exc:
        raise _account_error(exc) from None
    call.audit(s, "client.created", f"client:{client_id}", email=email, owner_user_id=user_id,
               status=client.status, companyname=client.company_name)
    return {"clientid": client_id, "owner_user_id": user_id}


@command("GetClients")
def get_clients(s: Session, call: Call) -> dict[str, Any]:
    start, num = _page(call)
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
    status = _status(call.get("status"))
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
        "companyname": c.company_name or "", "email": u.email if u else "", "datecreated": _date(c.created_at),
        "groupid": 0, "status": c.status,
    } for c, u in rows]
    return {"totalresults": total, "startnumber": start, "numreturned": len(clients),
            "clients": {"client": clients}}


@command("GetClientsDetails")
def get_clients_details(s: Session, call: Call) -> dict[str, Any]:
    """The client in ``client`` and, as WHMCS still does (deprecated), at the top level too."""
    client_id = _int(call, "clientid")
    email = (call.get("email") or "").strip()
    if client_id is None and not email:
        raise ApiError("Either clientid Or email Is Required")
    client = _client_by_id(s, client_id) if client_id is not None else _client_by_email(s, email)
    if client is None:
        raise ApiError("Client Not Found")
    details = _details(s, client)
    body: dict[str, Any] = {**details, "client": details}
    if _bool(call, "stats"):
        body["stats"] = _stats(s, client)
    return body


@command("UpdateClient")
def update_client(s: Session, call: Call) -> dict[str, Any]:
    """Profile fields, ``status`` and ``allowSingleSignOn``; each takes effect with this transaction.

    Setting status Closed does what CloseClient does to the account's tokens: a user whose every
    account is Closed loses every grant at once. Password and security-question parameters were
    moved to users in WHMCS 8.0 and are ignored here as there.
    """
    client_id = _int(call, "clientid")
    by_email = (call.get("clientemail") or "").strip()
    if client_id is None and not by_email:
        raise ApiError("Either clientid Or clientemail Is Required")
    client = _client_by_id(s, client_id) if client_id is not None else _client_by_email(s, by_email)
    if client is None:
        raise ApiError("Client ID Not Found")
    fields: dict[str, Any] = {}
    if _given(call, "firstname"):
        if not (call.get("firstname") or "").strip():
            raise ApiError("You did not enter your first name")
        fields["first_name"] = call.get("firstname")
    if _given(call, "lastname"):
        if not (call.get("lastname") or "").strip():
            raise ApiError("You did not enter your last name")
        fields["last_name"] = call.get("lastname")
    if _given(call, "email"):
        raw = (call.get("email") or "").strip()
        if not raw:
            raise ApiError("You did not enter your email address")
        new_email = _email(raw, "The email address entered is not valid")
        other = accounts.find_user_by_email(s, new_email)
        if other is not None and other.id != client.owner_user_id:
            raise ApiError("Duplicate Email Address")
        fields["email"] = new_email
    if _given(call, "companyname"):
        fields["company"] = call.get("companyname") or ""
    if _given(call, "language"):
        fields["locale"] = _language(call.get("language"))
    status = _status(call.get("status"))
    sso = _bool(call, "allowSingleSignOn")
    if sso is None:
        sso = _bool(call, "allow_sso")
    closing = status == "Closed" and client.status != "Closed"
    try:
        changed = accounts.update_client(s, client, status=None if closing else status, allow_sso=sso, **fields)
        if closing:
            accounts.close_client(s, client)
            changed.append("status")
    except AccountError as exc:
        raise _account_error(exc) from None
    if changed:
        details: dict[str, Any] = {"fields": sorted(changed)}
        if "status" in changed:
            details["status"] = client.status
        if "allowSingleSignOn" in changed:
            details["allowSingleSignOn"] = 1 if client.allow_sso else 0
        call.audit(s, "client.updated", f"client:{client.id}", **details)
    return {"clientid": client.id}


@command("CloseClient")
def close_client(s: Session, call: Call) -> dict[str, Any]:
    """Status Closed, open services Cancelled, unpaid invoices Cancelled; the owner's tokens stop
    at once when every account the owner reaches is Closed."""
    client = _client_by_id(s, _int(call, "clientid"))
    if client is None:
        raise ApiError("Client ID Not Found")
    services = list(s.scalars(select(Service).where(Service.client_id == client.id,
                                                    Service.status.in_(_OPEN_SERVICE_STATUSES))))
    for service in services:
        service.status = "Cancelled"
    invoices = list(s.scalars(select(Invoice).where(Invoice.client_id == client.id, Invoice.status == "Unpaid")))
    for invoice in invoices:
        invoice.status = "Cancelled"
    previous = client.status
    accounts.close_client(s, client)
    call.audit(s, "client.closed", f"client:{client.id}", previous_status=previous,
               services_cancelled=[sv.id for sv in services], invoices_cancelled=[iv.id for iv in invoices])
    return {"clientid": client.id}


@command("GetClientsProducts")
def get_clients_products(s: Session, call: Call) -> dict[str, Any]:
    """Services, filtered by clientid, serviceid, domain and username2. Hospes has no product
    catalogue: ``pid`` is echoed but filters nothing, and every service's pid is 0."""
    client_id = _int(call, "clientid")
    service_id = _int(call, "serviceid")
    pid = _int(call, "pid")
    domain = call.get("domain")
    username = call.get("username2")
    start, num = _page(call)
    for name, value in (("domain", domain), ("username2", username)):
        if value is not None and len(value) > 255:
            raise ApiError(f"The {name} parameter must be at most 255 characters.")
    if client_id is not None and _client_by_id(s, client_id) is None:
        raise ApiError("Client ID Not Found")
    conditions: list[ColumnElement[bool]] = []
    if client_id is not None:
        conditions.append(Service.client_id == client_id)
    if service_id is not None:
        conditions.append(Service.id == (service_id if service_id <= MAX_ID else -1))
    if domain:
        conditions.append(func.lower(Service.domain) == domain.strip().lower())
    if username:
        conditions.append(Service.username == username.strip())
    base = select(Service).where(*conditions)
    total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
    products = [_product(sv) for sv in s.scalars(base.order_by(Service.id).offset(start).limit(num))]
    return {
        "clientid": client_id, "serviceid": service_id, "pid": pid, "domain": domain if domain else None,
        "totalresults": total, "startnumber": start, "numreturned": len(products),
        "products": {"product": products},
    }
