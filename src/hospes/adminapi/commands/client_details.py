"""GetClientsDetails (https://developers.whmcs.com/api-reference/getclientsdetails/): one client, its users and,
with ``stats``, the counts of its services, domains, invoices and tickets.

Hospes keeps a client's name and email on its owner user (a WHMCS 8 "user"), and stores no address, phone,
billing or custom-field data: the fields WHMCS always returns for those come back empty.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes.adminapi.commands import params
from hospes.adminapi.dispatch import Call, command
from hospes.store.models import ClientAccount, Domain, Invoice, Service, Ticket, User, UserClient


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
        "language": params.language_name(owner.locale) if owner else "",
        "isOptedInToMarketingEmails": False,
        "lastlogin": "",
        "currency_code": "",
        "customfields": [],
        "datecreated": params.date(client.created_at),
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


@command("GetClientsDetails")
def get_clients_details(s: Session, call: Call) -> dict[str, Any]:
    """The client in ``client`` and, as WHMCS still does (deprecated), at the top level too."""
    client = params.named_client(s, call, email_param="email", not_found="Client Not Found")
    details = _details(s, client)
    body: dict[str, Any] = {**details, "client": details}
    if params.flag(call, "stats"):
        body["stats"] = _stats(s, client)
    return body
