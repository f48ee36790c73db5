"""The customer API's OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0), built from
operations.py's declarations: paths, parameters, bodies, answers, scopes (an OAuth 2 security scheme with the
authorization code flow) and the errors every operation may answer. Built once per issuer."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from hospes.api.operations import OPERATIONS, Operation
from hospes.api.schemas import SCHEMAS
from hospes.oauth.scopes import API_SCOPES, SCOPES

VERSION = "1.0.0"
BASE = "/api/v1"
SECURITY = "customer"


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _operation(op: Operation) -> dict[str, Any]:
    answers: dict[str, Any] = {
        str(op.status): {"description": "Created" if op.status == 201 else "OK",
                         "content": {"application/json": {"schema": op.answer}}},
        "401": _error("No valid access token (RFC 6750 §3.1 invalid_token); the WWW-Authenticate challenge "
                      "names the resource metadata (RFC 9728 §5.1)."),
    }
    if op.scope is not None:
        answers["403"] = _error(f"The token was not granted {op.scope} (RFC 6750 §3.1 insufficient_scope).")
    if op.params or op.body:
        answers["400"] = _error("A parameter or body the operation cannot take (invalid_request).")
    if any(p.location == "path" for p in op.params) or op.body:
        answers["404"] = _error("No such record, or one of an account the token does not reach.")
    doc: dict[str, Any] = {
        "operationId": op.id, "summary": op.summary,
        "security": [{SECURITY: [op.scope] if op.scope else []}],
        "responses": answers,
    }
    if op.params:
        doc["parameters"] = [{"name": p.name, "in": p.location, "required": p.location == "path",
                              "description": p.description, "schema": p.schema} for p in op.params]
    if op.body:
        doc["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body}"}}}}
    return doc


def document(issuer: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Customer API", "version": VERSION,
                 "description": "Act for a customer with the customer's access token, within the scopes and "
                                "client accounts the customer chose."},
        "servers": [{"url": issuer + BASE}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {SECURITY: {"type": "oauth2", "flows": {"authorizationCode": {
                "authorizationUrl": issuer + "/oauth/authorize.php", "tokenUrl": issuer + "/oauth/token.php",
                "refreshUrl": issuer + "/oauth/token.php",
                "scopes": {name: SCOPES[name].description for name in API_SCOPES}}}}},
        },
    }


@lru_cache(maxsize=8)
def document_json(issuer: str) -> bytes:
    return json.dumps(document(issuer), separators=(",", ":")).encode()
