"""The admin area at ``/admin``: login, OpenID Connect credentials, resource servers, API credentials and roles,
clients and their people (customers.py), admins, signing keys, and the audit log. Mounted by ``hospes.app`` as
``Mount("/admin", routes=admin.routes())``."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from hospes.web.admin import admins, apicreds, audit, auth, clients, credentials, customers, keys, resources


def routes() -> list[BaseRoute]:
    get_post = ["GET", "POST"]
    return [
        Route("/", auth.dashboard),
        Route("/login", auth.login, methods=get_post),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/oauth", credentials.index),
        Route("/oauth/new", credentials.new, methods=get_post),
        Route("/oauth/{id:int}", credentials.manage, methods=get_post),
        Route("/oauth/{id:int}/reset", credentials.reset_secret, methods=get_post),
        Route("/oauth/{id:int}/delete", credentials.delete, methods=get_post),
        Route("/resources", resources.index),
        Route("/resources/new", resources.new, methods=get_post),
        Route("/resources/{id:int}", resources.manage, methods=get_post),
        Route("/resources/{id:int}/delete", resources.delete, methods=get_post),
        Route("/api", apicreds.index),
        Route("/api/roles", apicreds.create_role, methods=["POST"]),
        Route("/api/roles/{id:int}", apicreds.edit_role, methods=get_post),
        Route("/api/roles/{id:int}/delete", apicreds.delete_role, methods=get_post),
        Route("/api/credentials", apicreds.create_credential, methods=["POST"]),
        Route("/api/credentials/{id:int}/revoke", apicreds.revoke, methods=get_post),
        Route("/clients", clients.index),
        Route("/clients/{id:int}", clients.detail, methods=get_post),
        Route("/users/{id:int}", customers.detail, methods=get_post),
        Route("/users/{id:int}/{step}", customers.step, methods=["POST"]),
        Route("/admins", admins.index, methods=get_post),
        Route("/admins/{id:int}", admins.detail, methods=get_post),
        Route("/admins/{id:int}/disable", admins.disable, methods=["POST"]),
        Route("/admins/{id:int}/enable", admins.enable, methods=["POST"]),
        Route("/admins/{id:int}/password", admins.reset_password, methods=get_post),
        Route("/keys", keys.index),
        Route("/keys/rotate", keys.rotate, methods=get_post),
        Route("/audit", audit.index),
    ]
