"""Resource servers of the operator's own: register, change, remove, list; one set of rules for the CLI, the
admin API and the admin pages, each change audited.

A resource is named by its identifier, an absolute URI without a fragment (RFC 8707 §2), which clients send
as ``resource=`` and which becomes its tokens' audience. Its scopes are its own: their names are unique
across every resource and apart from Hospes's built-in scopes (oauth/scopes.py), so a scope names its
resource and the consent page has one text for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from hospes import audit
from hospes.clock import now
from hospes.oauth import scopes as scope_table
from hospes.store import resources as store
from hospes.store.grants import revoke_resource_grants
from hospes.store.resources import ResourceRow, ResourceScopeRow
from hospes.store.sql import drive, session_tx
from hospes.store.values import TextRefused, check_text, forbidden_character

TOKEN_FORMATS = ("opaque", "jwt")
# The acr values a resource may require (accounts/assurance.py: "1" password, "2" second factor).
REQUIRABLE_ACR = ("1", "2")
MAX_IDENTIFIER = 2000
MAX_SCOPE_NAME = 128
MAX_DESCRIPTION = 500
LOOPBACK = ("localhost", "127.0.0.1", "::1")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# Paths Hospes serves as resources itself (the customer API, the MCP server): not for the operator to take.
RESERVED_PATHS = ("/api/v1", "/mcp")


class ResourceError(ValueError):
    """Bad input for a resource; the message says which value and why."""


def check_identifier(identifier: str, issuer: str) -> str:
    """RFC 8707 §2: an absolute URI, no fragment (and, as it recommends, no query). https, or http on a
    loopback host (as redirect URIs, RFC 8252 §7.3)."""
    value = identifier.strip()
    if not value or len(value) > MAX_IDENTIFIER:
        raise ResourceError(f"The identifier must be an absolute URI of at most {MAX_IDENTIFIER} characters.")
    if any(c.isspace() for c in value) or forbidden_character(value) is not None:
        raise ResourceError("The identifier must not contain spaces or control characters.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise ResourceError("The identifier must be an absolute URI.") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ResourceError("The identifier must be an absolute https URI (RFC 8707 §2).")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise ResourceError("The identifier must use https (http only for loopback hosts).")
    if "#" in value:
        raise ResourceError("The identifier must not contain a fragment (RFC 8707 §2).")
    if parts.query:
        raise ResourceError("The identifier should not contain a query (RFC 8707 §2).")
    if any(value.rstrip("/") == issuer + path for path in RESERVED_PATHS):
        raise ResourceError("That identifier is Hospes's own resource.")
    return value


def check_scopes(pairs: Iterable[tuple[str, str]]) -> list[ResourceScopeRow]:
    scopes: dict[str, ResourceScopeRow] = {}
    for name, description in pairs:
        name = name.strip()
        if not SCOPE_TOKEN.fullmatch(name) or len(name) > MAX_SCOPE_NAME:
            raise ResourceError(f"The scope name {name!r} must be 1 to {MAX_SCOPE_NAME} characters of "
                                "RFC 6749 §3.3 (no spaces, quotes or backslashes).")
        if name in scope_table.SCOPES:
            raise ResourceError(f"The scope {name!r} is one of Hospes's own scopes.")
        if name in scopes:
            raise ResourceError(f"The scope {name!r} is given twice.")
        try:
            text = check_text(description.strip(), "description")
        except TextRefused as exc:
            raise ResourceError(f"The description of {name!r} {exc}.") from exc
        if not text or len(text) > MAX_DESCRIPTION:
            raise ResourceError(f"The scope {name!r} needs a description of at most {MAX_DESCRIPTION} characters "
                                "(what the consent page says it allows).")
        scopes[name] = ResourceScopeRow(name, text)
    if not scopes:
        raise ResourceError("A resource needs at least one scope.")
    return list(scopes.values())


def parse_scope_option(value: str) -> tuple[str, str]:
    """``NAME=DESCRIPTION`` (the CLI's ``--scope``)."""
    name, sep, description = value.partition("=")
    if not sep:
        raise ResourceError(f"--scope {value!r}: use NAME=DESCRIPTION.")
    return name, description


def _name(value: str) -> str:
    try:
        text = check_text(value.strip(), "name")
    except TextRefused as exc:
        raise ResourceError(f"The name {exc}.") from exc
    if not text or len(text) > 255:
        raise ResourceError("The name must be 1 to 255 characters.")
    return text


def _format(value: str) -> str:
    if value not in TOKEN_FORMATS:
        raise ResourceError(f"The token format must be one of: {', '.join(TOKEN_FORMATS)}.")
    return value


def _acr(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value not in REQUIRABLE_ACR:
        raise ResourceError(f"The required acr must be one of: {', '.join(REQUIRABLE_ACR)}.")
    return value


def _taken(s: Session, scopes: Sequence[ResourceScopeRow], own: str | None) -> None:
    """Scope names are unique across resources: refuse one another resource (not ``own``) defines."""
    owners = drive(store.scopes_named(session_tx(s), [scope.name for scope in scopes]))
    for name, (identifier, _) in owners.items():
        if identifier != own:
            raise ResourceError(f"The scope {name!r} belongs to the resource {identifier}.")


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    """The audit entry's details: ``token_format`` as ``format`` (audit.py leaves out any field named like a
    token)."""
    return {("format" if key == "token_format" else key): value for key, value in values.items()}


def add(s: Session, *, issuer: str, identifier: str, name: str, scopes: Iterable[tuple[str, str]],
        token_format: str = "opaque", require_acr: str | None = None, actor: str | None,
        ip: str = "") -> ResourceRow:
    identifier = check_identifier(identifier, issuer)
    checked = check_scopes(scopes)
    values: dict[str, Any] = {"name": _name(name), "token_format": _format(token_format),
                              "require_acr": _acr(require_acr)}
    tx = session_tx(s)
    if drive(store.by_identifier(tx, identifier)) is not None:
        raise ResourceError(f"A resource with the identifier {identifier} exists already.")
    _taken(s, checked, None)
    resource_id = drive(store.insert(tx, identifier=identifier, scopes=checked, at=now(), **values))
    audit.entry(s, actor, "resource.add", f"resource:{resource_id}", ip=ip, identifier=identifier,
                scopes=[scope.name for scope in checked], **_audited(values))
    row = drive(store.by_id(tx, resource_id))
    assert row is not None
    return row


def update(s: Session, resource_id: int, *, name: str | None = None, scopes: Iterable[tuple[str, str]] | None = None,
           token_format: str | None = None, require_acr: Any = ..., actor: str | None, ip: str = "") -> ResourceRow:
    """Change what is given (``require_acr=None`` removes the requirement; leave it out to keep it)."""
    tx = session_tx(s)
    row = drive(store.by_id(tx, resource_id))
    if row is None:
        raise ResourceError("Resource not found.")
    values: dict[str, Any] = {
        "name": _name(name) if name is not None else row.name,
        "token_format": _format(token_format) if token_format is not None else row.token_format,
        "require_acr": row.require_acr if require_acr is ... else _acr(require_acr),
    }
    drive(store.update(tx, resource_id, at=now(), **values))
    changed: dict[str, Any] = dict(values)
    if scopes is not None:
        checked = check_scopes(scopes)
        _taken(s, checked, row.identifier)
        drive(store.replace_scopes(session_tx(s), resource_id, checked))
        changed["scopes"] = [scope.name for scope in checked]
    audit.entry(s, actor, "resource.update", f"resource:{resource_id}", ip=ip, identifier=row.identifier,
                **_audited(changed))
    updated = drive(store.by_id(session_tx(s), resource_id))
    assert updated is not None
    return updated


def delete(s: Session, resource_id: int, *, actor: str | None, ip: str = "") -> None:
    """Remove a resource; the grants given for it are revoked, so its tokens stop working everywhere."""
    tx = session_tx(s)
    row = drive(store.by_id(tx, resource_id))
    if row is None:
        raise ResourceError("Resource not found.")
    drive(revoke_resource_grants(tx, row.identifier, now()))
    drive(store.delete(tx, resource_id))
    audit.entry(s, actor, "resource.delete", f"resource:{resource_id}", ip=ip, identifier=row.identifier)


def get(s: Session, resource_id: int) -> ResourceRow | None:
    return drive(store.by_id(session_tx(s), resource_id))


def every(s: Session) -> list[ResourceRow]:
    return drive(store.every(session_tx(s)))


def as_dict(row: ResourceRow) -> dict[str, Any]:
    """The shape the CLI's --json and the admin API print."""
    return {
        "resourceId": row.id,
        "identifier": row.identifier,
        "name": row.name,
        "tokenFormat": row.token_format,
        "requireAcr": row.require_acr,
        "scopes": [{"name": scope.name, "description": scope.description} for scope in row.scopes],
    }
