"""A sample relying party: "Log in with Hospes" in a few dozen lines, using Authlib's Starlette client.

    .venv/bin/python examples/sample_rp.py --client-id ID --client-secret=SECRET [--issuer URL] [--port 8001]
        [--scope "openid profile email"]

It listens on http://127.0.0.1:8001 (``--port``); register http://127.0.0.1:<port>/cb as the credential's
redirect URI. The issuer is ``--issuer``, else ``HOSPES_ISSUER``, else http://127.0.0.1:8000. Leave out
``--client-secret`` for a public credential. It reads everything from the discovery document, uses PKCE
(S256) and a nonce, validates the ID token against the JWKS, and calls userinfo. An error (the person
pressed Cancel, a scope the credential does not hold, a failed exchange) is shown as a page.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import secrets

import httpx
import uvicorn
from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route


def build(issuer: str, client_id: str, client_secret: str | None, port: int,
          scope: str = "openid profile email") -> Starlette:
    oauth = OAuth()
    oauth.register(
        "hospes", client_id=client_id, client_secret=client_secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": scope, "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic" if client_secret else "none"},
    )

    async def home(request: Request) -> Response:
        return HTMLResponse('<h1>Sample app</h1><p><a href="/login">Log in with Hospes</a></p>')

    async def login(request: Request) -> Response:
        return await oauth.hospes.authorize_redirect(request, f"http://127.0.0.1:{port}/cb")

    def failed(error: str, description: str) -> Response:
        return HTMLResponse(f"<h1>Not logged in</h1><p><code>{html.escape(error)}</code>: {html.escape(description)}"
                            '</p><p><a href="/">Back</a></p>', status_code=400)

    async def callback(request: Request) -> Response:
        try:
            # Raises OAuthError for an error answer (RFC 6749 §4.1.2.1: access_denied when the person
            # pressed Cancel), a state that does not match, or a refused token request; checks the ID token.
            token = await oauth.hospes.authorize_access_token(request)
            userinfo = await oauth.hospes.userinfo(token=token)
        except OAuthError as exc:
            return failed(exc.error or "error", exc.description or "The login did not complete.")
        except httpx.HTTPError as exc:
            return failed("unreachable", f"Hospes could not be reached ({type(exc).__name__}).")
        body = json.dumps({"id_token_claims": token["userinfo"], "userinfo": dict(userinfo)}, indent=2)
        return HTMLResponse(f"<h1>Logged in</h1><pre>{html.escape(body)}</pre>")

    return Starlette(routes=[Route("/", home), Route("/login", login), Route("/cb", callback)],
                     middleware=[Middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", default=os.environ.get("HOSPES_ISSUER") or "http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--scope", default="openid profile email")
    args = parser.parse_args()
    app = build(args.issuer, args.client_id, args.client_secret, args.port, args.scope)
    uvicorn.run(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
