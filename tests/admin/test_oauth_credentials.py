"""OpenID Connect credentials by hand: create, see the secret once, edit, reset, delete, and use them."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from sqlalchemy import select

from hospes.oauth import pkce
from hospes.store.models import OAuthCredential
from tests.admin import FULL, OIDC, admin_session, audit_rows, csrf_token, multi, post, text_of
from tests.browserless import authorize, query_of

RP1 = "https://rp.example.com/cb"
RP2 = "https://rp.example.com/other"


def _credentials(db) -> list[OAuthCredential]:
    with db.transaction() as s:
        return list(s.scalars(select(OAuthCredential).order_by(OAuthCredential.id)))


def _token(client, cred_id: str, secret: str, code: str = "nope", redirect_uri: str = RP1):
    return client.post("/oauth/token.php", auth=(cred_id, secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})


def _create(client, **fields):
    data = [("name", "My App"), ("description", "A relying party"), ("logo_uri", ""),
            ("redirect_uri", RP1), ("redirect_uri", RP2), ("scope", "openid"), ("scope", "profile"),
            ("scope", "email"), ("op", "save")]
    if fields:
        data = [(k, v) for k, v in data if k not in fields] + [
            (k, x) for k, v in fields.items() for x in (v if isinstance(v, list) else [v])]
    return post(client, "/admin/oauth/new", data)


def test_list_page_wording(client, db, make_credential):
    admin_session(client, db, permissions=OIDC)
    make_credential(name="Existing App")
    r = client.get("/admin/oauth")
    assert r.status_code == 200
    assert "Generate New Client API Credentials" in r.text
    assert "Existing App" in r.text and ">Manage</a>" in r.text
    form = client.get("/admin/oauth/new").text
    for label in ("Name (required)", "Description", "Logo URL", "Authorized Redirect URIs", "Add Another",
                  "Remove", "Generate Credentials"):
        assert label in form
    assert '<label for="redirect_uri_1">' in form


def test_add_another_and_remove_rows_without_javascript(client, db):
    admin_session(client, db, permissions=OIDC)
    r = post(client, "/admin/oauth/new", [("name", "Typed"), ("redirect_uri", RP1), ("scope", "openid"),
                                           ("op", "add")])
    assert r.status_code == 200
    assert r.text.count('name="redirect_uri"') == 2
    assert f'value="{RP1}"' in r.text and 'value="Typed"' in r.text
    assert _credentials(db) == []
    token = csrf_token(r.text)
    r = client.post("/admin/oauth/new", data=multi([("token", token), ("name", "Typed"), ("redirect_uri", RP1),
                                                    ("redirect_uri", RP2), ("redirect_uri", ""), ("op", "remove:0")]))
    assert r.status_code == 200
    assert r.text.count('name="redirect_uri"') == 2
    assert f'value="{RP1}"' not in r.text and f'value="{RP2}"' in r.text
    assert _credentials(db) == []


def test_validation_errors_keep_what_was_typed(client, db):
    admin_session(client, db, permissions=OIDC)
    r = _create(client, name="", description="kept description")
    assert r.status_code == 400
    assert "A name for the Client Credential is required." in r.text
    assert "kept description" in r.text and f'value="{RP2}"' in r.text
    r = _create(client, redirect_uri=["http://rp.example.com/cb"])
    assert r.status_code == 400 and "must use https" in r.text
    r = _create(client, redirect_uri=["https://rp.example.com/cb#frag"])
    assert r.status_code == 400 and "The redirect URI must not contain a fragment" in r.text
    r = _create(client, redirect_uri=[RP1, RP1])
    assert r.status_code == 400 and "listed twice" in r.text
    assert _credentials(db) == []
    assert audit_rows(db, "oauth_credential.created") == []


def test_create_without_csrf_is_refused(client, db):
    admin_session(client, db, permissions=OIDC)
    r = client.post("/admin/oauth/new", data={"name": "X", "redirect_uri": RP1, "scope": "openid", "op": "save"})
    assert r.status_code == 403 and "Nothing was changed" in r.text
    assert _credentials(db) == []


def test_full_lifecycle_by_hand(client, db):
    admin_session(client, db, "olivia", OIDC)

    # Create with two redirect URIs: the manage page shows the Client ID and the secret, once.
    r = _create(client)
    assert r.status_code == 201, r.text
    client_id, secret = text_of(r.text, "client-id"), text_of(r.text, "client-secret")
    assert client_id and client_id.startswith("HOSPES.") and secret and len(secret) >= 40
    (cred,) = _credentials(db)
    assert cred.redirect_uris == [RP1, RP2] and cred.scope == "openid profile email" and cred.name == "My App"
    assert cred.identifier == client_id
    assert secret.encode() not in (cred.secret_hash or b"")
    manage = client.get(f"/admin/oauth/{cred.id}")
    assert manage.status_code == 200
    assert client_id in manage.text and secret not in manage.text and text_of(manage.text, "client-secret") is None
    # The secret works at the token endpoint (the code is wrong, but the client is authenticated).
    assert _token(client, client_id, secret).json()["error"] == "invalid_grant"

    # Edit: change the name and drop a redirect URI.
    r = post(client, f"/admin/oauth/{cred.id}", [("name", "Renamed App"), ("description", "d2"),
                                                  ("logo_uri", "/logo.png"), ("redirect_uri", RP2),
                                                  ("scope", "openid"), ("scope", "email"), ("op", "save")])
    assert r.status_code == 303 and r.headers["location"] == f"/admin/oauth/{cred.id}?done=saved"
    (cred,) = _credentials(db)
    assert (cred.name, cred.description, cred.logo_uri, cred.redirect_uris, cred.scope) == (
        "Renamed App", "d2", "/logo.png", [RP2], "openid email")
    assert "Your changes were saved." in client.get(r.headers["location"]).text
    # An invalid edit changes nothing and shows the message over what was typed.
    r = post(client, f"/admin/oauth/{cred.id}", [("name", "Half"), ("redirect_uri", "not a uri"),
                                                  ("scope", "openid"), ("op", "save")])
    assert r.status_code == 400 and 'value="Half"' in r.text
    assert _credentials(db)[0].name == "Renamed App"

    # Reset: a confirmation step first, then the new secret once; the old one fails at once.
    ask = client.get(f"/admin/oauth/{cred.id}/reset")
    assert ask.status_code == 200
    assert "The previous secret will immediately become invalid. Continue?" in ask.text
    assert ">OK</button>" in ask.text and ">Cancel</a>" in ask.text
    assert client.post(f"/admin/oauth/{cred.id}/reset", data={}).status_code == 403
    assert _token(client, client_id, secret).json()["error"] == "invalid_grant"
    r = client.post(f"/admin/oauth/{cred.id}/reset", data={"token": csrf_token(ask.text)})
    assert r.status_code == 200
    new_secret = text_of(r.text, "client-secret")
    assert new_secret and new_secret != secret
    old = _token(client, client_id, secret)
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    assert _token(client, client_id, new_secret).json()["error"] == "invalid_grant"
    assert new_secret not in client.get(f"/admin/oauth/{cred.id}").text

    # Delete: a confirmation step, then gone.
    ask = client.get(f"/admin/oauth/{cred.id}/delete")
    assert ask.status_code == 200 and "Continue?" in ask.text
    assert client.post(f"/admin/oauth/{cred.id}/delete", data={"token": "bad"}).status_code == 403
    assert len(_credentials(db)) == 1
    r = client.post(f"/admin/oauth/{cred.id}/delete", data={"token": csrf_token(ask.text)})
    assert r.status_code == 303 and r.headers["location"] == "/admin/oauth?done=deleted"
    assert _credentials(db) == []
    assert client.get(f"/admin/oauth/{cred.id}").status_code == 404
    assert _token(client, client_id, new_secret).json()["error"] == "invalid_client"

    # Every step is audited as this admin, with the target and the address, and never a secret.
    target = f"oauth_credential:{cred.id}"
    steps = [(e.action, e.actor, e.target, e.ip_address) for e in audit_rows(db)
             if e.action.startswith("oauth_credential.")]
    assert steps == [(a, "admin:olivia", target, "testclient") for a in (
        "oauth_credential.created", "oauth_credential.updated", "oauth_credential.secret_reset",
        "oauth_credential.deleted")]
    updated = audit_rows(db, "oauth_credential.updated")[0]
    assert updated.details["fields"] == ["description", "logo_uri", "name", "redirect_uris", "scope"]
    for e in audit_rows(db):
        assert secret not in str(e.details) and new_secret not in str(e.details)


def test_admin_created_credential_completes_a_code_flow(client, db, make_account):
    admin_session(client, db, permissions=FULL)
    r = _create(client, scope=["openid", "email", "offline_access"])
    client_id, secret = text_of(r.text, "client-id"), text_of(r.text, "client-secret")
    acct = make_account()
    verifier = "w" * 64
    url = (f"/oauth/authorize.php?response_type=code&client_id={client_id}&redirect_uri={quote(RP2, safe='')}"
           f"&scope=openid%20email%20offline_access&state=st&nonce=n&code_challenge={pkce.s256(verifier)}"
           "&code_challenge_method=S256")
    r = authorize(client, url, acct.email, acct.password)
    assert r.status_code == 303, r.text
    q = query_of(r.headers["location"])
    assert r.headers["location"].startswith(RP2) and q["state"] == "st"
    tok = client.post("/oauth/token.php", auth=(client_id, secret), data={
        "grant_type": "authorization_code", "code": q["code"], "redirect_uri": RP2, "code_verifier": verifier})
    assert tok.status_code == 200, tok.text
    body = tok.json()
    assert "id_token" in body and "refresh_token" in body
    ui = client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + body["access_token"]})
    assert ui.status_code == 200 and ui.json()["email"] == acct.email


def test_secret_only_in_no_store_answers(client, db):
    admin_session(client, db, permissions=OIDC)
    r = _create(client)
    assert r.headers["cache-control"] == "no-store"
    assert re.search(r'id="client-secret"', r.text)


def test_unknown_credential_is_404(client, db):
    admin_session(client, db, permissions=OIDC)
    assert client.get("/admin/oauth/999").status_code == 404
    assert client.get("/admin/oauth/99999999999999").status_code == 404
    assert client.get("/admin/oauth/999/reset").status_code == 404


def test_a_self_registered_client_is_marked_and_can_be_deleted(client, db, make_credential):
    made = make_credential(name="Vetted App")
    r = client.post("/oauth/register", json={"redirect_uris": [RP1], "client_name": "Claims To Be Vetted"})
    assert r.status_code == 201, r.text
    info = r.json()
    admin_session(client, db, permissions=OIDC)
    listing = client.get("/admin/oauth").text
    row = listing[listing.index("Claims To Be Vetted"):]
    assert "Self-registered" in row[:row.index("</tr>")]
    vetted = listing[listing.index("Vetted App"):]
    assert "Self-registered" not in vetted[:vetted.index("</tr>")]
    cred = next(c for c in _credentials(db) if c.identifier == info["client_id"])
    assert cred.id != made.credential_id and cred.kind == "dynamic"
    page = client.get(f"/admin/oauth/{cred.id}").text
    assert "Self-registered" in page and "testclient" in page  # where it registered from

    ask = client.get(f"/admin/oauth/{cred.id}/delete")
    r = client.post(f"/admin/oauth/{cred.id}/delete", data={"token": csrf_token(ask.text)})
    assert r.status_code == 303
    assert [c.identifier for c in _credentials(db)] == [made.client_id]
    # Its registration went with it (RFC 7592 §2.1: an unknown client is 401).
    gone = client.get(urlsplit(info["registration_client_uri"]).path,
                      headers={"Authorization": f"Bearer {info['registration_access_token']}"})
    assert gone.status_code == 401


def test_a_client_known_by_its_metadata_document_is_marked(client, db):
    url = "https://desk.example.org/client.json"
    with db.transaction() as s:
        s.add(OAuthCredential(identifier=url, grant_type="authorization_code", scope="openid", name="Desk",
                              kind="metadata_document", redirect_uris=[RP1]))
    admin_session(client, db, permissions=OIDC)
    listing = client.get("/admin/oauth").text
    row = listing[listing.index("Desk"):]
    assert "Metadata document" in row[:row.index("</tr>")] and url in row
    cred = next(c for c in _credentials(db) if c.identifier == url)
    assert "client ID metadata document" in client.get(f"/admin/oauth/{cred.id}").text


def test_back_channel_logout_uri_by_hand_and_its_deliveries_listed(client, db):
    from bs4 import BeautifulSoup

    from hospes.clock import now
    from hospes.store import backchannel as deliveries

    admin_session(client, db, permissions=OIDC)
    r = _create(client, backchannel_logout_uri="http://rp.example.com/logout")
    assert r.status_code == 400 and "back-channel logout URI" in r.text
    r = _create(client, backchannel_logout_uri="https://rp.example.com/logout",
                backchannel_logout_session_required="yes")
    assert r.status_code == 201, r.text
    [cred] = _credentials(db)
    assert cred.backchannel_logout_uri == "https://rp.example.com/logout"
    assert cred.backchannel_logout_session_required is True
    page = client.get(f"/admin/oauth/{cred.id}")
    assert 'value="https://rp.example.com/logout"' in page.text
    assert "No logout token was sent to this application yet." in page.text

    with db.transaction() as s:
        deliveries.add(s, [deliveries.Listener(cred.id, "person", "the-session", True)])
        [due] = deliveries.claim(s, at=now(), lease_until=now(), limit=5, postgresql=False)
        deliveries.finish(s, due.id, status="pending", error="HTTP 500", retry_at=now())
    rows = BeautifulSoup(client.get(f"/admin/oauth/{cred.id}").text, "html.parser").select(
        "#backchannel-deliveries tbody tr")
    assert [[td.get_text(strip=True) for td in tr.find_all("td")][1:] for tr in rows] == [
        ["the-session", "pending", "1", "HTTP 500"]]

    # Emptied: the application gets no more logout tokens.
    r = post(client, f"/admin/oauth/{cred.id}", [("name", "My App"), ("redirect_uri", RP1), ("scope", "openid"),
                                                 ("backchannel_logout_uri", ""), ("op", "save")])
    assert r.status_code == 303
    [cred] = _credentials(db)
    assert cred.backchannel_logout_uri is None and cred.backchannel_logout_session_required is False


def test_require_par_is_a_checkbox_of_the_credential(client, db):
    admin_session(client, db, permissions=OIDC)
    r = _create(client, require_par="yes")
    assert r.status_code == 201, r.text
    [cred] = _credentials(db)
    assert cred.require_par is True
    assert 'id="require_par" name="require_par" value="yes" checked' in client.get(f"/admin/oauth/{cred.id}").text
    r = post(client, f"/admin/oauth/{cred.id}", [("name", "My App"), ("redirect_uri", RP1), ("scope", "openid"),
                                                 ("op", "save")])
    assert r.status_code == 303
    [cred] = _credentials(db)
    assert cred.require_par is False


def test_a_machine_clients_authentication_is_shown_and_its_secret_reset_as_its_method_needs(client, db, settings):
    import json as _json

    from joserfc.jwk import ECKey

    from hospes.config import ensure_secret_key
    from hospes.oauth import credentials

    admin_session(client, db, permissions=OIDC)
    jwks = {"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}
    with db.transaction() as s:
        keyed = credentials.create(s, grant_type=["client_credentials"], scope="openid", name="Billing job",
                                   token_endpoint_auth_method="private_key_jwt", jwks=_json.dumps(jwks))
        hmac = credentials.create(s, grant_type=["client_credentials"], scope="openid", name="Monitor",
                                  token_endpoint_auth_method="client_secret_jwt",
                                  secret_key=ensure_secret_key(settings).encode())
    page = client.get(f"/admin/oauth/{keyed.credential_id}").text
    assert "private_key_jwt; its keys registered" in text_of(page, "auth-method")
    assert "client_credentials" in text_of(page, "grant-types") and "/reset" not in page
    assert post(client, f"/admin/oauth/{keyed.credential_id}/reset", []).status_code == 400
    r = post(client, f"/admin/oauth/{hmac.credential_id}/reset", [])
    assert r.status_code == 200
    new = re.search(r'id="client-secret" class="secret">([^<]+)<', r.text)
    assert new and new.group(1) != hmac.client_secret
    with db.transaction() as s:
        sealed = s.get(OAuthCredential, hmac.credential_id).secret_sealed
    assert credentials.open_secret(ensure_secret_key(settings).encode(), hmac.client_identifier, sealed) == new.group(1)


def test_a_machine_client_is_made_in_the_admin_area_with_its_grant_types_keys_and_dpop(client, db):
    import json as _json

    from joserfc.jwk import ECKey

    admin_session(client, db, permissions=OIDC)
    page = client.get("/admin/oauth/new").text
    assert 'name="grant_type" value="client_credentials"' in page and 'name="token_endpoint_auth_method"' in page
    jwks = _json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]})
    r = _create(client, grant_type=["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
                token_endpoint_auth_method="private_key_jwt", jwks=jwks, dpop_bound="yes", redirect_uri=[])
    assert r.status_code == 201, r.text
    [cred] = _credentials(db)
    assert set(cred.grant_type.split()) == {"client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"}
    assert cred.token_endpoint_auth_method == "private_key_jwt" and cred.secret_hash is None
    assert cred.jwks == _json.loads(jwks) and cred.dpop_bound is True
    # Saving the manage form without pasting keys again keeps them; unticking DPoP is saved.
    r = post(client, f"/admin/oauth/{cred.id}", [("name", "Billing job"), ("scope", "openid"),
                                                 ("grant_type", "client_credentials"),
                                                 ("token_endpoint_auth_method", "private_key_jwt"), ("op", "save")])
    assert r.status_code == 303, r.text
    [cred] = _credentials(db)
    assert cred.grant_type == "client_credentials" and cred.jwks == _json.loads(jwks) and cred.dpop_bound is False


def test_a_bad_key_set_in_the_admin_form_is_refused_with_the_rule(client, db):
    admin_session(client, db, permissions=OIDC)
    r = _create(client, grant_type=["client_credentials"], token_endpoint_auth_method="private_key_jwt",
                jwks='{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', redirect_uri=[])
    assert r.status_code == 400 and _credentials(db) == []
