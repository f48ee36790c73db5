"""AddClient, GetClients, GetClientsDetails, UpdateClient, CloseClient, GetClientsProducts through /includes/api.php,
with WHMCS's parameter names, fields and messages (developers.whmcs.com/api-reference/), in JSON and XML; that
status and allowSingleSignOn changes take effect at once; and the audit rows each change leaves."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from hospes.accounts.passwords import verify_password
from hospes.oauth import pkce
from hospes.store.models import ClientAccount, Invoice, Service, User
from tests.adminapi import (
    Api,
    api_cred_fixture,  # noqa: F401
    api_fixture,  # noqa: F401
    assert_no_secret,
    audit_rows,
    count,
    text,
)
from tests.browserless import authorize, query_of
from tests.conftest import PASSWORD

NEW = {"firstname": "Jane", "lastname": "Doe", "email": "jane@example.com", "password2": PASSWORD}
# What WHMCS's sample AddClient posts besides: Hospes accepts and ignores it.
ADDRESS = {"address1": "123 Main Street", "city": "Anytown", "state": "State", "postcode": "12345", "country": "US",
           "phonenumber": "800-555-1234", "clientip": "1.2.3.4", "currency": "1", "groupid": "0", "notes": "vip",
           "marketingoptin": "true", "noemail": "true", "tax_id": "X1", "customfields": "YTowOnt9"}


def add(api: Api, **params: Any) -> dict[str, Any]:
    return api.ok("AddClient", {**NEW, **params})


def details(api: Api, **params: Any) -> dict[str, Any]:
    client: dict[str, Any] = api.ok("GetClientsDetails", params)["client"]
    return client


# -- AddClient -----------------------------------------------------------------------------------------


def test_add_client_creates_the_account_and_its_owner(api, db):
    body = add(api, companyname="Acme Ltd", language="french", **ADDRESS)
    assert set(body) == {"result", "clientid", "owner_user_id"}
    cid, uid = body["clientid"], body["owner_user_id"]
    with db.transaction() as s:
        client = s.get(ClientAccount, cid)
        user = s.get(User, uid)
        assert client.owner_user_id == uid and client.company_name == "Acme Ltd" and client.status == "Active"
        assert (user.first_name, user.last_name, user.email, user.locale) == ("Jane", "Doe", "jane@example.com", "fr")
        assert verify_password(PASSWORD, user.password_hash)
    [row] = audit_rows(db, "client.created")
    assert row.target == f"client:{cid}" and row.ip_address == "127.0.0.1"
    assert row.actor == f"api:apiadmin:{api.cred.identifier[:8]}"
    assert row.details["email"] == "jane@example.com"
    assert_no_secret(audit_rows(db), PASSWORD, api.cred.secret)


def test_add_client_in_xml_and_with_status(api):
    root = api.xml("AddClient", {**NEW, "status": "inactive", "language": "pt-BR"})
    assert text(root, "result") == "success"
    cid = int(text(root, "clientid"))
    assert int(text(root, "owner_user_id")) > 0
    got = details(api, clientid=cid)
    assert got["status"] == "Inactive" and got["language"] == "portuguese-br"


def test_add_client_for_an_existing_owner_user(api):
    first = add(api)
    body = api.ok("AddClient", {"owner_user_id": str(first["owner_user_id"]), "firstname": "Jane", "lastname": "Doe",
                                "email": "jane@example.com", "companyname": "Second Co"})
    assert body["owner_user_id"] == first["owner_user_id"] and body["clientid"] != first["clientid"]
    got = details(api, clientid=body["clientid"])
    assert got["companyname"] == "Second Co" and got["owner_user_id"] == first["owner_user_id"]
    assert got["users"]["user"] == [{"id": first["owner_user_id"], "name": "Jane Doe", "email": "jane@example.com",
                                     "is_owner": True}]


def test_add_client_email_verified(api):
    # Hospes's own parameter (WHMCS's AddClient has none), named after the OIDC claim it sets.
    vouched = add(api, email_verified="1")
    assert details(api, clientid=vouched["clientid"])["email_verified"] is True
    plain = add(api, email="plain@example.com")
    assert details(api, clientid=plain["clientid"])["email_verified"] is False
    # A second account for an existing owner vouches for that owner's address.
    second = api.ok("AddClient", {"owner_user_id": str(plain["owner_user_id"]), "firstname": "Jane",
                                  "lastname": "Doe", "email": "plain@example.com", "email_verified": "true"})
    assert details(api, clientid=plain["clientid"])["email_verified"] is True
    assert details(api, clientid=second["clientid"])["email_verified"] is True


ADD_ERRORS = [
    ({}, "You did not enter your first name"),
    ({"firstname": "  ", "lastname": "Doe", "email": "x@example.com"}, "You did not enter your first name"),
    ({"firstname": "Jane"}, "You did not enter your last name"),
    ({"firstname": "Jane", "lastname": "Doe"}, "You did not enter your email address"),
    ({**NEW, "email": "not-an-email"}, "The email address you entered was not valid"),
    ({**NEW, "email": "a b@example.com"}, "The email address you entered was not valid"),
    ({**NEW, "email": "x" * 250 + "@example.com"}, "The email address you entered was not valid"),
    ({**NEW, "email": "EXISTING@Example.com"}, "A user already exists with that email address"),
    ({**NEW, "password2": ""}, "You did not enter a password"),
    ({k: v for k, v in NEW.items() if k != "password2"}, "You did not enter a password"),
    ({**NEW, "password2": "short"}, "The password must be at least 8 characters long."),
    ({**NEW, "firstname": "J" * 101}, "First name must be at most 100 characters."),
    ({**NEW, "lastname": "D" * 101}, "Last name must be at most 100 characters."),
    ({**NEW, "companyname": "C" * 256}, "Company name must be at most 255 characters."),
    ({**NEW, "status": "Frozen"}, "Invalid status: it must be one of Active, Inactive, Closed."),
    ({**NEW, "language": "<klingon>"},
     "Invalid language: give a language name such as english, or a tag such as en."),
    ({**NEW, "owner_user_id": "999"}, "Invalid Owner User ID"),
    ({**NEW, "owner_user_id": "99999999999"}, "Invalid Owner User ID"),
    ({**NEW, "owner_user_id": "abc"}, "The owner_user_id parameter must be a whole number."),
    ({**NEW, "email_verified": "maybe"}, "The email_verified parameter must be 1 or 0 (true or false)."),
]


@pytest.mark.parametrize(("params", "message"), ADD_ERRORS)
def test_add_client_errors_write_nothing(api, db, make_account, params, message):
    make_account(email="existing@example.com")
    assert api.error("AddClient", params) == message
    assert text(api.xml("AddClient", params), "message") == message
    assert count(db, ClientAccount) == 1 and count(db, User) == 1
    assert audit_rows(db, "client.created") == []


# -- GetClients ----------------------------------------------------------------------------------------


def test_get_clients_pages_sorts_filters_and_searches(api):
    ids = [add(api, firstname=f, lastname=last, email=e, companyname=c)["clientid"] for f, last, e, c in [
        ("Alice", "Zeta", "alice@example.com", "Acme"),
        ("Bob", "Young", "bob@example.org", "Bobcorp"),
        ("Carol", "Xu", "carol@example.net", "100% Pure"),
    ]]
    api.ok("UpdateClient", {"clientid": str(ids[1]), "status": "Inactive"})
    body = api.ok("GetClients")
    assert (body["totalresults"], body["startnumber"], body["numreturned"]) == (3, 0, 3)
    first = body["clients"]["client"][0]
    assert set(first) == {"id", "firstname", "lastname", "companyname", "email", "datecreated", "groupid", "status"}
    assert first["id"] == ids[0] and first["email"] == "alice@example.com" and first["status"] == "Active"
    assert len(first["datecreated"]) == 10 and first["groupid"] == 0
    page = api.ok("GetClients", {"limitstart": "1", "limitnum": "1"})
    assert (page["totalresults"], page["startnumber"], page["numreturned"]) == (3, 1, 1)
    assert [c["id"] for c in page["clients"]["client"]] == [ids[1]]
    desc = api.ok("GetClients", {"sorting": "DESC"})
    assert [c["id"] for c in desc["clients"]["client"]] == ids[::-1]
    by_last = api.ok("GetClients", {"orderby": "lastname"})
    assert [c["lastname"] for c in by_last["clients"]["client"]] == ["Xu", "Young", "Zeta"]
    inactive = api.ok("GetClients", {"status": "Inactive"})
    assert inactive["totalresults"] == 1 and inactive["clients"]["client"][0]["id"] == ids[1]

    def found(term: str) -> list[int]:
        return [c["id"] for c in api.ok("GetClients", {"search": term})["clients"]["client"]]

    assert found("alice@") == [ids[0]]
    assert found("BOB") == [ids[1]]            # first name, any case
    assert found("zet") == [ids[0]]            # last name
    assert found("carol xu") == [ids[2]]       # full name
    assert found("acm") == [ids[0]]            # company
    assert found("100%") == [ids[2]]           # % is a character, not a wildcard
    assert found("%") == []
    assert found("example") == []              # the start of a field only
    empty = api.ok("GetClients", {"search": "nobody"})
    assert (empty["totalresults"], empty["numreturned"], empty["clients"]) == (0, 0, {"client": []})


def test_get_clients_in_xml(api):
    a = add(api)["clientid"]
    b = add(api, email="b@example.com", firstname="Bea")["clientid"]
    root = api.xml("GetClients")
    assert text(root, "result") == "success" and text(root, "totalresults") == "2"
    clients = root.findall("clients/client")
    assert [text(c, "id") for c in clients] == [str(a), str(b)]
    assert text(clients[1], "firstname") == "Bea" and text(clients[1], "status") == "Active"


@pytest.mark.parametrize(("params", "message"), [
    ({"limitstart": "x"}, "The limitstart parameter must be a whole number."),
    ({"limitnum": "-1"}, "The limitnum parameter must be a whole number."),
    ({"limitnum": "0"}, "The limitnum parameter must be between 1 and 1000."),
    ({"sorting": "sideways"}, "The sorting parameter must be ASC or DESC."),
    ({"orderby": "password"},
     "The orderby parameter must be one of id, firstname, lastname, companyname, email, groupid, datecreated, status."),
    ({"status": "Gone"}, "Invalid status: it must be one of Active, Inactive, Closed."),
    ({"search": "s" * 256}, "The search parameter must be at most 255 characters."),
])
def test_get_clients_bad_parameters(api, params, message):
    assert api.error("GetClients", params) == message


# -- GetClientsDetails ---------------------------------------------------------------------------------


def test_get_clients_details_by_id_and_by_email(api, make_service):
    body = add(api, companyname="Acme", **ADDRESS)
    cid, uid = body["clientid"], body["owner_user_id"]
    make_service(cid, domain="jane.example.com")
    full = api.ok("GetClientsDetails", {"clientid": str(cid), "stats": "true"})
    c = full["client"]
    assert c["id"] == cid and c["client_id"] == cid and c["userid"] == cid and c["owner_user_id"] == uid
    assert (c["firstname"], c["lastname"], c["fullname"], c["email"]) == ("Jane", "Doe", "Jane Doe",
                                                                         "jane@example.com")
    assert c["companyname"] == "Acme" and c["status"] == "Active" and c["allowSingleSignOn"] == 1
    # Stored nowhere in Hospes: present and empty, as WHMCS always returns them.
    for field in ("address1", "address2", "city", "state", "postcode", "country", "countrycode", "phonenumber",
                  "tax_id", "notes", "lastlogin", "currency_code", "defaultgateway"):
        assert c[field] == "", field
    assert c["groupid"] == 0 and c["credit"] == "0.00" and c["customfields"] == []
    assert c["users"]["user"] == [{"id": uid, "name": "Jane Doe", "email": "jane@example.com", "is_owner": True}]
    assert "password" not in c
    # WHMCS also returns the client at the top level (deprecated there, still read by old scripts).
    assert full["email"] == "jane@example.com" and full["id"] == cid and full["allowSingleSignOn"] == 1
    assert full["stats"]["productsnumtotal"] == 1 and full["stats"]["productsnumactive"] == 1
    assert "stats" not in api.ok("GetClientsDetails", {"clientid": str(cid)})
    assert details(api, email="JANE@EXAMPLE.COM")["id"] == cid


def test_get_clients_details_in_xml(api):
    cid = add(api)["clientid"]
    root = api.xml("GetClientsDetails", {"clientid": str(cid)})
    assert text(root, "result") == "success"
    assert text(root, "client/id") == str(cid) and text(root, "client/email") == "jane@example.com"
    assert text(root, "client/allowSingleSignOn") == "1" and text(root, "client/status") == "Active"
    assert text(root, "client/users/user/email") == "jane@example.com"


@pytest.mark.parametrize(("params", "message"), [
    ({}, "Either clientid Or email Is Required"),
    ({"clientid": "", "email": ""}, "Either clientid Or email Is Required"),
    ({"clientid": "999"}, "Client Not Found"),
    ({"clientid": "99999999999"}, "Client Not Found"),
    ({"email": "nobody@example.com"}, "Client Not Found"),
    ({"email": "not an email"}, "Client Not Found"),
    ({"clientid": "abc"}, "The clientid parameter must be a whole number."),
    ({"clientid": "1", "stats": "perhaps"}, "The stats parameter must be 1 or 0 (true or false)."),
])
def test_get_clients_details_errors(api, params, message):
    add(api)
    assert api.error("GetClientsDetails", params) == message
    assert text(api.xml("GetClientsDetails", params), "message") == message


# -- UpdateClient --------------------------------------------------------------------------------------


def test_update_client_profile_fields(api, db):
    cid = add(api)["clientid"]
    body = api.ok("UpdateClient", {"clientid": str(cid), "firstname": "Janet", "lastname": "Dough",
                                   "companyname": "New Co", "email": "janet@example.com", "language": "german",
                                   "password2": "ignored-since-whmcs-8", **ADDRESS})
    assert body == {"result": "success", "clientid": cid}
    c = details(api, clientid=cid)
    assert (c["firstname"], c["lastname"], c["companyname"], c["email"], c["language"]) == (
        "Janet", "Dough", "New Co", "janet@example.com", "german")
    with db.transaction() as s:
        assert verify_password(PASSWORD, s.get(User, c["owner_user_id"]).password_hash)
    # By the client's email, in XML.
    root = api.xml("UpdateClient", {"clientemail": "janet@example.com", "companyname": ""})
    assert text(root, "result") == "success" and text(root, "clientid") == str(cid)
    assert details(api, clientid=cid)["companyname"] == ""
    rows = audit_rows(db, "client.updated")
    assert len(rows) == 2 and all(r.target == f"client:{cid}" and r.ip_address == "127.0.0.1" for r in rows)
    assert rows[0].details["fields"] == ["companyname", "email", "firstname", "language", "lastname"]
    assert_no_secret(audit_rows(db), PASSWORD, "ignored-since-whmcs-8", api.cred.secret)
    # Nothing changed: success, and no audit row.
    api.ok("UpdateClient", {"clientid": str(cid), "firstname": "Janet"})
    assert len(audit_rows(db, "client.updated")) == 2


def test_update_client_email_verified(api, db):
    cid = add(api)["clientid"]

    def update(**params: str) -> bool:
        api.ok("UpdateClient", {"clientid": str(cid), **params})
        return bool(details(api, clientid=cid)["email_verified"])

    assert update(email_verified="1") is True
    assert audit_rows(db, "client.updated")[-1].details["fields"] == ["email_verified"]
    assert update(firstname="Janet") is True  # other fields leave it be
    assert update(email="janet@example.com") is False  # a new address is not verified
    assert update(email="jan@example.com", email_verified="1") is True  # unless the caller says it is
    assert audit_rows(db, "client.updated")[-1].details["fields"] == ["email", "email_verified"]
    assert update(email_verified="0") is False


UPDATE_ERRORS = [
    ({}, "Either clientid Or clientemail Is Required"),
    ({"firstname": "X"}, "Either clientid Or clientemail Is Required"),
    ({"clientid": "999"}, "Client ID Not Found"),
    ({"clientid": "99999999999"}, "Client ID Not Found"),
    ({"clientemail": "nobody@example.com"}, "Client ID Not Found"),
    ({"clientid": "1x"}, "The clientid parameter must be a whole number."),
    ({"clientid": "{id}", "firstname": ""}, "You did not enter your first name"),
    ({"clientid": "{id}", "lastname": " "}, "You did not enter your last name"),
    ({"clientid": "{id}", "email": ""}, "You did not enter your email address"),
    ({"clientid": "{id}", "email": "nope"}, "The email address entered is not valid"),
    ({"clientid": "{id}", "email": "Taken@example.com"}, "Duplicate Email Address"),
    ({"clientid": "{id}", "firstname": "F" * 101}, "First name must be at most 100 characters."),
    ({"clientid": "{id}", "status": "Deleted"}, "Invalid status: it must be one of Active, Inactive, Closed."),
    ({"clientid": "{id}", "allowSingleSignOn": "maybe"},
     "The allowSingleSignOn parameter must be 1 or 0 (true or false)."),
    ({"clientid": "{id}", "firstname": "Changed", "language": "??"},
     "Invalid language: give a language name such as english, or a tag such as en."),
    ({"clientid": "{id}", "firstname": "Changed", "companyname": "C" * 256},
     "Company name must be at most 255 characters."),
    ({"clientid": "{id}", "email_verified": "maybe"}, "The email_verified parameter must be 1 or 0 (true or false)."),
]


@pytest.mark.parametrize(("params", "message"), UPDATE_ERRORS)
def test_update_client_errors_write_nothing(api, db, make_account, params, message):
    cid = add(api)["clientid"]
    make_account(email="taken@example.com")
    before = details(api, clientid=cid)
    params = {k: v.replace("{id}", str(cid)) for k, v in params.items()}
    assert api.error("UpdateClient", params) == message
    assert text(api.xml("UpdateClient", params), "message") == message
    assert details(api, clientid=cid) == before
    assert audit_rows(db, "client.updated") == []


def _login_and_token(api: Api, acct_email: str, make_credential: Any) -> tuple[Any, str]:
    cred = make_credential()
    verifier = "w" * 64
    url = "/oauth/authorize.php?" + urlencode({
        "response_type": "code", "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
        "scope": "openid email", "state": "s", "code_challenge": pkce.s256(verifier),
        "code_challenge_method": "S256"})
    r = authorize(api.http, url, acct_email, PASSWORD)
    assert r.status_code in (302, 303), r.text
    code = query_of(r.headers["location"])["code"]
    tok = api.http.post("/oauth/token.php", data={"grant_type": "authorization_code", "code": code,
                                                   "redirect_uri": cred.redirect_uri, "code_verifier": verifier},
                        auth=(cred.client_id, cred.client_secret))
    assert tok.status_code == 200, tok.text
    return cred, tok.json()["access_token"]


def test_allow_single_sign_on_takes_effect_at_once(api, db):
    cid = add(api)["clientid"]
    minted = api.ok("CreateSsoToken", {"client_id": str(cid)})
    body = api.ok("UpdateClient", {"clientid": str(cid), "allowSingleSignOn": "0"})
    assert body["clientid"] == cid
    assert details(api, clientid=cid)["allowSingleSignOn"] == 0
    # A token minted before the change is refused now, and no new one is made.
    r = api.http.get(minted["redirect_url"])
    assert r.status_code == 403 and "denied per configuration" in r.text
    assert api.error("CreateSsoToken", {"client_id": str(cid)}) == f"SSO authentication blocked for client {cid}"
    [row] = audit_rows(db, "client.updated")
    assert row.details == {"fields": ["allowSingleSignOn"], "allowSingleSignOn": 0}
    api.ok("UpdateClient", {"clientid": str(cid), "allowSingleSignOn": "true"})
    assert details(api, clientid=cid)["allowSingleSignOn"] == 1
    again = api.ok("CreateSsoToken", {"client_id": str(cid)})
    assert api.http.get(again["redirect_url"]).status_code == 303


def test_status_closed_takes_effect_at_once_and_active_restores_login(api, db, make_credential):
    cid = add(api)["clientid"]
    cred, access = _login_and_token(api, "jane@example.com", make_credential)
    bearer = {"Authorization": "Bearer " + access}
    assert api.http.get("/oauth/userinfo.php", headers=bearer).status_code == 200
    minted = api.ok("CreateSsoToken", {"client_id": str(cid)})
    api.ok("UpdateClient", {"clientid": str(cid), "status": "Closed"})
    assert details(api, clientid=cid)["status"] == "Closed"
    assert api.http.get("/oauth/userinfo.php", headers=bearer).status_code == 401
    r = api.http.get(minted["redirect_url"])
    assert r.status_code == 403 and "denied for" in r.text and "Closed" in r.text
    [row] = audit_rows(db, "client.updated")
    assert row.details["status"] == "Closed"
    api.ok("UpdateClient", {"clientid": str(cid), "status": "Active"})
    api.http.cookies.clear()
    _login_and_token(api, "jane@example.com", make_credential)


# -- CloseClient ---------------------------------------------------------------------------------------


def test_close_client(api, db, make_service, make_credential):
    cid = add(api)["clientid"]
    active = make_service(cid)
    done = make_service(cid, product="Old", status="Terminated")
    with db.transaction() as s:
        s.add(Invoice(client_id=cid, total="9.99", status="Unpaid"))
        s.add(Invoice(client_id=cid, total="5.00", status="Paid"))
    _, access = _login_and_token(api, "jane@example.com", make_credential)
    body = api.ok("CloseClient", {"clientid": str(cid)})
    assert body == {"result": "success", "clientid": cid}
    assert details(api, clientid=cid)["status"] == "Closed"
    assert api.http.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + access}).status_code == 401
    with db.transaction() as s:
        assert s.get(Service, active).status == "Cancelled" and s.get(Service, done).status == "Terminated"
        assert sorted(i.status for i in s.query(Invoice).filter_by(client_id=cid)) == ["Cancelled", "Paid"]
    [row] = audit_rows(db, "client.closed")
    assert row.target == f"client:{cid}" and row.ip_address == "127.0.0.1"
    assert row.actor == f"api:apiadmin:{api.cred.identifier[:8]}" and row.details["previous_status"] == "Active"
    # Closing again is harmless; in XML.
    root = api.xml("CloseClient", {"clientid": str(cid)})
    assert text(root, "result") == "success" and text(root, "clientid") == str(cid)


@pytest.mark.parametrize(("params", "message"), [
    ({}, "Client ID Not Found"),
    ({"clientid": "999"}, "Client ID Not Found"),
    ({"clientid": "99999999999"}, "Client ID Not Found"),
    ({"clientid": "one"}, "The clientid parameter must be a whole number."),
])
def test_close_client_errors(api, db, params, message):
    cid = add(api)["clientid"]
    assert api.error("CloseClient", params) == message
    assert text(api.xml("CloseClient", params), "message") == message
    assert details(api, clientid=cid)["status"] == "Active"
    assert audit_rows(db, "client.closed") == []


# -- GetClientsProducts --------------------------------------------------------------------------------


def test_get_clients_products(api, make_service):
    a = add(api)["clientid"]
    b = add(api, email="b@example.com")["clientid"]
    s1 = make_service(a, product="Starter", domain="one.example.com", username="one")
    s2 = make_service(a, product="Plus", domain="two.example.com", username="two", status="Suspended")
    s3 = make_service(b, product="Starter", domain="three.example.com")
    body = api.ok("GetClientsProducts", {"clientid": str(a)})
    assert (body["clientid"], body["serviceid"], body["pid"], body["domain"]) == (a, None, None, None)
    assert (body["totalresults"], body["startnumber"], body["numreturned"]) == (2, 0, 2)
    first, second = body["products"]["product"]
    assert first["id"] == s1 and first["clientid"] == a and first["name"] == "Starter"
    assert first["domain"] == "one.example.com" and first["username"] == "one" and first["status"] == "Active"
    assert first["password"] == "" and first["customfields"] == {"customfield": []}
    assert first["configoptions"] == {"configoption": []} and len(first["regdate"]) == 10
    assert second["status"] == "Suspended"

    def ids(**params: str) -> list[int]:
        return [p["id"] for p in api.ok("GetClientsProducts", params)["products"]["product"]]

    assert ids() == [s1, s2, s3]
    assert ids(serviceid=str(s2)) == [s2]
    assert ids(serviceid="99999999999") == []
    assert ids(domain="THREE.example.com") == [s3]
    assert ids(username2="two") == [s2]
    assert ids(clientid=str(b), serviceid=str(s1)) == []
    page = api.ok("GetClientsProducts", {"limitstart": "1", "limitnum": "1"})
    assert (page["totalresults"], page["startnumber"], page["numreturned"]) == (3, 1, 1)
    assert page["products"]["product"][0]["id"] == s2
    assert api.ok("GetClientsProducts", {"domain": "one.example.com"})["domain"] == "one.example.com"


def test_get_clients_products_in_xml(api, make_service):
    a = add(api)["clientid"]
    s1 = make_service(a, domain="one.example.com")
    s2 = make_service(a, domain="two.example.com")
    root = api.xml("GetClientsProducts", {"clientid": str(a)})
    assert text(root, "result") == "success" and text(root, "totalresults") == "2"
    products = root.findall("products/product")
    assert [text(p, "id") for p in products] == [str(s1), str(s2)]
    assert text(products[1], "domain") == "two.example.com"


@pytest.mark.parametrize(("params", "message"), [
    ({"clientid": "999"}, "Client ID Not Found"),
    ({"clientid": "abc"}, "The clientid parameter must be a whole number."),
    ({"serviceid": "1.5"}, "The serviceid parameter must be a whole number."),
    ({"limitnum": "5000"}, "The limitnum parameter must be between 1 and 1000."),
    ({"domain": "d" * 256}, "The domain parameter must be at most 255 characters."),
])
def test_get_clients_products_errors(api, params, message):
    add(api)
    assert api.error("GetClientsProducts", params) == message
    assert text(api.xml("GetClientsProducts", params), "message") == message
