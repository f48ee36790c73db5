"""A sample relying party: "Log in with Hospes" in forty lines, using Authlib's Starlette client.

    .venv/bin/python examples/sample_rp.py --client-id ID --client-secret SECRET

It listens on http://127.0.0.1:8001; register http://127.0.0.1:8001/cb as the credential's
redirect URI. It reads everything from the discovery document, uses PKCE (S256) and a nonce,
validates the ID token against the JWKS, and calls userinfo.
"""

from __future__ import annotations

import argparse
import html
import json
import secrets

import uvicorn
from authlib.integrations.starlette_client import OAuth
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route


def build(issuer: str, client_id: str, client_secret: str | None, port: int) -> Starlette:
    oauth = OAuth()
    oauth.register(
        "hospes", client_id=client_id, client_secret=client_secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic" if client_secret else "none"},
    )

    async def home(request: Request) -> Response:
        return HTMLResponse('<h1>Sample app</h1><p><a href="/login">Log in with Hospes</a></p>')

    async def login(request: Request) -> Response:
        return await oauth.hospes.authorize_redirect(request, f"http://127.0.0.1:{port}/cb")

    async def callback(request: Request) -> Response:
        token = await oauth.hospes.authorize_access_token(request)  # checks state, nonce, ID token
        userinfo = await oauth.hospes.userinfo(token=token)
        body = json.dumps({"id_token_claims": token["userinfo"], "userinfo": dict(userinfo)}, indent=2)
        return HTMLResponse(f"<h1>Logged in</h1><pre>{html.escape(body)}</pre>")

    return Starlette(routes=[Route("/", home), Route("/login", login), Route("/cb", callback)],
                     middleware=[Middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(build(args.issuer, args.client_id, args.client_secret, args.port), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
