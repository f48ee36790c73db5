"""Hospes's own OAuth protected resources (RFC 9728): the customer API ({issuer}/api/v1) and the MCP server
({issuer}/mcp). For each: its identifier, where its metadata lives, and the metadata document."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from hospes.oauth.audience import API_PATH, MCP_PATH
from hospes.oauth.scopes import API_SCOPES

BASE = API_PATH
MCP = MCP_PATH
NAMES = {BASE: "Customer API", MCP: "MCP server"}
WELL_KNOWN = "/.well-known/oauth-protected-resource"


def resource(issuer: str, base: str = BASE) -> str:
    """The resource identifier: {issuer}/api/v1 (oauth/audience.py: the audience of a token without resource)
    or {issuer}/mcp."""
    return issuer + base


def metadata_path(issuer: str, base: str = BASE) -> str:
    """RFC 9728 §3.1: the well-known suffix inserted between the host and the identifier's path."""
    return WELL_KNOWN + urlsplit(resource(issuer, base)).path


def metadata_url(issuer: str, base: str = BASE) -> str:
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}{metadata_path(issuer, base)}"


def document(issuer: str, base: str = BASE) -> dict[str, Any]:
    # RFC 9728 §2. Both resources take the customer API's scopes: the MCP server's tools are its operations.
    return {
        "resource": resource(issuer, base),
        "authorization_servers": [issuer],
        "scopes_supported": list(API_SCOPES),
        "bearer_methods_supported": ["header"],  # RFC 6750 §2.1 only
        "resource_name": NAMES[base],
    }


@lru_cache(maxsize=8)
def document_json(issuer: str, base: str = BASE) -> bytes:
    return json.dumps(document(issuer, base), separators=(",", ":")).encode()
