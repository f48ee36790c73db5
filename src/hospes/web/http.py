"""Small HTTP helpers: bounded form parsing, the caller's address, JSON answers, redirects."""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import Response

from hospes.oauth import errors

MAX_BODY = 64 * 1024
Params = dict[str, list[str]]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class MalformedRequest(errors.InvalidRequest):
    """A query or form that cannot be read: not UTF-8 (``%ff``, a lone surrogate such as ``%ED%A0%80``), a NUL,
    too many fields, too large. Every page answers it with one 400 page (context.unreadable_request, registered
    in app.py); the OAuth endpoints with RFC 6749 §5.2 JSON; the admin API with WHMCS's envelope."""


class BodyTooLarge(MalformedRequest):
    status_code = 413


def parse_params(raw: str) -> Params:
    """``application/x-www-form-urlencoded`` into name -> values, blank values kept."""
    try:
        # errors="strict": invalid UTF-8 and encoded surrogates (UTF-8 forbids them, RFC 3629 §3) are refused.
        parsed = parse_qs(raw, keep_blank_values=True, max_num_fields=200, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest("The request parameters could not be parsed.") from None
    # RFC 6749 Appendix A: no parameter may hold NUL (and PostgreSQL text cannot store one).
    if "\x00" in raw or any("\x00" in k or any("\x00" in v for v in vs) for k, vs in parsed.items()):
        raise MalformedRequest("The request parameters must not contain NUL characters.")
    return parsed


async def read_body(request: Request) -> bytes:
    """The request's body, at most MAX_BODY bytes: a larger one (announced or sent) is BodyTooLarge."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise BodyTooLarge("The request body is too large.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BodyTooLarge("The request body is too large.")
    return body


async def read_form(request: Request, *, required: bool = True) -> Params:
    """The body of a form post, at most MAX_BODY bytes (RFC 6749 §3.2: urlencoded only)."""
    if request.method != "POST":
        return {}
    return form_of(request.headers.get("content-type", ""), await read_body(request), required=required)


def form_of(content_type: str, body: bytes, *, required: bool = True) -> Params:
    """Parse a posted body; only ``application/x-www-form-urlencoded`` is a form here."""
    if not body:
        return {}
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        if required:
            raise MalformedRequest("The body must be application/x-www-form-urlencoded.")
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("The request body is not UTF-8.") from None
    return parse_params(text)


def query_params(request: Request) -> Params:
    """The query string, by the same rules as a form (``parse_params``)."""
    return parse_params(request.url.query)


def first(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def number(value: str | None, maximum: int) -> int | None:
    """A whole number 0..maximum from a parameter (a page number, a count); None when it is not one. ASCII
    digits only: ``"²".isdigit()`` holds, and int() refuses it. Ids go through store.values.row_id."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > len(str(maximum)):
        return None
    n = int(value)
    return n if n <= maximum else None


def client_ip(request: Request, trusted: tuple[Any, ...]) -> str:
    """The caller's address; X-Forwarded-For is believed only from trusted proxies."""
    return scope_client_ip(request.scope, trusted)


def from_trusted_proxy(peer: str, trusted: tuple[Any, ...]) -> bool:
    """Whether the connection's peer is one of HOSPES_TRUSTED_PROXIES."""
    if not trusted or not peer:
        return False
    try:
        return any(ipaddress.ip_address(peer) in net for net in trusted)
    except ValueError:
        return False


def scope_client_ip(scope: Any, trusted: tuple[Any, ...]) -> str:
    """``client_ip`` from an ASGI scope (the access log, before any Request exists)."""
    client = scope.get("client")
    peer = client[0] if client else ""
    if not from_trusted_proxy(peer, trusted):
        return peer
    forwarded = ",".join(v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for")
    # Walk from the right: the first address that is not a trusted proxy is the client.
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        try:
            addr = ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not any(addr in net for net in trusted):
            return str(addr)
    return peer


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status_code=status, media_type="application/json", headers=headers)


def add_params(uri: str, params: dict[str, str]) -> str:
    """Add to a redirect URI, keeping its own query (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
