"""The customer's account security pages, inside the client area's layout.

applications.py  /account/applications (+ .json): connected applications, "Revoke access"
security.py      /account/security: two-factor login (enrol, backup codes, turn off)
sessions.py      /account/sessions: active sessions, "Sign out", "Sign out everywhere else"
password.py      /account/password (change), /password/reset and /password/reset/<token> (reset by mail)
email.py         /account/email/verification (send a link), /email/verify?token=… (the link: verify the address)
second_factor.py the code step of a login, for the OAuth login and the client area's login
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from hospes.accounts import reset
from hospes.web.account import applications, email, password, security, sessions


def routes() -> list[BaseRoute]:
    get_post = ["GET", "POST"]
    return [
        Route("/account/applications", applications.applications, methods=get_post),
        Route("/account/applications.json", applications.applications_json),
        Route("/account/security", security.security, methods=get_post),
        Route("/account/sessions", sessions.sessions_page, methods=get_post),
        Route("/account/password", password.change_password, methods=get_post),
        Route("/password/reset", password.reset_request, methods=get_post),
        # The token in the path, which the access log writes without it (web/security.py).
        Route(reset.LINK_PATH + "{token}", password.reset_form, methods=get_post),
        Route("/account/email/verification", email.send_verification, methods=get_post),
        # The token in the query string, which the access log never writes (web/security.py).
        Route("/email/verify", email.verify, methods=get_post),
    ]
