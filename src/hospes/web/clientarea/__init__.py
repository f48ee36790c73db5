"""The client area: the logged-in customer's pages at WHMCS's paths, and the owner's SSO controls.

gate.py     who may see what: login, the account shown, CSRF; the shared layout's navigation
pages.py    /clientarea.php and its ?action= sections
tickets.py  /supporttickets.php, /submitticket.php
controls.py /account/sso, /account/users
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from hospes.web.clientarea.controls import account_sso, account_users
from hospes.web.clientarea.pages import clientarea
from hospes.web.clientarea.tickets import submitticket, supporttickets

# The name app.py has always routed /clientarea.php to.
home = clientarea


def routes() -> list[BaseRoute]:
    get_post = ["GET", "POST"]
    return [
        Route("/clientarea.php", clientarea),
        Route("/supporttickets.php", supporttickets),
        Route("/submitticket.php", submitticket, methods=get_post),
        Route("/account/sso", account_sso, methods=get_post),
        Route("/account/users", account_users, methods=get_post),
    ]
