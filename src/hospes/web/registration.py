"""Dynamic client registration over HTTP (RFC 7591 §3) and its management (RFC 7592 §2): parse the JSON and
the bearer token, call oauth/registration.py, answer JSON. The rules are all in the core.

``POST {issuer}/oauth/register`` registers; ``GET``/``PUT``/``DELETE {issuer}/oauth/register/{client_id}``
read, replace and delete a registration with its registration access token. With HOSPES_REGISTRATION=off
both answer 404, as if they did not exist. No cookie is read, so any origin may call them (CORS: a
browser-based client, such as an MCP inspector, registers itself too).
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hospes.accounts import throttle
from hospes.oauth import errors
from hospes.oauth import registration as core
from hospes.store.unavailable import is_unavailable
from hospes.web import failures
from hospes.web.context import Web, web_of
from hospes.web.http import NO_STORE, MalformedRequest, json_response, read_body

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE", "Access-Control-Max-Age": "600"}


# One window an hour per address (accounts/throttle.py: counted and taken under a lock, so a parallel burst gets
# exactly the limit through, on every node). Made at import, in every worker: admit prunes rows older than the
# longest window this process knows, so a worker that had not yet made it would cut the hour to 15 minutes.
PER_ADDRESS = throttle.Rule("registration", limit=10, window=3600)


@cache
def _rule(limit: int) -> throttle.Rule:
    return PER_ADDRESS if limit == PER_ADDRESS.limit else replace(PER_ADDRESS, limit=limit)


def _admit_for(web: Web) -> core.Admit:
    rule = _rule(web.settings.registration_limit)

    def admit(s: Session, address: str) -> int:
        return throttle.admit(s, [(rule, address)]).wait

    return admit


def _peek_for(web: Web) -> core.Admit:
    rule = _rule(web.settings.registration_limit)

    def peek(s: Session, address: str) -> int:
        return throttle.peek(s, [(rule, address)])

    return peek


def _turn_away(web: Web, address: str) -> None:
    with web.provider.db.read() as s:
        core.turn_away(s, mode=web.settings.registration, address=address, peek=_peek_for(web))


def _answer(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return json_response(body, status, {**NO_STORE, **CORS, **(headers or {})})


def _error(exc: errors.OAuthError, *, token_sent: bool) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, errors.InvalidToken):
        # RFC 6750 §3: a 401 names its scheme; with no token at all, no error code (§3.1).
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if token_sent else "Bearer"
    if isinstance(exc, core.TooManyRegistrations):
        headers["Retry-After"] = str(exc.wait)
    return _answer(exc.as_dict(), exc.status_code, headers)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip() or len(value) > 1000:
        raise errors.InvalidToken("The Authorization header must carry a Bearer token.")
    return value.strip()


async def _json_body(request: Request) -> Any:
    """The body as JSON (RFC 7591 §3.1: application/json)."""
    raw = await read_body(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise errors.InvalidClientMetadata("The body must be application/json.")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise errors.InvalidClientMetadata("The body is not valid JSON.") from None


def _in_transaction(web: Web, fn: Any, *args: Any, **kw: Any) -> Any:
    with web.provider.db.transaction() as s:
        return fn(s, *args, **kw)


async def _run(request: Request, work: Any) -> Response:
    """The shared frame: 404 when registration is off, protocol errors as JSON, an unavailable database 503."""
    web = web_of(request)
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS)
    if web.settings.registration == "off":
        return _answer({"error": "not_found", "error_description": "Client registration is not offered here."},
                       404)
    try:
        return await work(web)
    except core.RegistrationOff:
        return _answer({"error": "not_found"}, 404)
    except MalformedRequest as exc:  # a body too large
        return _answer(errors.InvalidClientMetadata(exc.description).as_dict(), exc.status_code)
    except errors.OAuthError as exc:
        return _error(exc, token_sent="authorization" in request.headers)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        failures.report(request.method, request.url.path, exc)
        return _answer(errors.TemporarilyUnavailable("The service cannot answer just now.").as_dict(), 503,
                       {"Retry-After": failures.RETRY_AFTER})


async def register(request: Request) -> Response:
    """RFC 7591 §3.1: 201 with the client's information (§3.2.1), or 400 with the error (§3.2.2)."""

    async def work(web: Web) -> Response:
        token = _bearer(request)
        if web.settings.registration == "open":
            token = None  # RFC 7591 §3: an open endpoint ignores an initial access token
        elif token is None:
            raise errors.InvalidToken("Registration needs an initial access token (Authorization: Bearer).")
        meta = core.parse_metadata(await _json_body(request))
        await run_in_threadpool(_turn_away, web, web.ip(request))
        done = await run_in_threadpool(
            _in_transaction, web, core.register, meta, mode=web.settings.registration, issuer=web.provider.issuer,
            address=web.ip(request), admit=_admit_for(web), secret_key=web.provider.secret_key, initial_token=token,
            company=web.settings.company_name)
        return _answer(done.body, 201)

    return await _run(request, work)


async def manage(request: Request) -> Response:
    """RFC 7592 §2: read (GET), replace (PUT), delete (DELETE) with the registration access token."""
    client_id = request.path_params["client_id"]

    async def work(web: Web) -> Response:
        token = _bearer(request)
        issuer, address = web.provider.issuer, web.ip(request)
        if request.method == "GET":
            done = await run_in_threadpool(_in_transaction, web, core.read, client_id, token, issuer=issuer)
            return _answer(done.body, 200)
        if request.method == "PUT":
            # The token first: someone without it learns nothing from how their body is judged.
            await run_in_threadpool(_in_transaction, web, core.read, client_id, token, issuer=issuer)
            body = await _json_body(request)
            done = await run_in_threadpool(_in_transaction, web, core.replace, client_id, token, body,
                                           issuer=issuer, address=address, secret_key=web.provider.secret_key)
            return _answer(done.body, 200)
        await run_in_threadpool(_in_transaction, web, core.delete, client_id, token, address=address)
        return Response(status_code=204, headers={**NO_STORE, **CORS})

    return await _run(request, work)
