"""AddResourceServer, GetResourceServers, UpdateResourceServer, DeleteResourceServer: Hospes's own commands for
the operator's resource servers (WHMCS has none). The rules and the audit entries are ``hospes.oauth.resources``'
(the same the CLI and the admin pages use); this module maps the parameters onto them.

Parameters: ``resource`` (the identifier, RFC 8707's name for it: ``identifier`` is the API credential's),
``name``, ``tokenFormat`` (opaque or jwt), ``requireAcr`` (1, 2, or empty for none), ``resourceId``, and the
scopes as a PHP keyed array, ``scopes[NAME]=DESCRIPTION`` (what PHP's http_build_query makes of
``['scopes' => ['panel:read' => 'Read your panel']]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from hospes.adminapi.dispatch import ApiError, Call, command
from hospes.oauth import resources
from hospes.oauth.resources import ResourceError
from hospes.store.values import row_id

NOT_FOUND = "Resource not found."


def _scopes(call: Call) -> Sequence[tuple[str, str]] | None:
    """The scopes given, or None when the call gives none (an update keeps them)."""
    if call.get("scopes") is not None:
        raise ApiError("Give the scopes as scopes[NAME]=DESCRIPTION, one field per scope.")
    return call.keyed("scopes") or None


def _resource_id(call: Call) -> int:
    raw = call.get("resourceId") or call.get("resourceid")
    if raw in (None, ""):
        raise ApiError("A resourceId is required.")
    resource_id = row_id(raw)
    if resource_id is None:
        raise ApiError(NOT_FOUND)
    return resource_id


def _token_format(call: Call) -> str | None:
    return call.get("tokenFormat") or call.get("tokenformat")


def _require_acr(call: Call) -> str | None:
    return call.get("requireAcr") if "requireAcr" in call.params else call.get("requireacr")


@command("AddResourceServer")
def add_resource_server(s: Session, call: Call) -> dict[str, Any]:
    try:
        row = resources.add(s, issuer=call.provider.settings.issuer, identifier=call.get("resource") or "",
                            name=call.get("name") or "", scopes=_scopes(call) or [],
                            token_format=_token_format(call) or "opaque", require_acr=_require_acr(call),
                            actor=call.actor, ip=call.ip)
    except ResourceError as exc:
        raise ApiError(str(exc)) from None
    return resources.as_dict(row)


@command("GetResourceServers")
def get_resource_servers(s: Session, call: Call) -> dict[str, Any]:
    rows = [resources.as_dict(row) for row in resources.every(s)]
    return {"totalresults": len(rows), "resources": rows}


@command("UpdateResourceServer")
def update_resource_server(s: Session, call: Call) -> dict[str, Any]:
    resource_id = _resource_id(call)
    fields: dict[str, Any] = {"name": call.get("name"), "token_format": _token_format(call),
                              "scopes": _scopes(call)}
    if "requireAcr" in call.params or "requireacr" in call.params:
        fields["require_acr"] = _require_acr(call) or None
    try:
        row = resources.update(s, resource_id, actor=call.actor, ip=call.ip, **fields)
    except ResourceError as exc:
        raise ApiError(str(exc)) from None
    return resources.as_dict(row)


@command("DeleteResourceServer")
def delete_resource_server(s: Session, call: Call) -> dict[str, Any]:
    resource_id = _resource_id(call)
    try:
        resources.delete(s, resource_id, actor=call.actor, ip=call.ip)
    except ResourceError as exc:
        raise ApiError(str(exc)) from None
    return {"resourceId": resource_id}
