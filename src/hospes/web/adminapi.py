"""POST /includes/api.php: parse the form, hand it to the admin API, render WHMCS's envelope."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

import hospes.adminapi.commands  # noqa: F401  (registers the commands)
from hospes.adminapi import dispatch, envelope
from hospes.oauth import errors
from hospes.store.unavailable import is_unavailable
from hospes.web import failures
from hospes.web.context import web_of
from hospes.web.http import NO_STORE, read_form


async def api(request: Request) -> Response:
    web = web_of(request)
    ip = web.ip(request)
    try:
        if request.method != "POST":
            raise errors.InvalidRequest("The API accepts POST only.")
        form = await read_form(request)
    except errors.OAuthError as exc:
        body, ctype = envelope.render(envelope.error(exc.description or "Invalid request"), "json")
        return Response(body, status_code=400, media_type=ctype, headers=NO_STORE)
    responsetype = (form.get("responsetype") or ["json"])[0].lower()
    if responsetype not in envelope.RESPONSE_TYPES:
        responsetype = "json"
    try:
        result, status = await run_in_threadpool(dispatch.handle, web.provider, form, ip)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        # The database is unavailable: WHMCS's envelope, 503 with Retry-After (RFC 9110 §15.6.4); nothing changed.
        request_id = failures.report(request.method, request.url.path, exc)
        body, ctype = envelope.render(envelope.error("The service is temporarily unavailable. Try again shortly."),
                                      responsetype)
        return Response(body, status_code=503, media_type=ctype,
                        headers={**NO_STORE, "Retry-After": failures.RETRY_AFTER, "X-Request-Id": request_id})
    body, ctype = envelope.render(result, responsetype)
    return Response(body, status_code=status, media_type=ctype, headers=NO_STORE)
