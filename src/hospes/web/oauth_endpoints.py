"""OAuth 2 / OpenID Connect endpoints: discovery, JWKS, token, userinfo, revocation, introspection."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hospes.oauth import errors, introspection, token, userinfo
from hospes.oauth.discovery import document_json
from hospes.sso import grant as sso_grant
from hospes.web.context import web_of
from hospes.web.http import NO_STORE, error_response, json_response, parse_params, read_form

_discovery_cache: dict[str, bytes] = {}


async def discovery(request: Request) -> Response:
    issuer = web_of(request).provider.issuer
    body = _discovery_cache.get(issuer)
    if body is None:
        body = _discovery_cache[issuer] = document_json(issuer)
    return json_response(body, headers={"Cache-Control": "public, max-age=300",
                                        "Access-Control-Allow-Origin": "*"})


async def jwks(request: Request) -> Response:
    keys = web_of(request).provider.keys
    # The cached set is served straight from memory; only a due reload goes to the thread pool.
    body = keys.jwks_json() if keys.is_fresh() else await run_in_threadpool(keys.jwks_json)
    return Response(body, media_type="application/jwk-set+json",
                    headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})


def _client_error(exc: errors.OAuthError) -> Response:
    headers = {}
    if isinstance(exc, errors.InvalidClient) and exc.basic:
        # RFC 6749 §5.2
        headers["WWW-Authenticate"] = 'Basic realm="hospes", charset="UTF-8"'
    return error_response(exc, headers=headers)


async def token_endpoint(request: Request) -> Response:
    web = web_of(request)
    try:
        if request.method != "POST":
            raise errors.InvalidRequest("The token endpoint accepts POST only.")
        form = sso_grant.normalize(await read_form(request), parse_params(request.url.query))
        body = await run_in_threadpool(token.token_request, web.provider,
                                       request.headers.get("authorization"), form)
    except errors.OAuthError as exc:
        return _client_error(exc)
    return json_response(body, headers=NO_STORE)


def _bearer_error(exc: errors.OAuthError) -> Response:
    # RFC 6750 §3: the challenge names the error; with no token at all, no error code.
    if isinstance(exc, userinfo.MissingToken):
        return json_response({"error": "invalid_request", "error_description": "An access token is required."},
                             401, {**NO_STORE, "WWW-Authenticate": 'Bearer realm="hospes"'})
    challenge = f'Bearer realm="hospes", error="{exc.error}"'
    if exc.description:
        challenge += ', error_description="' + exc.description.replace('"', "'") + '"'
    status = exc.status_code if exc.status_code in (401, 403) else 400
    return json_response(exc.as_dict(), status, {**NO_STORE, "WWW-Authenticate": challenge})


async def userinfo_endpoint(request: Request) -> Response:
    web = web_of(request)
    try:
        form = await read_form(request, required=False)
        query = parse_params(request.url.query)
        tok = userinfo.extract_token(request.headers.get("authorization"), form.get("access_token", []),
                                     query.get("access_token", []))
        claims = await run_in_threadpool(userinfo.userinfo, web.provider, tok)
    except errors.OAuthError as exc:
        return _bearer_error(exc)
    return json_response(claims, headers={**NO_STORE, "Access-Control-Allow-Origin": "*"})


async def introspection_endpoint(request: Request) -> Response:
    web = web_of(request)
    try:
        if request.method != "POST":
            raise errors.InvalidRequest("The introspection endpoint accepts POST only.")
        form = await read_form(request)
        body = await run_in_threadpool(introspection.introspect, web.provider,
                                       request.headers.get("authorization"), form)
    except errors.OAuthError as exc:
        return _client_error(exc)
    return json_response(body, headers=NO_STORE)


async def revocation_endpoint(request: Request) -> Response:
    web = web_of(request)
    try:
        if request.method != "POST":
            raise errors.InvalidRequest("The revocation endpoint accepts POST only.")
        form = await read_form(request)
        await run_in_threadpool(introspection.revoke, web.provider, request.headers.get("authorization"), form)
    except errors.OAuthError as exc:
        return _client_error(exc)
    return Response(b"", status_code=200, headers=NO_STORE)
