"""A resource server of your own that accepts Hospes's JWT access tokens (RFC 9068), verified offline.

    .venv/bin/python examples/resource_server/resource_server.py --issuer https://id.example.com \\
        --resource https://notes.example.com --route /notes=notes:read --route /admin=notes:admin \\
        [--require-acr 2] [--jwks-refetch-after 30] [--host 127.0.0.1] [--port 8002]

(or HOSPES_ISSUER, RESOURCE_IDENTIFIER, RESOURCE_ROUTES="/notes=notes:read,/admin=notes:admin",
RESOURCE_REQUIRE_ACR). Register the resource with ``hospes resources add --identifier <resource> --scope
notes:read=... --token-format jwt``. The issuer's keys come from its discovery document's ``jwks_uri``; each
request is checked against them with no call to Hospes. Each route answers the token's sub, client_id,
scope and acr as JSON: replace ``show`` with your own handler. README.md beside it says more.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ALGORITHMS = ["RS256", "ES256"]  # what Hospes signs with; never "none" nor a shared-secret HS*
TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §4: the typ of an access token (an ID token's is "JWT")
LEEWAY = 30  # seconds of clock difference allowed on exp, nbf and iat
REFETCH_AFTER = 30.0  # by default, at most one JWKS fetch per 30 s (a kid we do not hold, the max-age passed)
DEFAULT_MAX_AGE = 300  # when the JWKS answer gives no Cache-Control max-age
MAX_TOKEN = 8192

log = logging.getLogger("resource_server")


class Denied(Exception):
    """An RFC 6750 §3 answer: the status, the error code (none when no token came) and the challenge's extras."""

    def __init__(self, status: int, error: str | None, description: str = "", **params: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description, self.params = status, error, description, params


def invalid(description: str) -> Denied:
    return Denied(401, "invalid_token", description)  # RFC 6750 §3.1


class IssuerKeys:
    """The issuer's public keys: found through its discovery document, kept for the JWKS's max-age, and read
    again sooner when a token names a kid not held (the issuer rotated its keys), but at most once every
    ``refetch_after`` seconds, so a flood of tokens with made-up kids does not become a flood on the issuer."""

    def __init__(self, issuer: str, http: httpx.AsyncClient, refetch_after: float = REFETCH_AFTER) -> None:
        self.issuer, self.http, self.refetch_after = issuer, http, refetch_after
        self.keys = KeySet([])
        self.jwks_uri: str | None = None
        self.expires = 0.0  # monotonic time the held keys go stale
        self.tried = -refetch_after  # monotonic time of the last fetch, successful or not
        self.lock = asyncio.Lock()

    def held(self, kid: str) -> Any:
        return next((k for k in self.keys.keys if k.kid == kid), None)

    async def key(self, kid: str) -> Any:
        """The issuer's key named ``kid``, or None."""
        now = time.monotonic()
        if now >= self.expires or (self.held(kid) is None and now - self.tried >= self.refetch_after):
            async with self.lock:
                if time.monotonic() - self.tried >= self.refetch_after or not self.jwks_uri:
                    self.tried = time.monotonic()
                    try:
                        await self.fetch()
                    except Exception as exc:  # unreachable, an error status, not JSON, not a JWKS
                        # Keep the keys held: a brief outage of the issuer does not stop this server.
                        log.warning("JWKS not read, keeping the keys held: %r", exc)
        return self.held(kid)

    async def fetch(self) -> None:
        if self.jwks_uri is None:
            # OpenID Connect Discovery §4: the issuer without a final slash, then the well-known path.
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            meta = (await self.http.get(url)).raise_for_status().json()
            if meta.get("issuer") != self.issuer:  # OpenID Connect Discovery §4.3
                raise ValueError(f"discovery names the issuer {meta.get('issuer')!r}")
            self.jwks_uri = meta["jwks_uri"]
        r = (await self.http.get(self.jwks_uri)).raise_for_status()
        self.keys = KeySet.import_key_set(r.json())
        max_age = next((int(d.split("=", 1)[1]) for d in r.headers.get("cache-control", "").split(",")
                        if d.strip().startswith("max-age=") and d.split("=", 1)[1].isdigit()), DEFAULT_MAX_AGE)
        self.expires = time.monotonic() + max_age


@dataclass(frozen=True)
class Config:
    issuer: str
    resource: str  # this server's resource identifier: the tokens' aud
    routes: dict[str, str]  # path -> the scope it needs
    require_acr: int | None = None  # e.g. 2: a second factor (Hospes's acr values are "0", "1", "2")
    refetch_after: float = REFETCH_AFTER

    @property
    def metadata_path(self) -> str:
        # RFC 9728 §3.1: the well-known suffix goes between the host and the identifier's path.
        return "/.well-known/oauth-protected-resource" + urlsplit(self.resource).path.rstrip("/")

    @property
    def metadata_url(self) -> str:
        parts = urlsplit(self.resource)
        return f"{parts.scheme}://{parts.netloc}{self.metadata_path}"


class Verifier:
    def __init__(self, config: Config, keys: IssuerKeys) -> None:
        self.config, self.keys = config, keys

    async def verify(self, request: Request, scope: str) -> dict[str, Any]:
        """The claims of the request's access token, checked as RFC 9068 §4 says, or Denied."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Denied(401, None)  # RFC 6750 §3.1: no token, no error code
        token = token.strip()
        try:
            if len(token) > MAX_TOKEN:
                raise ValueError("too long")
            header = jws.extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            raise invalid("The access token is not a JWT.") from exc
        if header.get("alg") not in ALGORITHMS:
            raise invalid("The access token's algorithm is not accepted.")
        if str(header.get("typ", "")).lower() not in TYPES:
            raise invalid("The token is not an access token.")  # an ID token, say
        key = await self.keys.key(str(header.get("kid", "")))
        if key is None:
            raise invalid("The access token is signed by an unknown key.")
        try:
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=ALGORITHMS).claims
            JWTClaimsRegistry(
                leeway=LEEWAY,
                iss={"essential": True, "value": self.config.issuer},
                aud={"essential": True, "value": self.config.resource},  # a string, or a list holding it
                exp={"essential": True}, iat={"essential": True}, sub={"essential": True},
                client_id={"essential": True}, jti={"essential": True},
            ).validate(claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise invalid(f"The access token is not valid here ({exc.__class__.__name__}).") from exc
        if scope not in str(claims.get("scope", "")).split():
            raise Denied(403, "insufficient_scope", f"This needs the scope {scope}.", scope=scope)  # RFC 6750 §3.1
        required = self.config.require_acr
        if required is not None and _level(claims.get("acr")) < required:
            # RFC 9470 §3: the client asks again with acr_values, and the person takes the second factor.
            raise Denied(401, "insufficient_user_authentication", "A stronger login is needed.",
                         acr_values=str(required))
        return claims

    def challenge(self, denied: Denied) -> Response:
        params = {**({"error": denied.error} if denied.error else {}),
                  **({"error_description": denied.description} if denied.description else {}),
                  **denied.params, "resource_metadata": self.config.metadata_url}  # RFC 9728 §5.1
        header = "Bearer " + ", ".join(f'{k}="{v}"' for k, v in params.items())
        body = {"error": denied.error, "error_description": denied.description} if denied.error else {}
        return JSONResponse(body, denied.status, headers={"WWW-Authenticate": header})


def _level(acr: object) -> int:
    return int(acr) if isinstance(acr, str) and acr.isdigit() else -1


Handler = Callable[[Request, dict[str, Any]], Awaitable[Response]]


async def show(request: Request, claims: dict[str, Any]) -> Response:
    return JSONResponse({"path": request.url.path, "sub": claims["sub"], "client_id": claims["client_id"],
                         "scope": claims["scope"], "acr": claims.get("acr")})


def build(config: Config, handler: Handler = show) -> Starlette:
    http = httpx.AsyncClient(timeout=10)
    verifier = Verifier(config, IssuerKeys(config.issuer, http, config.refetch_after))

    def protected(scope: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                claims = await verifier.verify(request, scope)
            except Denied as denied:
                return verifier.challenge(denied)
            return await handler(request, claims)
        return endpoint

    async def metadata(request: Request) -> Response:
        return JSONResponse({  # RFC 9728 §2
            "resource": config.resource,
            "authorization_servers": [config.issuer],
            "scopes_supported": sorted(set(config.routes.values())),
            "bearer_methods_supported": ["header"],  # RFC 6750 §2.1 only
        })

    routes = [Route(config.metadata_path, metadata)]
    routes += [Route(path, protected(scope)) for path, scope in config.routes.items()]
    return Starlette(routes=routes)


def main() -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="A resource server accepting Hospes's JWT access tokens.")
    parser.add_argument("--issuer", default=env("HOSPES_ISSUER"), help="the Hospes issuer URL")
    parser.add_argument("--resource", default=env("RESOURCE_IDENTIFIER"), help="this server's resource identifier")
    parser.add_argument("--route", action="append", metavar="PATH=SCOPE", help="a route and the scope it needs")
    parser.add_argument("--require-acr", type=int, default=env("RESOURCE_REQUIRE_ACR"))
    parser.add_argument("--jwks-refetch-after", type=float, default=REFETCH_AFTER, metavar="SECONDS")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    specs = args.route or [r for r in env("RESOURCE_ROUTES", "").split(",") if r]
    if not (args.issuer and args.resource and specs and all("=" in s for s in specs)):
        parser.error("--issuer, --resource and at least one --route PATH=SCOPE are needed")
    routes = dict(spec.split("=", 1) for spec in specs)
    config = Config(args.issuer, args.resource, routes, args.require_acr, args.jwks_refetch_after)
    uvicorn.run(build(config), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
