"""The second step of a login for a user with two-factor login on: the password was right, now the code.

No session exists yet. The page carries a signed, short-lived blob naming the user (and bound to this
browser's CSRF token, so it cannot be replayed from another browser); a correct code (from the app, or an
unused backup code) starts the session (accounts/login.py ``second_factor``). Wrong codes count against
the user (``twofactor.SECOND_FACTOR``). Both the OAuth login (web/authorize.py) and the
client area's login (web/login.py) use this; each adds its own hidden fields (request_hash, next).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import lru_cache

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hospes.accounts import login as accounts_login
from hospes.accounts import twofactor
from hospes.clock import epoch
from hospes.i18n import N_, _
from hospes.web.context import SESSION_COOKIE, Web
from hospes.web.http import Params, first

FIELD = "second_factor"
# Seconds the code page stays valid after the password was accepted.
MAX_AGE = 300
WRONG = N_("That code is not correct, or it has already been used. Enter the code your authenticator app shows "
         "now, or one of your backup codes.")


@lru_cache(maxsize=4)
def keys_for(secret_key: bytes) -> twofactor.Keys:
    return twofactor.Keys(secret_key)


def keys(web: Web) -> twofactor.Keys:
    return keys_for(web.secret_key)


def pending(web: Web, request: Request, user_id: int) -> str:
    """The blob that says: this user gave the right password, in this browser, just now."""
    csrf_token, _ = web.csrf_for(request)
    return web.sign("2fa", {"u": user_id, "exp": epoch() + MAX_AGE, "c": csrf_token})


def page(web: Web, request: Request, *, action: str, blob: str, hidden: dict[str, str], error: str | None = None,
         status: int = 200, app_name: str | None = None, app_logo: str | None = None) -> Response:
    """The code page. ``hidden``: the fields the caller needs back (request_hash, next)."""
    return web.render_form(request, "account/second_factor.html", status=status, action=action, blob=blob,
                           field=FIELD, hidden=hidden, error=error, app_name=app_name, app_logo=app_logo)


@dataclass(frozen=True)
class Outcome:
    token: str | None = None  # the new session: logged in
    error: str | None = None  # show the page again with this message
    status: int = 200
    expired: bool = False  # the blob is gone or stale: back to the password


def _verify(web: Web, request: Request, user_id: int, code: str) -> Outcome:
    attempt = accounts_login.Attempt(login="", password="", ip=web.ip(request),
                                     user_agent=request.headers.get("user-agent", ""),
                                     old_session=request.cookies.get(SESSION_COOKIE))
    out = accounts_login.second_factor(web.provider.db, web.settings.session_ttl, keys(web), user_id, code, attempt)
    if isinstance(out, accounts_login.Expired):
        return Outcome(expired=True)
    if isinstance(out, accounts_login.Throttled):
        return Outcome(status=429, error=accounts_login.wrong_codes_message(out.wait))
    if isinstance(out, accounts_login.Wrong):
        return Outcome(status=401, error=_(WRONG))
    return Outcome(token=out.token)


def blob_of(form: Params) -> str | None:
    return first(form, FIELD)


async def complete(web: Web, request: Request, form: Params) -> Outcome:
    """Check the code posted with the page (the caller has checked the CSRF token)."""
    data = web.unsign("2fa", blob_of(form))
    if (data is None or not isinstance(data.get("u"), int) or not isinstance(data.get("exp"), int)
            or data["exp"] < epoch()):
        return Outcome(expired=True)
    # As bytes: compare_digest refuses str with non-ASCII characters.
    if not hmac.compare_digest(str(data.get("c", "")).encode(), (first(form, "token") or "").encode()):
        return Outcome(expired=True)
    code = (first(form, "code") or first(form, "backup_code") or "").strip()[:64]
    if not code:
        return Outcome(status=400, error=_("Enter the code from your authenticator app, or a backup code."))
    return await run_in_threadpool(_verify, web, request, data["u"], code)


EXPIRED = N_("That took too long, or the page was opened elsewhere. Please log in again.")
