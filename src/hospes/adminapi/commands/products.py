"""GetClientsProducts (https://developers.whmcs.com/api-reference/getclientsproducts/): the services of the
client accounts, each with the fields WHMCS returns; never a password.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hospes.adminapi.commands import params
from hospes.adminapi.dispatch import ApiError, Call, command
from hospes.store.models import Service
from hospes.store.values import row_id


def _product(service: Service) -> dict[str, Any]:
    """One GetClientsProducts ``product``; never a password."""
    return {
        "id": service.id, "qty": 1, "clientid": service.client_id, "orderid": 0, "ordernumber": "", "pid": 0,
        "regdate": params.date(service.created_at), "name": service.product_name,
        "translated_name": service.product_name, "groupname": "", "translated_groupname": "",
        "domain": service.domain or "", "dedicatedip": "", "serverid": 0, "servername": "", "serverip": "",
        "serverhostname": "", "suspensionreason": "", "firstpaymentamount": "0.00", "recurringamount": "0.00",
        "paymentmethod": "", "paymentmethodname": "", "billingcycle": "", "nextduedate": "",
        "status": service.status, "username": service.username or "", "password": "", "subscriptionid": "",
        "promoid": 0, "overideautosuspend": "", "overidesuspenduntil": "", "ns1": "", "ns2": "",
        "assignedips": "", "notes": "", "diskusage": 0, "disklimit": 0, "bwusage": 0, "bwlimit": 0,
        "lastupdate": "", "customfields": {"customfield": []}, "configoptions": {"configoption": []},
    }


@command("GetClientsProducts")
def get_clients_products(s: Session, call: Call) -> dict[str, Any]:
    """Services, filtered by clientid, serviceid, domain and username2. Hospes has no product
    catalogue: ``pid`` is echoed but filters nothing, and every service's pid is 0."""
    client_id = params.whole(call, "clientid")
    service_id = params.whole(call, "serviceid")
    pid = params.whole(call, "pid")
    domain = call.get("domain")
    username = call.get("username2")
    start, num = params.page(call)
    for name, value in (("domain", domain), ("username2", username)):
        if value is not None and len(value) > 255:
            raise ApiError(f"The {name} parameter must be at most 255 characters.")
    if client_id is not None and params.client_by_id(s, client_id) is None:
        raise ApiError("Client ID Not Found")
    conditions: list[ColumnElement[bool]] = []
    if client_id is not None:
        conditions.append(Service.client_id == client_id)
    if service_id is not None:
        # An id beyond the column's range names no service (store/values.py).
        conditions.append(Service.id == (row_id(service_id) or -1))
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
