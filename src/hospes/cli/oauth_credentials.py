"""``hospes oauth-credentials create|list|update|delete``: the operations of ``hospes.oauth.credentials``
(the admin API's and the admin pages' too), which check the input and record the audit entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hospes.cli.common import ACTOR, JsonOpt, emit, fail, run, settings

creds_app = typer.Typer(no_args_is_help=True, help="OAuth credentials (OAuth clients).")

GRANT_HELP = ("Repeatable: authorization_code, refresh_token, single_sign_on (alone), client_credentials, "
              "urn:ietf:params:oauth:grant-type:device_code, urn:ietf:params:oauth:grant-type:token-exchange.")
METHOD_HELP = ("How the client authenticates: client_secret_basic, client_secret_post, client_secret_jwt, "
               "private_key_jwt (no secret; needs --jwks or --jwks-uri) or none (public). Default: a secret by "
               "Basic or the form; none with --public.")


def _jwks_file(path: str | None) -> str | None:
    """The JSON text of a JWK Set file (--jwks FILE); "" stays "" (update: remove the keys)."""
    if not path:
        return path
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read the JWK Set file {path}: {exc.__class__.__name__}")


def _secret_key() -> bytes:
    """The server's secret key, which seals a client_secret_jwt credential's secret."""
    from hospes.config import ensure_secret_key

    return ensure_secret_key(settings()).encode()


@creds_app.command("create")
def creds_create(
    grant_type: Annotated[list[str], typer.Option("--grant-type", help=GRANT_HELP)],
    scope: Annotated[str, typer.Option(help='Space separated, e.g. "openid profile email"')],
    name: Annotated[str, typer.Option()] = "",
    service_id: Annotated[int | None, typer.Option("--service-id")] = None,
    description: Annotated[str, typer.Option()] = "",
    logo_uri: Annotated[str, typer.Option("--logo-uri")] = "",
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri", help="Repeatable.")] = None,
    post_logout_redirect_uri: Annotated[list[str] | None, typer.Option("--post-logout-redirect-uri")] = None,
    public: Annotated[bool, typer.Option("--public", help="No secret; PKCE required.")] = False,
    refresh_token_policy: Annotated[str, typer.Option("--refresh-tokens",
                                                      help="offline_access, always or never")] = "offline_access",
    id_token_alg: Annotated[str, typer.Option("--id-token-alg", help="RS256 or ES256")] = "RS256",
    backchannel_logout_uri: Annotated[str | None, typer.Option(
        "--backchannel-logout-uri", help="Where logout tokens are POSTed (OIDC Back-Channel Logout).")] = None,
    backchannel_logout_session_required: Annotated[bool, typer.Option(
        "--backchannel-logout-session-required", help="Every logout token names the session (sid).")] = False,
    token_endpoint_auth_method: Annotated[str | None, typer.Option(
        "--token-endpoint-auth-method", help=METHOD_HELP)] = None,
    jwks_uri: Annotated[str | None, typer.Option(
        "--jwks-uri", help="An https URL of the client's public keys (private_key_jwt, request objects).")] = None,
    jwks: Annotated[str | None, typer.Option(
        "--jwks", metavar="FILE", help="A file holding the client's public JWK Set (instead of --jwks-uri).")] = None,
    dpop_bound: Annotated[bool, typer.Option(
        "--dpop-bound", help="Its access tokens must be DPoP-bound (RFC 9449).")] = False,
    require_par: Annotated[bool, typer.Option(
        "--require-par", help="Its authorization requests must be pushed first (RFC 9126).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an OAuth credential; the secret is shown once."""
    from hospes.oauth import credentials

    company = settings().company_name
    jwks_text = _jwks_file(jwks)
    secret_key = _secret_key() if token_endpoint_auth_method == "client_secret_jwt" else None
    made = run(lambda s: credentials.create(
        s, grant_type=grant_type, scope=scope, name=name, service_id=service_id, description=description,
        logo_uri=logo_uri, redirect_uris=list(redirect_uri or []), public=public,
        post_logout_redirect_uris=list(post_logout_redirect_uri or []),
        refresh_token_policy=refresh_token_policy, id_token_signed_response_alg=id_token_alg, company=company,
        actor=ACTOR, backchannel_logout_uri=backchannel_logout_uri,
        backchannel_logout_session_required=backchannel_logout_session_required,
        token_endpoint_auth_method=token_endpoint_auth_method, jwks=jwks_text, jwks_uri=jwks_uri,
        dpop_bound=dpop_bound, require_par=require_par, secret_key=secret_key))
    data = {"credentialId": made.credential_id, "clientIdentifier": made.client_identifier,
            "clientSecret": made.client_secret}
    if made.client_secret:
        kept = ("it is stored sealed, for client_secret_jwt" if token_endpoint_auth_method == "client_secret_jwt"
                else "it is stored only as a hash")
        how = f"  Client Secret: {made.client_secret}\n  (shown once: {kept})"
    elif token_endpoint_auth_method == "private_key_jwt":
        how = "  No secret: the client authenticates with a JWT signed by its own key (private_key_jwt)."
    else:
        how = "  Public client: no secret; PKCE is required."
    emit(data, as_json, f"Created credential {made.credential_id}\n  Client ID:     {made.client_identifier}\n" + how)


@creds_app.command("list")
def creds_list(
    grant_type: Annotated[str | None, typer.Option("--grant-type")] = None,
    sort_field: Annotated[str | None, typer.Option("--sort-field")] = None,
    sort_order: Annotated[str | None, typer.Option("--sort-order")] = None,
    limit: Annotated[int | None, typer.Option()] = None,
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
    credential_id: Annotated[int | None, typer.Option("--credential-id")] = None,
    client_identifier: Annotated[str | None, typer.Option("--client-identifier")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    grant_type: Annotated[list[str] | None, typer.Option(
        "--grant-type", help=GRANT_HELP + " Replaces the list.")] = None,
    scope: Annotated[str | None, typer.Option()] = None,
    service_id: Annotated[int | None, typer.Option("--service-id")] = None,
    logo_uri: Annotated[str | None, typer.Option("--logo-uri")] = None,
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri")] = None,
    post_logout_redirect_uri: Annotated[list[str] | None, typer.Option("--post-logout-redirect-uri")] = None,
    refresh_token_policy: Annotated[str | None, typer.Option("--refresh-tokens")] = None,
    id_token_alg: Annotated[str | None, typer.Option("--id-token-alg")] = None,
    backchannel_logout_uri: Annotated[str | None, typer.Option(
        "--backchannel-logout-uri", help='Where logout tokens are POSTed; "" removes it.')] = None,
    backchannel_logout_session_required: Annotated[bool | None, typer.Option(
        "--backchannel-logout-session-required/--no-backchannel-logout-session-required")] = None,
    token_endpoint_auth_method: Annotated[str | None, typer.Option(
        "--token-endpoint-auth-method", help=METHOD_HELP + " A public client stays public.")] = None,
    jwks_uri: Annotated[str | None, typer.Option(
        "--jwks-uri", help='The https URL of the client\'s public keys; "" removes it.')] = None,
    jwks: Annotated[str | None, typer.Option(
        "--jwks", metavar="FILE", help='A file holding the client\'s public JWK Set; "" removes it.')] = None,
    dpop_bound: Annotated[bool | None, typer.Option("--dpop-bound/--no-dpop-bound")] = None,
    require_par: Annotated[bool | None, typer.Option("--require-par/--no-require-par")] = None,
    reset_secret: Annotated[bool, typer.Option("--reset-secret")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change an OAuth credential; --reset-secret makes the old secret stop working at once. Moving a client
    from private_key_jwt to a secret gives it a new secret (shown once)."""
    from hospes.oauth import credentials

    fields: dict[str, Any] = {key: value for key, value in (
        ("name", name), ("description", description), ("grant_type", grant_type or None), ("scope", scope),
        ("service_id", service_id), ("logo_uri", logo_uri), ("refresh_token_policy", refresh_token_policy),
        ("id_token_signed_response_alg", id_token_alg), ("backchannel_logout_uri", backchannel_logout_uri),
        ("backchannel_logout_session_required", backchannel_logout_session_required),
        ("token_endpoint_auth_method", token_endpoint_auth_method), ("jwks_uri", jwks_uri),
        ("jwks", _jwks_file(jwks)), ("dpop_bound", dpop_bound), ("require_par", require_par)) if value is not None}
    if reset_secret or token_endpoint_auth_method is not None:
        fields["secret_key"] = _secret_key()
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
    credential_id: Annotated[int, typer.Option("--credential-id")],
    as_json: JsonOpt = False,
) -> None:
    """Delete an OAuth credential and revoke every token and consent issued to it."""
    from hospes.oauth import credentials

    run(lambda s: credentials.delete_credential(s, credentials.find(s, credential_id=credential_id), actor=ACTOR))
    emit({"credentialId": credential_id}, as_json, f"Deleted credential {credential_id}.")
