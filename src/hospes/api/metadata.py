"""The customer API as an OAuth protected resource (RFC 9728): its identifier, where its metadata lives, and
the metadata document."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from hospes.oauth.audience import API_PATH, customer_api
from hospes.oauth.scopes import API_SCOPES

BASE = API_PATH
WELL_KNOWN = "/.well-known/oauth-protected-resource"


def resource(issuer: str) -> str:
    """The resource identifier: {issuer}/api/v1 (oauth/audience.py: the audience of a token without resource)."""
    return customer_api(issuer)


def metadata_path(issuer: str) -> str:
    """RFC 9728 §3.1: the well-known suffix inserted between the host and the identifier's path."""
    return WELL_KNOWN + urlsplit(resource(issuer)).path


def metadata_url(issuer: str) -> str:
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}{metadata_path(issuer)}"


def document(issuer: str) -> dict[str, Any]:
    # RFC 9728 §2.
    return {
        "resource": resource(issuer),
        "authorization_servers": [issuer],
        "scopes_supported": list(API_SCOPES),
        "bearer_methods_supported": ["header"],  # RFC 6750 §2.1 only
        "resource_name": "Customer API",
    }


@lru_cache(maxsize=8)
def document_json(issuer: str) -> bytes:
    return json.dumps(document(issuer), separators=(",", ":")).encode()
