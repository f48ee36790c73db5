"""``hospes oauth-credentials create|list|update|delete``: the operations of ``hospes.oauth.credentials``
(the admin API's and the admin pages' too), which check the input and record the audit entries."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from hospes.cli.common import ACTOR, JsonOpt, emit, run, settings

creds_app = typer.Typer(no_args_is_help=True, help="OAuth credentials (OAuth clients).")


@creds_app.command("create")
def creds_create(
    grant_type: Annotated[str, typer.Option("--grant-type", help="authorization_code or single_sign_on")],
    scope: Annotated[str, typer.Option(help='Space separated, e.g. "openid profile email"')],
    name: Annotated[str, typer.Option(help="Customers see it on the consent page.")] = "",
    service_id: Annotated[int | None, typer.Option("--service-id", help="The service it belongs to (SSO).")] = None,
    description: Annotated[str, typer.Option(help="What the application is.")] = "",
    logo_uri: Annotated[str, typer.Option("--logo-uri", help="An image shown on the consent page.")] = "",
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri", help="Repeatable.")] = None,
    post_logout_redirect_uri: Annotated[list[str] | None, typer.Option(
        "--post-logout-redirect-uri", help="Repeatable: where /oauth/logout may send the person back.")] = None,
    public: Annotated[bool, typer.Option("--public", help="No secret; PKCE required.")] = False,
    refresh_token_policy: Annotated[str, typer.Option("--refresh-tokens",
                                                      help="offline_access, always or never")] = "offline_access",
    id_token_alg: Annotated[str, typer.Option("--id-token-alg", help="RS256 or ES256")] = "RS256",
    backchannel_logout_uri: Annotated[str | None, typer.Option(
        "--backchannel-logout-uri", help="Where logout tokens are POSTed (OIDC Back-Channel Logout).")] = None,
    backchannel_logout_session_required: Annotated[bool, typer.Option(
        "--backchannel-logout-session-required", help="Every logout token names the session (sid).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an OAuth credential; the secret is shown once."""
    from hospes.oauth import credentials

    company = settings().company_name
    made = run(lambda s: credentials.create(
        s, grant_type=grant_type, scope=scope, name=name, service_id=service_id, description=description,
        logo_uri=logo_uri, redirect_uris=list(redirect_uri or []), public=public,
        post_logout_redirect_uris=list(post_logout_redirect_uri or []),
        refresh_token_policy=refresh_token_policy, id_token_signed_response_alg=id_token_alg, company=company,
        actor=ACTOR, backchannel_logout_uri=backchannel_logout_uri,
        backchannel_logout_session_required=backchannel_logout_session_required))
    data = {"credentialId": made.credential_id, "clientIdentifier": made.client_identifier,
            "clientSecret": made.client_secret}
    text = (f"Created credential {made.credential_id}\n  Client ID:     {made.client_identifier}\n"
            + (f"  Client Secret: {made.client_secret}\n  (shown once: it is stored only as a hash)"
               if made.client_secret else "  Public client: no secret; PKCE is required."))
    emit(data, as_json, text)


@creds_app.command("list")
def creds_list(
    grant_type: Annotated[str | None, typer.Option("--grant-type", help="Only credentials of this grant type.")] = None,
    sort_field: Annotated[str | None, typer.Option("--sort-field", help="ListOAuthCredentials' sortField.")] = None,
    sort_order: Annotated[str | None, typer.Option("--sort-order", help="ASC or DESC.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List OAuth credentials (ListOAuthCredentials' fields; secrets are never listed)."""
    from hospes.oauth import credentials

    rows = run(lambda s: [credentials.to_whmcs(c) for c in credentials.list_credentials(
        s, grant_type=grant_type, sort_field=sort_field, sort_order=sort_order, limit=limit)])
    if as_json:
        typer.echo(json.dumps({"clients": rows}))
        return
    for r in rows:
        typer.echo(f"{r['credentialId']}\t{r['clientIdentifier']}\t{r['grantTypes']}\t{r['name']}\t{r['scope']}")


@creds_app.command("update")
def creds_update(
    credential_id: Annotated[int | None, typer.Option("--credential-id", help="The credential, by id...")] = None,
    client_identifier: Annotated[str | None, typer.Option("--client-identifier",
                                                          help="...or by its Client ID.")] = None,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    grant_type: Annotated[str | None, typer.Option("--grant-type", help="A new grant type.")] = None,
    scope: Annotated[str | None, typer.Option(help="The scopes, space separated (replacing the old).")] = None,
    service_id: Annotated[int | None, typer.Option("--service-id", help="The service it belongs to.")] = None,
    logo_uri: Annotated[str | None, typer.Option("--logo-uri", help="A new logo URL.")] = None,
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri",
                                                           help="Repeatable; replaces the list.")] = None,
    post_logout_redirect_uri: Annotated[list[str] | None, typer.Option(
        "--post-logout-redirect-uri", help="Repeatable; replaces the list.")] = None,
    refresh_token_policy: Annotated[str | None, typer.Option("--refresh-tokens",
                                                             help="offline_access, always or never")] = None,
    id_token_alg: Annotated[str | None, typer.Option("--id-token-alg", help="RS256 or ES256")] = None,
    backchannel_logout_uri: Annotated[str | None, typer.Option(
        "--backchannel-logout-uri", help='Where logout tokens are POSTed; "" removes it.')] = None,
    backchannel_logout_session_required: Annotated[bool | None, typer.Option(
        "--backchannel-logout-session-required/--no-backchannel-logout-session-required",
        help="Whether every logout token names the session (sid).")] = None,
    reset_secret: Annotated[bool, typer.Option("--reset-secret", help="A new secret, shown once.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change an OAuth credential; --reset-secret makes the old secret stop working at once."""
    from hospes.oauth import credentials

    fields: dict[str, Any] = {key: value for key, value in (
        ("name", name), ("description", description), ("grant_type", grant_type), ("scope", scope),
        ("service_id", service_id), ("logo_uri", logo_uri), ("refresh_token_policy", refresh_token_policy),
        ("id_token_signed_response_alg", id_token_alg), ("backchannel_logout_uri", backchannel_logout_uri),
        ("backchannel_logout_session_required", backchannel_logout_session_required)) if value is not None}
    if redirect_uri is not None:
        fields["redirect_uris"] = list(redirect_uri)
    if post_logout_redirect_uri is not None:
        fields["post_logout_redirect_uris"] = list(post_logout_redirect_uri)

    def change(s: Any) -> tuple[int, str | None]:
        cred = credentials.find(s, credential_id=credential_id, identifier=client_identifier)
        return cred.id, credentials.update_credential(s, cred, reset_secret=reset_secret, actor=ACTOR, **fields)

    cid, secret = run(change)
    data: dict[str, Any] = {"credentialId": cid}
    if secret:
        data["newClientSecret"] = secret
    emit(data, as_json, f"Updated credential {cid}." + (f"\n  New Client Secret: {secret}" if secret else ""))


@creds_app.command("delete")
def creds_delete(
    credential_id: Annotated[int, typer.Option("--credential-id", help="The credential's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Delete an OAuth credential and revoke every token and consent issued to it."""
    from hospes.oauth import credentials

    run(lambda s: credentials.delete_credential(s, credentials.find(s, credential_id=credential_id), actor=ACTOR))
    emit({"credentialId": credential_id}, as_json, f"Deleted credential {credential_id}.")
