"""Resource indicators (RFC 8707): which audience a request's ``resource`` names, and the scopes a token for
that audience may carry. One set of rules for the authorization endpoint and the token endpoint's grants.

A token has one audience: the customer API (``{issuer}/api/v1``, what a request without ``resource`` gets;
stored as NULL) or one of the operator's resource servers (oauth/resources.py). So that a token never carries
scopes for two audiences:

- one ``resource`` per request: several are ``invalid_target`` (RFC 8707 §2 allows several; Hospes issues
  audience-restricted tokens and would have no single audience for them);
- with a resource, the scopes are that resource's and the OpenID Connect ones (openid, profile, email,
  offline_access: the authorization server's own, for the ID token, userinfo and refresh); Hospes's other
  scopes (the customer API's, the client area's) and another resource's are ``invalid_scope``;
- without one, an operator's scope is ``invalid_scope`` (it names its resource, which the request must send).

Scope values that no one defines are still ignored (OIDC Core §3.1.2.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from hospes.oauth import errors
from hospes.oauth import scopes as scope_table
from hospes.store import resources as store
from hospes.store.resources import ResourceRow, ResourceScopeRow
from hospes.store.sql import Tx

# The customer API's path below the issuer (api/metadata.py serves its RFC 9728 metadata).
API_PATH = "/api/v1"
# The MCP server's (web/mcp.py): a resource of Hospes's own whose scopes are the customer API's, since its
# tools are the API's operations; its tokens carry the accounts chosen as the API's do.
MCP_PATH = "/mcp"
MAX_RESOURCE = 2000


def customer_api(issuer: str) -> str:
    """The customer API's resource identifier, the audience of a token asked for without ``resource``."""
    return issuer + API_PATH


def named(values: Sequence[str], issuer: str) -> str | None:
    """The identifier of the operator's resource that the ``resource`` parameter's ``values`` name, or None (no
    resource, or the customer API's own identifier). Not yet checked against the registered resources."""
    if not values:
        return None
    if len(values) > 1:
        raise errors.InvalidTarget("Ask for one resource per request.")
    value = values[0]
    # RFC 8707 §2: "an absolute URI ... MUST NOT include a fragment component".
    if (not value or len(value) > MAX_RESOURCE or "#" in value or any(c.isspace() for c in value)
            or not value.isascii() or not value.isprintable() or not urlsplit(value).scheme):
        raise errors.InvalidTarget("The resource must be an absolute URI without a fragment.")
    return None if value == customer_api(issuer) else value


def mcp_server(issuer: str) -> ResourceRow:
    """The MCP server as a resource: opaque tokens, the customer API's scopes with their consent texts."""
    scopes = tuple(ResourceScopeRow(name, scope_table.SCOPES[name].consent_text) for name in scope_table.API_SCOPES)
    return ResourceRow(0, issuer + MCP_PATH, "MCP server (AI assistants)", "opaque", None, scopes)


async def registered(tx: Tx, identifier: str, issuer: str) -> ResourceRow | None:
    """The resource ``identifier`` names: the MCP server or one of the operator's; None when there is none."""
    if identifier == issuer + MCP_PATH:
        return mcp_server(issuer)
    return await store.by_identifier(tx, identifier)


async def resolve(tx: Tx, identifier: str | None, issuer: str) -> ResourceRow | None:
    """The resource ``identifier`` names (None: the customer API), or invalid_target."""
    if identifier is None:
        return None
    row = await registered(tx, identifier, issuer)
    if row is None:
        raise errors.InvalidTarget("The resource is not one this server issues tokens for.")
    return row


async def scopes_for(tx: Tx, asked: Sequence[str], resource: ResourceRow | None) -> list[str]:
    """Of the scopes ``asked``, those a token for ``resource`` carries (in order; unknown ones left out), or
    invalid_scope for one of another audience."""
    own = {scope.name for scope in resource.scopes} if resource is not None else set()
    others = [name for name in asked if name not in scope_table.SCOPES and name not in own]
    defined = await store.scopes_named(tx, others) if others else {}
    for name in others:
        if name in defined:
            identifier = defined[name][0]
            raise errors.InvalidScope(f"The scope '{name}' is for the resource {identifier}: ask for it with "
                                      f"resource={identifier}, in a request of its own.")
    if resource is None:
        return [name for name in asked if name in scope_table.SCOPES]
    for name in asked:
        if name in scope_table.SCOPES and name not in scope_table.OIDC_SCOPES and name not in own:
            raise errors.InvalidScope(f"The scope '{name}' is not for the resource {resource.identifier}: "
                                      "ask for it in a request without that resource.")
    return [name for name in asked if name in own or name in scope_table.OIDC_SCOPES]


def at_token_endpoint(values: Sequence[str], issuer: str, granted: str | None) -> None:
    """RFC 8707 §2.2: a token request may repeat the authorization's resource (or leave it out: the grant's);
    any other is invalid_target."""
    if values and named(values, issuer) != granted:
        raise errors.InvalidTarget("The resource is not the one the authorization was given for.")
