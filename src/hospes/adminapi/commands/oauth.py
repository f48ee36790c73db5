"""ListOAuthCredentials, CreateOAuthCredential, UpdateOAuthCredential, DeleteOAuthCredential.

Parameters, fields and messages: https://developers.whmcs.com/api-reference/listoauthcredentials/,
…/createoauthcredential/, …/updateoauthcredential/ and …/deleteoauthcredential/. The rules and the audit
entries live in ``hospes.oauth.credentials``; this module only maps WHMCS's parameter names onto them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hospes.adminapi.commands.params import TRUE
from hospes.adminapi.dispatch import ApiError, Call, command
from hospes.oauth import credentials
from hospes.oauth.credentials import CredentialError


def _extra(call: Call) -> dict[str, Any]:
    """Hospes's extra fields (not WHMCS's): backchannelLogoutUri ("" removes it) and
    backchannelLogoutSessionRequired (OpenID Connect Back-Channel Logout 1.0 §2.2); grantTypes (several,
    space separated or grantTypes[]; instead of grantType's one), tokenEndpointAuthMethod, jwks (JSON
    text), jwksUri ("" removes either), dpopBound and requirePar; the server's secret key, which seals a
    client_secret_jwt client's secret."""
    fields: dict[str, Any] = {"secret_key": call.provider.secret_key}
    if "backchannelLogoutUri" in call.params:
        fields["backchannel_logout_uri"] = call.get("backchannelLogoutUri") or ""
    for param, key in (("backchannelLogoutSessionRequired", "backchannel_logout_session_required"),
                       ("dpopBound", "dpop_bound"), ("requirePar", "require_par")):
        if param in call.params:
            fields[key] = (call.get(param) or "").lower() in TRUE
    for param, key in (("tokenEndpointAuthMethod", "token_endpoint_auth_method"), ("jwks", "jwks"),
                       ("jwksUri", "jwks_uri")):
        if param in call.params:
            fields[key] = call.get(param) or ""
    if call.has("grantTypes"):
        fields["grant_type"] = call.list("grantTypes")
    return fields


def _redirects(call: Call) -> list[str] | None:
    if not call.has("redirectUri"):
        return None
    return call.list("redirectUri")


@command("ListOAuthCredentials")
def list_oauth_credentials(s: Session, call: Call) -> dict[str, Any]:
    try:
        rows = credentials.list_credentials(s, grant_type=call.get("grantType"), sort_field=call.get("sortField"),
                                            sort_order=call.get("sortOrder"), limit=call.get("limit"))
    except CredentialError as exc:
        raise ApiError(str(exc)) from None
    return {"clients": [credentials.to_whmcs(c) for c in rows]}


@command("CreateOAuthCredential")
def create_oauth_credential(s: Session, call: Call) -> dict[str, Any]:
    try:
        fields = {"grant_type": call.get("grantType") or call.get("granttype"), **_extra(call)}
        made = credentials.create(
            s, scope=call.get("scope"), name=call.get("name"), service_id=call.get("serviceId"),
            description=call.get("description"), logo_uri=call.get("logoUri"), redirect_uris=_redirects(call),
            company=call.provider.settings.company_name, actor=call.actor, ip=call.ip, **fields,
        )
    except CredentialError as exc:
        raise ApiError(str(exc)) from None
    return {"credentialId": made.credential_id, "clientIdentifier": made.client_identifier,
            "clientSecret": made.client_secret}


@command("UpdateOAuthCredential")
def update_oauth_credential(s: Session, call: Call) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for param, key in (("name", "name"), ("description", "description"), ("grantType", "grant_type"),
                       ("scope", "scope"), ("serviceId", "service_id")):
        if param in call.params:
            fields[key] = call.params[param]
    if call.has("logoUri"):
        logo = call.list("logoUri")  # WHMCS documents it as string[]; take the first.
        fields["logo_uri"] = logo[0] if logo else ""
    redirects = _redirects(call)
    if redirects is not None:
        fields["redirect_uris"] = redirects
    fields.update(_extra(call))
    reset = (call.get("resetSecret") or "").lower() in TRUE
    try:
        cred = credentials.find(s, credential_id=call.get("credentialId"),
                                identifier=call.get("clientApiIdentifier"))
        secret = credentials.update_credential(s, cred, reset_secret=reset, actor=call.actor, ip=call.ip,
                                               **fields)
    except CredentialError as exc:
        raise ApiError(str(exc)) from None
    body: dict[str, Any] = {"credentialId": cred.id}
    if secret:
        body["newClientSecret"] = secret
    return body


@command("DeleteOAuthCredential")
def delete_oauth_credential(s: Session, call: Call) -> dict[str, Any]:
    raw = call.get("credentialId")
    if raw in (None, ""):
        raise ApiError("Invalid Credential ID provided.")
    try:
        cred = credentials.find(s, credential_id=raw)
    except CredentialError as exc:
        raise ApiError(str(exc)) from None
    cid = cred.id
    credentials.delete_credential(s, cred, actor=call.actor, ip=call.ip)
    return {"credentialId": cid}
